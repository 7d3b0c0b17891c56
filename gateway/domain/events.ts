// Events for the backend services (the systems of record), produced where the state changes and
// kept in the outbox until delivered (gateway/domain/delivery.ts). No Fastify and no Redis here.
//
// One step, as far as the store allows. A state change and its event live under different hash
// tags (the record's, the outbox partition's), so on Redis Cluster no script can write both.
// Instead every event has a deterministic id (its type, what it is about, and which change of
// that thing), so appending it twice is harmless: the backend sees the same Idempotency-Key.
// Two ways to produce one, by who waits for it:
//   - a request's change (registration created or withdrawn, appointment requested, confirmed,
//     extended): record the intent, make the change, append; the request answers only after
//     the append, and a failed append fails the request. If the process dies between change and
//     append, recovery finds the intent once it is due, asks the owning service whether the
//     change happened (its verifier reads the record), and appends or drops it.
//   - a background step that keeps a work list (the draw, the lapse sweep, a liveness check):
//     append before the item leaves the list. A step that died half way is taken up again and
//     appends again, under the same id.
import { createHash } from 'node:crypto'
import type { Clock } from '../store/clock.js'
import type { FeedEntry, FeedStore, OutboxEvent, OutboxStore } from '../store/ports.js'

export type EventType =
  | 'registration.created'
  | 'registration.withdrawn'
  | 'appointment.requested'
  | 'appointment.allocated'
  | 'appointment.not-selected'
  | 'appointment.confirmed'
  | 'appointment.extended'
  | 'appointment.lapsed'
  | 'liveness.decided'

export const EVENT_TYPES: readonly EventType[] = ['registration.created', 'registration.withdrawn', 'appointment.requested', 'appointment.allocated', 'appointment.not-selected', 'appointment.confirmed', 'appointment.extended', 'appointment.lapsed', 'liveness.decided']

export interface DomainEvent {
  type: EventType
  /** What the event is about (a registration, request or check id). */
  about: string
  /** Which change of it, when it can change the same way more than once (the nth extension). */
  version?: number
  /** A registration's events share one outbox partition, in the order they were appended. */
  registrationId: string
  /** When the change happened, epoch ms. */
  time: number
  /** What the backend needs; JSON. Never a photo, a token or a device. */
  payload: Record<string, unknown>
}

/** The event's id: the same for every append of the same change, so the Idempotency-Key repeats. */
export function eventId (type: EventType, about: string, version?: number): string {
  return `evt_${createHash('sha256').update(`${type}\n${about}\n${version ?? ''}`).digest('base64url').slice(0, 32)}`
}

function toOutbox (event: DomainEvent): OutboxEvent {
  return { id: eventId(event.type, event.about, event.version), type: event.type, time: event.time, payload: JSON.stringify(event.payload) }
}

/** Whether the change an intent announced happened; given the event's payload. */
export type Verifier = (payload: Record<string, unknown>) => Promise<boolean>

export interface EventSignals {
  appended(type: string): void
  recovered(type: string, outcome: 'appended' | 'dropped'): void
  /** A notice for the client's own WebSocket could not be put on the feed (it is not retried). */
  noticeLost?(type: string): void
}

/** The WebSocket topic of a registration's results: only a watch of that registration joins it. */
export const registrationTopic = (registrationId: string) => `reg/${registrationId}`

/**
 * What the registration's own client is told of an event over the WebSocket, when anything:
 * the results it waits for (a liveness verdict, the draw's outcome). The same facts its owner can
 * read over HTTP, nothing more.
 */
export function clientNotice (event: DomainEvent): FeedEntry | undefined {
  const p = event.payload
  let message: Record<string, unknown>
  switch (event.type) {
    case 'liveness.decided':
      message = { type: 'result', kind: 'liveness', livenessId: p.livenessId, memberIndex: p.memberIndex, status: p.status, ...(p.reason === undefined ? {} : { reason: p.reason }) }
      break
    case 'appointment.allocated':
      message = { type: 'result', kind: 'allocation', requestId: p.requestId, poolDate: p.poolDate, status: 'selected', appointment: { poe: p.poe, date: p.date, slot: p.slot, confirmationNumber: p.confirmationNumber, confirmBy: p.confirmBy } }
      break
    case 'appointment.not-selected':
      message = { type: 'result', kind: 'allocation', requestId: p.requestId, poolDate: p.poolDate, status: 'not-selected' }
      break
    default:
      return undefined
  }
  return { topic: registrationTopic(event.registrationId), message: JSON.stringify(message) }
}

export class EventPublisher {
  readonly #outbox: OutboxStore
  readonly #clock: Clock
  readonly #recoverAfterMs: number
  readonly #signals: EventSignals
  readonly #verifiers = new Map<string, Verifier>()
  readonly #feed: FeedStore | undefined

  constructor (options: { outbox: OutboxStore, clock: Clock, recoverAfterMs: number, signals?: EventSignals, feed?: FeedStore }) {
    this.#feed = options.feed
    this.#outbox = options.outbox
    this.#clock = options.clock
    this.#recoverAfterMs = options.recoverAfterMs
    this.#signals = options.signals ?? { appended: () => {}, recovered: () => {} }
  }

  /** Names how recovery tells whether a change of this type happened. One per type. */
  verifier (type: EventType, verify: Verifier): void {
    this.#verifiers.set(type, verify)
  }

  /** Before a request's change: the event is recovered if the append after the change never comes. */
  async intend (event: DomainEvent): Promise<void> {
    await this.#outbox.intend(toOutbox(event), event.registrationId, this.#clock.now() + this.#recoverAfterMs)
  }

  /** After the change, before anyone is told: durable once this resolves. */
  async append (event: DomainEvent): Promise<void> {
    await this.#outbox.append(toOutbox(event), event.registrationId)
    this.#signals.appended(event.type)
    // The push to the client is a courtesy on top: it never fails the write, and the client can
    // always read the same over HTTP.
    const notice = this.#feed === undefined ? undefined : clientNotice(event)
    if (notice !== undefined) await this.#feed?.append(notice).catch(() => this.#signals.noticeLost?.(event.type))
  }

  /**
   * Decides every due intent: appended when its change is there, dropped when it is not (the
   * request failed and undid it, or never got to it). Safe on every instance at once: an intent
   * decided twice appends its event at most twice, under one id. Returns what it did.
   */
  async recover (pageSize = 100): Promise<{ appended: number, dropped: number }> {
    const done = { appended: 0, dropped: 0 }
    for (let partition = 0; partition < this.#outbox.partitions; partition++) {
      for (;;) {
        const due = await this.#outbox.dueIntents(partition, this.#clock.now(), pageSize)
        for (const { event, partitionKey } of due) {
          const verify = this.#verifiers.get(event.type)
          // An intent of a type nobody verifies (a newer version wrote it): append, since a
          // repeat is harmless and a loss is not.
          const happened = verify === undefined ? true : await verify(JSON.parse(event.payload) as Record<string, unknown>)
          if (happened) {
            await this.#outbox.append(event, partitionKey)
            done.appended++
          } else {
            await this.#outbox.dropIntent(partition, event.id)
            done.dropped++
          }
          this.#signals.recovered(event.type, happened ? 'appended' : 'dropped')
        }
        if (due.length < pageSize) break
      }
    }
    return done
  }
}
