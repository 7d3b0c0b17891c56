// Registrations with their anti-fraud rules: per-device, per-account and per-network windows, a
// minimum interval per device, one active registration per person, and an enumeration defence.
// No Fastify and no Redis here: state goes through the store ports.
//
// Atomicity. Each step below is atomic on its own (one Lua script or one SET NX); the steps
// touch different hash tags, so on Redis Cluster they cannot share one script. A step that fails
// undoes the ones before it, newest first:
//   1. admit into the device, account and network windows   (undo: release the entries)
//   2. claim each member's identity hash, SET NX              (undo: delete-if-still-ours)
//   2b. record the members' address claims (shared-addresses.ts); idempotent and never undone:
//      a claim attempted is a claim counted, and its people count once however often retried
//   3. write the registration record, SET NX                  (on failure: undo 2 and 1)
// A resumed try (attempts.ts) undoes only what it did itself: window entries, claims and a record
// already there are an earlier try's, which another live try of the attempt may be finishing.
//   4. append registration.created to the outbox              (on failure: undo 3, 2 and 1)
// The event's intent is recorded before step 3 (gateway/domain/events.ts): if the process dies
// between 3 and 4, recovery appends the event, since the record is there.
// If the process dies between steps, claims and entries expire by themselves (registration TTL,
// window length); a claim left without a record blocks that person until then, and an officer
// can release it.
import { randomBytes } from 'node:crypto'
import { GatewayError } from '../errors.js'
import type { Clock } from '../store/clock.js'
import { storeKey, type StoreKey } from '../store/keys.js'
import type { Stores, WindowAdmission } from '../store/ports.js'
import { attemptId, type Attempt } from './attempts.js'
import type { DomainEvent, EventPublisher } from './events.js'
import { identityHash, type PersonIdentity } from './identity.js'
import type { SharedAddressIndex } from './shared-addresses.js'

export interface Member extends PersonIdentity {
  nationality: string
  usAddress: { line1: string, line2?: string, city: string, state: string, zip: string }
}

export interface NewRegistration {
  members: Member[]
  preferredLanguage: string
}

export interface Actor {
  subject: string
  deviceId: string
  /** Client network: IPv4 address or IPv6 /64. */
  network: string
}

export interface RegistrationRecord {
  registrationId: string
  owner: string
  createdAt: string
  createdAtMs: number
  preferredLanguage: string
  members: Member[]
  identities: string[]
}

export interface RegistrationView {
  registrationId: string
  createdAt: string
  preferredLanguage: string
  members: Member[]
}

export interface RegistrationRules {
  perDeviceMax: number
  perDeviceWindowHours: number
  minIntervalSeconds: number
  perSubjectMax: number
  perSubjectWindowHours: number
  perIpMax: number
  perIpWindowMinutes: number
  deviceSubjectsFlag: number
  identityConflictsMax: number
  ttlDays: number
}

export const REGISTRATION_REFUSALS = ['device_limit', 'velocity', 'subject_limit', 'ip_limit', 'duplicate_identity', 'subject_blocked'] as const
export const REGISTRATION_FLAGS = ['velocity', 'device_many_subjects', 'identity_enumeration'] as const

/** What the service tells the outside (metrics): why it refused, and what looked suspicious. */
export interface RegistrationSignals {
  refused(reason: typeof REGISTRATION_REFUSALS[number]): void
  flagged(reason: typeof REGISTRATION_FLAGS[number]): void
}

const DAY_MS = 24 * 3600_000

/** A random id with 128 bits of entropy and a readable prefix; never sequential. */
export function randomId (prefix: string): string {
  return `${prefix}_${randomBytes(16).toString('base64url')}`
}

export const registrationKey = (id: string): StoreKey => storeKey(`reg.${id}`)
const identityKey = (hash: string): StoreKey => storeKey(`idn.${hash}`)

export class RegistrationService {
  readonly #stores: Stores
  readonly #clock: Clock
  readonly #rules: RegistrationRules
  readonly #identityKey: Buffer
  readonly #signals: RegistrationSignals
  readonly #events: EventPublisher
  readonly #addresses: SharedAddressIndex | undefined
  readonly #newId: () => string
  readonly #attemptTtlMs: number

  /**
   * `newId` makes registration ids (random, `reg_…`, by default); a simulation that must replay
   * exactly (npm run report:fairness) numbers them instead, since ids enter the pool digest and so
   * the draw. Never set in the gateway. `attemptTtlMs`: how long an attempt (an Idempotency-Key)
   * keeps naming the registration it started; the idempotency record's own time (default 24 h).
   */
  constructor (options: { stores: Stores, clock: Clock, rules: RegistrationRules, identityKey: Buffer, signals: RegistrationSignals, events: EventPublisher, addresses?: SharedAddressIndex, newId?: () => string, attemptTtlMs?: number }) {
    this.#addresses = options.addresses
    this.#attemptTtlMs = options.attemptTtlMs ?? DAY_MS
    this.#newId = options.newId ?? (() => randomId('reg'))
    this.#stores = options.stores
    this.#clock = options.clock
    this.#rules = options.rules
    this.#identityKey = options.identityKey
    this.#signals = options.signals
    this.#events = options.events
    // Recovery's question for an intent left behind: is the record there (created), or gone (withdrawn)?
    const exists = async (payload: Record<string, unknown>) => await this.#stores.kv.get(registrationKey(String(payload.registrationId))) !== null
    this.#events.verifier('registration.created', exists)
    this.#events.verifier('registration.withdrawn', async (payload) => !await exists(payload))
  }

  get #ttlMs (): number {
    return this.#rules.ttlDays * DAY_MS
  }

  /**
   * `attempt` (the request's Idempotency-Key) makes a retry of an attempt that was cut off (its
   * instance killed between two steps, so that no answer and no idempotency record was kept)
   * take it up again under the same id: each step finds its own earlier effect (a window entry,
   * an identity claim, the record) and goes on, where a fresh id would be refused as too soon
   * after itself (GW_ERR_REG_VELOCITY) or as a second registration of the same people. Only a
   * retry of the same body does: another body under the same key is refused (attempts.ts), so
   * the id's identity claims only ever hold the people its record, once written, lists (and a
   * withdrawal frees). A try cut off before its record and never retried leaves its claims to
   * expire with the registration TTL, as any crash before the record does (see the top).
   */
  async create (actor: Actor, input: NewRegistration, attempt?: Attempt): Promise<RegistrationView> {
    const { kv, sortedSets } = this.#stores
    const blocked = storeKey(`sub.${actor.subject}`, 'blocked')
    if (await kv.get(blocked) !== null) {
      this.#signals.refused('subject_blocked')
      throw new GatewayError('GW_ERR_REG_SUBJECT_BLOCKED')
    }

    const { id: registrationId, resumed, forget } = attempt === undefined ? { id: this.#newId(), resumed: false, forget: async () => {} } : await attemptId(kv, actor.subject, 'reg', attempt, this.#newId(), this.#attemptTtlMs)
    if (resumed) {
      // Cut off after the record was written: it is the answer, once its event is surely appended.
      const raw = await kv.get(registrationKey(registrationId))
      const earlier = raw === null ? undefined : JSON.parse(raw) as RegistrationRecord
      // An attempt is per account, so its id never names another's registration; if it ever
      // did, refuse rather than take that registration's windows and claims as this one's.
      if (earlier !== undefined && earlier.owner !== actor.subject) throw new GatewayError('GW_ERR_IDEMPOTENCY_KEY_REUSED')
      if (earlier !== undefined) {
        await this.#events.append(createdEvent(earlier))
        return view(earlier)
      }
    }
    const undo: Array<() => Promise<unknown>> = []
    const rollback = async (): Promise<void> => {
      for (const step of undo.reverse()) await step().catch(() => {})
    }

    try {
      await this.#admit(undo, resumed, storeKey(`dev.${actor.deviceId}`, 'regs'), registrationId, {
        windowMs: this.#rules.perDeviceWindowHours * 3600_000,
        max: this.#rules.perDeviceMax,
        minIntervalMs: this.#rules.minIntervalSeconds * 1000
      }, (admission) => {
        if (admission.refusedFor === 'interval') {
          this.#signals.refused('velocity')
          this.#signals.flagged('velocity')
          return new GatewayError('GW_ERR_REG_VELOCITY', { retryAfterSeconds: seconds(admission.retryAfterMs) })
        }
        this.#signals.refused('device_limit')
        return new GatewayError('GW_ERR_REG_DEVICE_LIMIT', { retryAfterSeconds: seconds(admission.retryAfterMs) })
      })
      await this.#admit(undo, resumed, storeKey(`sub.${actor.subject}`, 'regs'), registrationId, {
        windowMs: this.#rules.perSubjectWindowHours * 3600_000,
        max: this.#rules.perSubjectMax
      }, (admission) => {
        this.#signals.refused('subject_limit')
        return new GatewayError('GW_ERR_REG_SUBJECT_LIMIT', { retryAfterSeconds: seconds(admission.retryAfterMs) })
      })
      await this.#admit(undo, resumed, storeKey(`net.${actor.network}`, 'regs'), registrationId, {
        windowMs: this.#rules.perIpWindowMinutes * 60_000,
        max: this.#rules.perIpMax
      }, (admission) => {
        this.#signals.refused('ip_limit')
        return new GatewayError('GW_ERR_REG_IP_LIMIT', { retryAfterSeconds: seconds(admission.retryAfterMs) })
      })

      // A device id is a header the client chooses: one used by many accounts is worth a look.
      const subjects = storeKey(`dev.${actor.deviceId}`, 'subjects')
      const seenAt = this.#clock.now()
      await sortedSets.add(subjects, actor.subject, seenAt, { ttlMs: DAY_MS })
      await sortedSets.removeByScore(subjects, -Infinity, seenAt - DAY_MS)
      if (await sortedSets.count(subjects) >= this.#rules.deviceSubjectsFlag) this.#signals.flagged('device_many_subjects')

      const identities = input.members.map((m) => identityHash(this.#identityKey, m))
      if (new Set(identities).size !== identities.length) {
        this.#signals.refused('duplicate_identity')
        throw new GatewayError('GW_ERR_REG_DUPLICATE_IDENTITY')
      }
      // In sorted order, so two groups holding the same people in opposite order cannot each
      // take one and refuse the other.
      for (const hash of [...identities].sort()) {
        // Held by this very registration only when an attempt cut off after claiming it resumes;
        // then it is the earlier try's, and only a claim this try took is given back on failure.
        if (await kv.setIfAbsent(identityKey(hash), registrationId, { ttlMs: this.#ttlMs })) {
          undo.push(async () => kv.deleteIfEquals(identityKey(hash), registrationId))
        } else if (await kv.get(identityKey(hash)) !== registrationId) {
          throw await this.#conflict(actor.subject)
        }
      }

      const now = this.#clock.now()
      const record: RegistrationRecord = {
        registrationId,
        owner: actor.subject,
        createdAt: new Date(now).toISOString(),
        createdAtMs: now,
        preferredLanguage: input.preferredLanguage,
        members: input.members,
        identities
      }
      const created = createdEvent(record)
      await this.#addresses?.recordRegistration(record)
      await this.#events.intend(created)
      // Only where none is: a resumed try racing another live try of the same attempt (the first
      // one's pending lock expired while it still ran; GATEWAY_REQUEST_TIMEOUT_MS bounds the
      // request's arrival, not its handling) answers with the other's record, and never undoes it.
      if (!await kv.setIfAbsent(registrationKey(registrationId), JSON.stringify(record), { ttlMs: this.#ttlMs })) {
        const raw = await kv.get(registrationKey(registrationId))
        const other = raw === null ? undefined : JSON.parse(raw) as RegistrationRecord
        if (other === undefined) throw new GatewayError('GW_ERR_IDEMPOTENCY_IN_PROGRESS', { retryAfterSeconds: 1 })
        if (other.owner !== actor.subject) throw new GatewayError('GW_ERR_IDEMPOTENCY_KEY_REUSED')
        await this.#events.append(createdEvent(other))
        return view(other)
      }
      undo.push(async () => kv.delete(registrationKey(registrationId)))
      await this.#events.append(created)
      return view(record)
    } catch (err) {
      await rollback()
      // A refusal undid every step: nothing is left for a retry to take up. After a store error
      // the undo may have failed part-way, so the attempt stays for the retry to find its leftovers.
      if (err instanceof GatewayError) await forget()
      throw err
    }
  }

  /** The owner's active registration; anyone else gets the same 404 as for an unknown id. */
  async get (subject: string, registrationId: string): Promise<RegistrationRecord> {
    const raw = await this.#stores.kv.get(registrationKey(registrationId))
    const record = raw === null ? undefined : JSON.parse(raw) as RegistrationRecord
    if (record === undefined || record.owner !== subject) throw new GatewayError('GW_ERR_REG_NOT_FOUND')
    return record
  }

  async view (subject: string, registrationId: string): Promise<RegistrationView> {
    return view(await this.get(subject, registrationId))
  }

  /**
   * Activity (an appointment request) restarts the inactivity clock of the record and of its
   * identity claims. Only expiries move: a record withdrawn meanwhile stays gone, and a claim is
   * renewed only while it is still this registration's (one atomic step each).
   */
  async touch (record: RegistrationRecord): Promise<void> {
    const { kv } = this.#stores
    if (!await kv.expire(registrationKey(record.registrationId), this.#ttlMs)) return
    for (const hash of record.identities) await kv.expireIfEquals(identityKey(hash), record.registrationId, this.#ttlMs)
  }

  /** Withdraws a registration and frees its members' identities. The device and account windows keep counting it. */
  async withdraw (subject: string, registrationId: string): Promise<void> {
    await this.#remove(await this.get(subject, registrationId), 'withdrawn')
  }

  // Claims first, record last: if a step fails, the record is still there and a retried
  // DELETE finishes the job, instead of a person staying claimed by a record nobody can see.
  // The event last of all, its intent first: recovery appends it once the record is gone.
  async #remove (record: RegistrationRecord, reason: 'withdrawn' | 'released'): Promise<void> {
    const now = this.#clock.now()
    const withdrawn: DomainEvent = {
      type: 'registration.withdrawn',
      about: record.registrationId,
      registrationId: record.registrationId,
      time: now,
      payload: { registrationId: record.registrationId, withdrawnAt: new Date(now).toISOString(), reason }
    }
    await this.#events.intend(withdrawn)
    await this.#onRemove(record)
    for (const hash of record.identities) await this.#stores.kv.deleteIfEquals(identityKey(hash), record.registrationId)
    await this.#stores.kv.delete(registrationKey(record.registrationId))
    await this.#events.append(withdrawn)
  }

  #onRemove: (record: RegistrationRecord) => Promise<void> = async () => {}

  /** Called before a registration is removed (withdrawn or released): its pool entries go first. */
  onRemove (hook: (record: RegistrationRecord) => Promise<void>): void {
    this.#onRemove = hook
  }

  /**
   * Lets a person be registered again after an officer's review; true when a claim was held.
   * The registration that held the person (made without their consent, as a rule) is removed
   * with its pool entries, so the person is never in two active registrations.
   */
  async releaseIdentity (person: PersonIdentity): Promise<boolean> {
    const claim = identityKey(identityHash(this.#identityKey, person))
    const holder = await this.#stores.kv.get(claim)
    if (holder === null) return false
    const raw = await this.#stores.kv.get(registrationKey(holder))
    if (raw !== null) await this.#remove(JSON.parse(raw) as RegistrationRecord, 'released')
    await this.#stores.kv.deleteIfEquals(claim, holder)
    return true
  }

  // `resumed`: the entry may be an earlier try's, whose registration another live try of the same
  // attempt may be finishing; a failure here must not take it back (it expires with its window).
  async #admit (undo: Array<() => Promise<unknown>>, resumed: boolean, key: StoreKey, member: string, rule: { windowMs: number, max: number, minIntervalMs?: number }, refuse: (a: WindowAdmission) => GatewayError): Promise<void> {
    const admission = await this.#stores.windows.admit(key, member, rule)
    if (!admission.admitted) throw refuse(admission)
    if (!resumed) undo.push(async () => this.#stores.windows.release(key, member))
  }

  // A 409 tells the caller that a named person is registered; an account collecting many is
  // probing, and is stopped from registering for a day.
  // The conflict window is atomic, so even parallel probes see at most `max` 409s: past that
  // they get the block itself.
  async #conflict (subject: string): Promise<GatewayError> {
    const admission = await this.#stores.windows.admit(storeKey(`sub.${subject}`, 'conflicts'), randomId('c'), { windowMs: DAY_MS, max: this.#rules.identityConflictsMax })
    if (admission.admitted) {
      this.#signals.refused('duplicate_identity')
      return new GatewayError('GW_ERR_REG_DUPLICATE_IDENTITY')
    }
    // Flagged once per block, however many probes arrive together.
    if (await this.#stores.kv.setIfAbsent(storeKey(`sub.${subject}`, 'blocked'), '1', { ttlMs: DAY_MS })) this.#signals.flagged('identity_enumeration')
    this.#signals.refused('subject_blocked')
    return new GatewayError('GW_ERR_REG_SUBJECT_BLOCKED')
  }
}

function createdEvent (record: RegistrationRecord): DomainEvent {
  return {
    type: 'registration.created',
    about: record.registrationId,
    registrationId: record.registrationId,
    time: record.createdAtMs,
    // The backend is the system of record for registrations: it gets the people, never the
    // device, network or account that sent them.
    payload: { registrationId: record.registrationId, createdAt: record.createdAt, preferredLanguage: record.preferredLanguage, members: record.members }
  }
}

function view (record: RegistrationRecord): RegistrationView {
  return { registrationId: record.registrationId, createdAt: record.createdAt, preferredLanguage: record.preferredLanguage, members: record.members }
}

function seconds (ms: number): number {
  return Math.max(1, Math.ceil(ms / 1000))
}
