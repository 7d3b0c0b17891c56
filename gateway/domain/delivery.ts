// Delivery of outbox events to the backend services: every instance consumes the outbox's
// partitions as one consumer of the shared group, sends each event with Idempotency-Key = its id
// through the shared pace (at most the configured rate across instances), and acknowledges it
// only once a backend answered 2xx: at least once, and a repeat is only ever the same key.
//   - a retryable failure (429, 408, 5xx, timeout, reset) waits (exponential backoff with full
//     jitter, or the backend's Retry-After) and goes again, the event still pending in the store;
//   - a refusal (another 4xx), or more than maxAttempts deliveries, moves it to the dead letters;
//   - an instance that dies leaves its events pending: after claimIdleMs another takes them over.
// No Fastify, no Redis: the outbox is a store port, the backends and the pace are ports too.
import { setMaxListeners } from 'node:events'
import { abortableSleep } from '../lib/abortable-sleep.js'
import type { Clock } from '../store/clock.js'
import { storeKey } from '../store/keys.js'
import type { OutboxEntry, OutboxEvent, Stores } from '../store/ports.js'

/** What a backend said to one delivery. */
export type DeliveryOutcome =
  | { kind: 'delivered' }
  | { kind: 'retry', reason: string, retryAfterMs?: number }
  | { kind: 'refused', reason: string }

export interface BackendPort {
  /** Whether some backend takes events of this type. */
  accepts(type: string): boolean
  send(event: OutboxEvent): Promise<DeliveryOutcome>
}

/** The shared pace: runs fn when the configured rate allows, across instances. */
export interface PacePort {
  schedule<T>(fn: () => Promise<T>): Promise<T>
}

export interface DeliveryRules {
  maxConcurrent: number
  maxAttempts: number
  retryBaseMs: number
  claimIdleMs: number
  /** How often an idle consumer looks at the outbox again. */
  idleMs: number
}

export interface DeliverySignals {
  delivered(type: string, attempts: number): void
  retried(type: string, reason: string): void
  deadLettered(type: string): void
  /** An error of the consumer itself (the store away); it goes on. */
  failed(err: unknown): void
}

const attemptsKey = (id: string) => storeKey(`evt.${id}`, 'attempts')
const ATTEMPTS_TTL_MS = 7 * 24 * 3600_000

export class DeliveryService {
  readonly #stores: Stores
  readonly #clock: Clock
  readonly #rules: DeliveryRules
  readonly #backend: BackendPort
  readonly #pace: PacePort
  readonly #signals: DeliverySignals
  readonly #consumer: string
  readonly #inFlight = new Set<Promise<void>>()
  readonly #stopping = new AbortController()
  #running = false
  #loop: Promise<void> | undefined
  #wake: () => void = () => {}
  #next = 0

  constructor (options: { stores: Stores, clock: Clock, rules: DeliveryRules, backend: BackendPort, pace: PacePort, signals: DeliverySignals, consumer: string }) {
    this.#stores = options.stores
    this.#clock = options.clock
    this.#rules = options.rules
    this.#backend = options.backend
    this.#pace = options.pace
    this.#signals = options.signals
    this.#consumer = options.consumer
    // Every delivery of this instance may wait on it at once (maxConcurrent of them): not a leak.
    setMaxListeners(0, this.#stopping.signal)
  }

  start (): void {
    if (this.#running) return
    this.#running = true
    this.#loop = this.#consume()
  }

  /** Stops taking events and cuts retry waits short; what is still pending stays in the store for the next consumer. */
  async stop (): Promise<void> {
    this.#running = false
    this.#stopping.abort()
    this.#wake()
    await this.#loop
    await Promise.all(this.#inFlight)
  }

  async #consume (): Promise<void> {
    const { outbox } = this.#stores
    // Taking over only matters once entries can have been idle that long: look every half of it.
    const lastClaim = new Array<number>(outbox.partitions).fill(-Infinity)
    let idle = this.#rules.idleMs
    while (this.#running) {
      let taken = 0
      // One round over the partitions, each asked for what this instance has room for.
      for (let i = 0; i < outbox.partitions && this.#running; i++) {
        const room = this.#rules.maxConcurrent - this.#inFlight.size
        if (room <= 0) break
        const partition = this.#next
        this.#next = (this.#next + 1) % outbox.partitions
        try {
          const now = this.#clock.now()
          let stale: OutboxEntry[] = []
          if (now - (lastClaim[partition] as number) >= this.#rules.claimIdleMs / 2) {
            lastClaim[partition] = now
            stale = await outbox.claim(partition, this.#consumer, this.#rules.claimIdleMs, room)
          }
          const fresh = stale.length < room ? await outbox.read(partition, this.#consumer, room - stale.length) : []
          for (const entry of [...stale, ...fresh]) this.#track(this.#deliver(entry))
          taken += stale.length + fresh.length
        } catch (err) {
          this.#signals.failed(err)
        }
      }
      // An empty outbox is looked at less and less often, up to ten times the idle time; any
      // event found (or a delivery finishing) brings the pace back.
      idle = taken === 0 ? Math.min(idle * 2, this.#rules.idleMs * 10) : this.#rules.idleMs
      if (taken === 0 || this.#inFlight.size >= this.#rules.maxConcurrent) await this.#pause(taken === 0 ? idle : this.#rules.idleMs)
    }
  }

  #track (job: Promise<void>): void {
    const tracked = job.catch((err: unknown) => { this.#signals.failed(err) }).finally(() => {
      this.#inFlight.delete(tracked)
      this.#wake()
    })
    this.#inFlight.add(tracked)
  }

  async #pause (ms: number): Promise<void> {
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, ms)
      this.#wake = () => { clearTimeout(timer); resolve() }
    })
  }

  async #deliver (entry: OutboxEntry): Promise<void> {
    const { outbox, counters, kv } = this.#stores
    const { event } = entry
    // No backend for this type (yet): it stays pending, and is looked at again after claimIdleMs.
    if (!this.#backend.accepts(event.type)) return
    for (let attempt = 1; this.#running; attempt++) {
      // Counted in the store, so attempts add up across instances and restarts.
      const attempts = await counters.increment(attemptsKey(event.id), { ttlMs: ATTEMPTS_TTL_MS })
      if (attempts > this.#rules.maxAttempts) {
        await outbox.deadLetter(entry, `no delivery after ${this.#rules.maxAttempts} attempts`)
        this.#signals.deadLettered(event.type)
        return
      }
      let outcome: DeliveryOutcome
      try {
        outcome = await this.#pace.schedule(async () => this.#backend.send(event))
      } catch (err) {
        // The pace could not be asked (the store away, or closing): not an attempt at the backend.
        await counters.increment(attemptsKey(event.id), { by: -1 })
        if (!this.#running) return
        outcome = { kind: 'retry', reason: (err as Error).name }
      }
      if (outcome.kind === 'delivered') {
        await outbox.ack(entry)
        await kv.delete(attemptsKey(event.id))
        this.#signals.delivered(event.type, attempts)
        return
      }
      if (outcome.kind === 'refused') {
        await outbox.deadLetter(entry, outcome.reason)
        this.#signals.deadLettered(event.type)
        return
      }
      this.#signals.retried(event.type, outcome.reason)
      // Full jitter over an exponential backoff, never sooner than the backend asked, and short
      // of the takeover time. The store counts an entry's idle time from its last hand-out, not
      // from our last attempt: held again before and after each wait, so that no claim (this
      // instance's or another's) starts a second delivery of an event this one still retries.
      const backoff = Math.random() * this.#rules.retryBaseMs * 2 ** Math.min(attempt - 1, 16)
      await outbox.hold(entry, this.#consumer)
      await abortableSleep(Math.min(this.#rules.claimIdleMs / 2, Math.max(backoff, outcome.retryAfterMs ?? 0)), this.#stopping.signal)
      if (this.#running) await outbox.hold(entry, this.#consumer)
    }
  }

  /** The outbox for ops: what waits, how old the oldest is, and a sample of the dead letters (never a payload). */
  async overview (sampleSize: number): Promise<{ depth: number, pending: number, intents: number, oldestAgeSeconds: number, deadLetters: number, deadLetterSample: Array<{ id: string, eventId: string, type: string, time: string, reason: string }> }> {
    const { outbox } = this.#stores
    const stats = await outbox.stats()
    const letters = await Promise.all(Array.from({ length: outbox.partitions }, async (_, p) =>
      (await outbox.deadLetters(p, sampleSize)).map((l) => ({ id: `${p}:${l.entryId}`, eventId: l.event.id, type: l.event.type, time: new Date(l.event.time).toISOString(), reason: l.reason }))))
    return {
      depth: stats.depth,
      pending: stats.pending,
      intents: stats.intents,
      oldestAgeSeconds: stats.oldestTime === null ? 0 : Math.max(0, this.#clock.now() - stats.oldestTime) / 1000,
      deadLetters: stats.deadLetters,
      deadLetterSample: letters.flat()
    }
  }

  /** Puts a dead letter (`partition:entry` as overview names it) back for delivery; false when there is no such letter. */
  async retryDeadLetter (id: string): Promise<boolean> {
    const colon = id.indexOf(':')
    const partition = Number(id.slice(0, colon))
    if (colon < 1 || !Number.isInteger(partition) || partition >= this.#stores.outbox.partitions) return false
    // Its attempts start again from nothing.
    const letters = await this.#stores.outbox.deadLetters(partition, 1_000)
    const letter = letters.find((l) => l.entryId === id.slice(colon + 1))
    if (letter !== undefined) await this.#stores.kv.delete(attemptsKey(letter.event.id))
    return this.#stores.outbox.revive(partition, id.slice(colon + 1))
  }
}
