// Appointment requests: inside the request window, from inside the geofence, one per
// registration per pool day, into that day's pool for the chosen port of entry.
//
// Atomicity, as for registrations: each step is atomic alone, and a failed step undoes the
// earlier ones.
//   1. claim "registration R asks for pool day D" with SET NX. This decides races: of 50
//      identical requests exactly one claims, and the rest answer with the claimed id.
//   2. write the request record                       (on failure: undo 1)
//   3. add to the pool sorted set                     (on failure: undo 2 and 1)
//   3b. count the registration's claimants for the port in the shared-address index
//       (idempotent, never undone: a retry counts nobody twice)
//   4. append appointment.requested to the outbox     (on failure: undo 3, 2 and 1)
// with the event's intent recorded before step 2, so recovery appends it if the process dies
// between 3 and 4 (gateway/domain/events.ts).
// The pool is one sorted set per POE per pool day ({pool.<poe>.<date>}), scored by registration
// time so the draw can take the oldest first. Each member is "<requestId>:<group size>", so the
// draw reads sizes without a lookup per entry. These sets are spread over slots by POE and day;
// registrations, claims and requests each hash on their own ids.
import { GatewayError } from '../errors.js'
import type { Clock } from '../store/clock.js'
import { storeKey } from '../store/keys.js'
import type { Stores } from '../store/ports.js'
import { attemptId, type Attempt } from './attempts.js'
import type { DomainEvent, EventPublisher } from './events.js'
import { judgeFix, type Fix, type Geofence } from './geofence.js'
import { randomId, type RegistrationRecord, type RegistrationService } from './registrations.js'
import { addDays, poolDayTimes, scheduleAt, type ScheduleRules } from './schedule.js'
import type { SharedAddressIndex } from './shared-addresses.js'

export type RequestStatus = 'pooled' | 'selected' | 'not-selected' | 'confirmed' | 'lapsed' | 'withdrawn'

export interface NewAppointmentRequest {
  registrationId: string
  poe: string
  location: Fix
}

/** What a selected request won: where, when, and the number to confirm it by. */
export interface Appointment {
  poe: string
  date: string
  slot: string
  confirmationNumber: string
  confirmBy: string
  /** Extensions taken so far. */
  extensions?: number
}

export interface AppointmentRequestRecord {
  requestId: string
  owner: string
  registrationId: string
  poe: string
  poolDate: string
  groupSize: number
  createdAt: string
  status: RequestStatus
  appointment?: Appointment
}

export interface AppointmentRequestView {
  requestId: string
  registrationId: string
  poe: string
  poolDate: string
  status: RequestStatus
  appointment?: Appointment
}

export const REQUEST_REFUSALS = ['window_closed', 'geo_outside', 'geo_imprecise'] as const

export interface AppointmentRequestSignals {
  refused(reason: typeof REQUEST_REFUSALS[number]): void
}

// Long enough to outlive the draw and the confirmation window that follow a pool day.
const REQUEST_TTL_MS = 30 * 24 * 3600_000
const CLAIM_TTL_MS = 3 * 24 * 3600_000

export const poolKey = (poe: string, poolDate: string) => storeKey(`pool.${poe}.${poolDate}`)
export const requestKey = (id: string) => storeKey(`apr.${id}`)

export class AppointmentRequestService {
  readonly #stores: Stores
  readonly #clock: Clock
  readonly #registrations: RegistrationService
  readonly #schedule: ScheduleRules
  readonly #geofence: Geofence
  readonly #signals: AppointmentRequestSignals

  readonly #commit: (poolDate: string) => Promise<unknown>
  readonly #lookbackDays: number
  readonly #events: EventPublisher
  readonly #addresses: SharedAddressIndex | undefined
  readonly #attemptTtlMs: number

  constructor (options: { stores: Stores, clock: Clock, registrations: RegistrationService, schedule: ScheduleRules, geofence: Geofence, signals: AppointmentRequestSignals, events: EventPublisher, commit?: (poolDate: string) => Promise<unknown>, lookbackDays?: number, addresses?: SharedAddressIndex, attemptTtlMs?: number }) {
    this.#addresses = options.addresses
    // How long an attempt (an Idempotency-Key) names the request it started: the key's own time.
    this.#attemptTtlMs = options.attemptTtlMs ?? 24 * 3600_000
    this.#events = options.events
    this.#events.verifier('appointment.requested', async (payload) => await this.#stores.kv.get(requestKey(String(payload.requestId))) !== null)
    this.#commit = options.commit ?? (async () => {})
    this.#lookbackDays = options.lookbackDays ?? 1
    this.#stores = options.stores
    this.#clock = options.clock
    this.#registrations = options.registrations
    this.#schedule = options.schedule
    this.#geofence = options.geofence
    this.#signals = options.signals
    // Whatever removes a registration (withdrawal, an officer's release) takes it out of the pool first.
    this.#registrations.onRemove(async (registration) => this.leavePool(registration))
  }

  /**
   * created: false when this registration already asked for this pool day (the same request comes
   * back). `attempt` (the Idempotency-Key) lets a retry take up a try that was cut off after it
   * claimed the day (its instance killed): under the same id it finishes the steps, where any other
   * try would be told, for as long as the claim lasts, that the first is still in progress. The
   * id is per registration and pool day, so a key reused for another registration, or the next
   * day, never names this request; a retry whose earlier try wrote its record gets that record.
   */
  async request (subject: string, input: NewAppointmentRequest, attempt?: Attempt): Promise<{ created: boolean, request: AppointmentRequestView }> {
    const registration = await this.#registrations.get(subject, input.registrationId)
    const now = this.#clock.now()
    const state = scheduleAt(now, this.#schedule)
    // Open only within the pool day's own instants, the ones its seal keeps to: so a request
    // accepted here always lands before that pool is sealed.
    const times = poolDayTimes(state.poolDate, this.#schedule)
    if (!state.requestWindow.open || now < times.opensAt || now >= times.closesAt) {
      this.#signals.refused('window_closed')
      const nextOpenAt = state.requestWindow.open ? new Date(poolDayTimes(addDays(state.poolDate, 1), this.#schedule).opensAt).toISOString() : state.requestWindow.nextChangeAt
      throw new GatewayError('GW_ERR_REQ_WINDOW_CLOSED', {
        nextOpenAt,
        retryAfterSeconds: Math.max(1, Math.ceil((Date.parse(nextOpenAt) - now) / 1000))
      })
    }
    const verdict = judgeFix(input.location, this.#geofence)
    if (verdict === 'imprecise') {
      this.#signals.refused('geo_imprecise')
      throw new GatewayError('GW_ERR_GEO_IMPRECISE')
    }
    if (verdict !== 'inside') {
      this.#signals.refused('geo_outside')
      throw new GatewayError('GW_ERR_GEO_OUTSIDE')
    }

    const { kv, sortedSets } = this.#stores
    const poolDate = state.poolDate
    // The day's seed is committed before its first entry is pooled (see allocations.ts).
    await this.#commit(poolDate)
    const perDay = storeKey(`reg.${registration.registrationId}`, 'req', poolDate)
    // Per registration and pool day: a key reused for another registration, or on a later day
    // (the first request drawn meanwhile), never names a request it did not start.
    const { id: requestId, resumed, forget } = attempt === undefined ? { id: randomId('apr'), resumed: false, forget: async () => {} } : await attemptId(kv, subject, `apr.${registration.registrationId}.${poolDate}`, attempt, randomId('apr'), this.#attemptTtlMs)
    if (resumed) {
      // An earlier try of this attempt wrote its record: that is the answer (its event surely
      // appended), whatever became of the day's claim or of the request since.
      const earlier = await this.#ownRecord(subject, requestId)
      if (earlier !== undefined) {
        await this.#events.append(requestedEvent(earlier))
        return { created: true, request: viewOf(earlier) }
      }
    }
    const claimed = await kv.setIfAbsent(perDay, requestId, { ttlMs: CLAIM_TTL_MS })
    if (!claimed) {
      const existing = await kv.get(perDay)
      if (existing !== requestId) {
        // This try creates nothing: its attempt goes (attempts.ts).
        await forget()
        // Null only if the first request just failed and let its claim go: the client retries.
        if (existing === null) throw new GatewayError('GW_ERR_IDEMPOTENCY_IN_PROGRESS', { retryAfterSeconds: 1 })
        const stored = await kv.get(requestKey(existing))
        // The first request is still writing its record: the client asks again in a second.
        if (stored === null) throw new GatewayError('GW_ERR_IDEMPOTENCY_IN_PROGRESS', { retryAfterSeconds: 1 })
        return { created: false, request: viewOf(JSON.parse(stored) as AppointmentRequestRecord) }
      }
      // This very attempt, cut off after its claim, before its record: the steps below are taken up again.
    }
    const record: AppointmentRequestRecord = {
      requestId,
      owner: subject,
      registrationId: registration.registrationId,
      poe: input.poe,
      poolDate,
      groupSize: registration.members.length,
      createdAt: new Date(now).toISOString(),
      status: 'pooled'
    }
    const requested = requestedEvent(record)
    let wrote = false
    try {
      await this.#events.intend(requested)
      // Only where none is: a resumed try racing another live try of the same attempt (the first
      // one's pending lock expired while it still ran) takes the other's record as its answer,
      // never overwrites it (a draw may have changed it since), and its failure never deletes it.
      wrote = await kv.setIfAbsent(requestKey(requestId), JSON.stringify(record), { ttlMs: REQUEST_TTL_MS })
      if (!wrote) {
        const other = await this.#ownRecord(subject, requestId)
        if (other === undefined) throw new GatewayError('GW_ERR_IDEMPOTENCY_IN_PROGRESS', { retryAfterSeconds: 1 })
        await this.#events.append(requestedEvent(other))
        return { created: true, request: viewOf(other) }
      }
      await sortedSets.add(poolKey(input.poe, poolDate), `${requestId}:${record.groupSize}`, registration.createdAtMs, { ttlMs: CLAIM_TTL_MS })
      await this.#addresses?.recordRequest(registration, input.poe, now)
      await this.#events.append(requested)
    } catch (err) {
      // Only what this try wrote: the pool add may have happened before the error (a timeout
      // after the write), so it goes too; an earlier try's claim and record stay, for the
      // attempt's next retry to take up.
      if (wrote) {
        await sortedSets.remove(poolKey(input.poe, poolDate), `${requestId}:${record.groupSize}`).catch(() => {})
        await kv.delete(requestKey(requestId)).catch(() => {})
      }
      if (claimed) await kv.deleteIfEquals(perDay, requestId).catch(() => {})
      if (err instanceof GatewayError) await forget()
      throw err
    }
    await this.#registrations.touch(registration)
    return { created: true, request: viewOf(record) }
  }

  /** Requests (whole groups) in each port's pool for the pool date a request made now joins. */
  async poolSizes (poes: readonly string[]): Promise<Array<{ poe: string, size: number }>> {
    const { poolDate } = scheduleAt(this.#clock.now(), this.#schedule)
    return Promise.all(poes.map(async (poe) => ({ poe, size: await this.#stores.sortedSets.count(poolKey(poe, poolDate)) })))
  }

  /**
   * Takes a registration out of the pools it waits in, and gives back a place it won: the request
   * reads `withdrawn`, and while its pool is still open the entry leaves the sorted set (after the
   * close the pool is no longer edited: the seal skips a withdrawn request, the draw never writes
   * over one). Called before the registration is removed. Looks back as far as a place can stay
   * open (`lookbackDays`). Each change is a compare-and-set, so a result or a confirmation
   * written in between is never lost, nor one overwritten.
   */
  async leavePool (registration: RegistrationRecord): Promise<void> {
    const { kv, sortedSets } = this.#stores
    const now = this.#clock.now()
    const current = scheduleAt(now, this.#schedule).poolDate
    for (let back = 0; back <= this.#lookbackDays; back++) {
      const poolDate = addDays(current, -back)
      const requestId = await kv.get(storeKey(`reg.${registration.registrationId}`, 'req', poolDate))
      if (requestId === null) continue
      for (;;) {
        const raw = await kv.get(requestKey(requestId))
        if (raw === null) break
        const record = JSON.parse(raw) as AppointmentRequestRecord
        if (record.status !== 'pooled' && record.status !== 'selected') break
        if (record.status === 'pooled' && now < poolDayTimes(record.poolDate, this.#schedule).closesAt) {
          await sortedSets.remove(poolKey(record.poe, record.poolDate), `${record.requestId}:${record.groupSize}`)
        }
        if (await kv.replaceIfEquals(requestKey(requestId), raw, JSON.stringify({ ...record, status: 'withdrawn' }), { ttlMs: REQUEST_TTL_MS })) break
      }
    }
  }

  async #ownRecord (subject: string, requestId: string): Promise<AppointmentRequestRecord | undefined> {
    const raw = await this.#stores.kv.get(requestKey(requestId))
    if (raw === null) return undefined
    const record = JSON.parse(raw) as AppointmentRequestRecord
    // An attempt is per subject, so another owner is never expected here: refuse rather than answer with it.
    if (record.owner !== subject) throw new GatewayError('GW_ERR_REQ_NOT_FOUND')
    return record
  }

  async get (subject: string, requestId: string): Promise<AppointmentRequestView> {
    const raw = await this.#stores.kv.get(requestKey(requestId))
    const record = raw === null ? undefined : JSON.parse(raw) as AppointmentRequestRecord
    if (record === undefined || record.owner !== subject) throw new GatewayError('GW_ERR_REQ_NOT_FOUND')
    return viewOf(record)
  }
}

/** The event of a pooled request, for the backend: the same for every append of it. */
function requestedEvent (record: AppointmentRequestRecord): DomainEvent {
  return {
    type: 'appointment.requested',
    about: record.requestId,
    registrationId: record.registrationId,
    time: Date.parse(record.createdAt),
    payload: { requestId: record.requestId, registrationId: record.registrationId, poe: record.poe, poolDate: record.poolDate, groupSize: record.groupSize, requestedAt: record.createdAt }
  }
}

/** What the applicant sees of a request: its appointment only while it is selected or confirmed. */
export function viewOf (record: AppointmentRequestRecord): AppointmentRequestView {
  const view: AppointmentRequestView = { requestId: record.requestId, registrationId: record.registrationId, poe: record.poe, poolDate: record.poolDate, status: record.status }
  if ((record.status === 'selected' || record.status === 'confirmed') && record.appointment !== undefined) view.appointment = record.appointment
  return view
}
