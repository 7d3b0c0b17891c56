// One pool day's draw, from commitment to lapse (gateway/domain/draw-audit.ts says why each step):
//   1. commit   before the day's window opens (the scheduler) or at the latest before its first
//               entry is pooled (the request path): draw the server seed, publish sha256(seed);
//   2. seal     once the window has closed (plus a grace for requests still in flight): read the
//               pool once, keep it in canonical order and publish its digest; nothing after this
//               can change what is drawn;
//   3. beacon   optionally, between seal and draw, ops supply a public random value;
//   4. draw     on a worker thread from the sealed pool, write each request's result, reveal the
//               seed and keep the summary (one run per date: a lock with expiry keeps two
//               instances from drawing at once, and a finished run is returned as it was);
//   5. lapse    places not confirmed by their confirm-by time are marked lapsed and counted.
//
// Steps and what a failure leaves: the seed, the seal and the beacon are single SET NX steps;
// results are written request by request and then the summary. If a run dies half way, the lock
// expires and a new run draws again from the same seed and sealed pool: requests already written
// keep their result and number (their index and deadline are written again, idempotently), the
// rest are written, then the summary.
import { randomBytes } from 'node:crypto'
import { GatewayError } from '../errors.js'
import type { Clock } from '../store/clock.js'
import { storeKey } from '../store/keys.js'
import type { Stores } from '../store/ports.js'
import type { AllocationInput, AllocationResult, PoeCounts, PoolEntry, Slot } from '../../workers/allocation.js'
import { poolKey, requestKey, type AppointmentRequestRecord } from './appointment-requests.js'
import { assignmentsDigest, canonicalPool, commitment, drawSeed, poolDigest, type DrawRecord } from './draw-audit.js'
import { fillerDigest } from './identity.js'
import { registrationKey, type RegistrationRecord } from './registrations.js'
import { poolDayTimes, type ScheduleRules } from './schedule.js'

export type DrawState = 'committed' | 'sealed' | 'drawn'

/** What anyone may know of a pool day's draw at each stage; nothing personal at any stage. */
export interface AllocationSummary {
  date: string
  status: DrawState
  commitment: string
  opensAt: string
  closesAt: string
  drawAt: string
  /** From the seal on. */
  poolDigest?: string
  entries?: number
  sealedAt?: string
  beacon?: string
  /** Revealed once the draw has run. */
  serverSeed?: string
  assignmentsDigest?: string
  counts?: Record<string, PoeCounts>
  ranAt?: string
}

export interface AllocationRules {
  oldestShare: number
  slotTimes: readonly string[]
  confirmationHours: number
  /** Entries may still land in the pool this long after the window closes (requests in flight). */
  sealGraceMs: number
  /** A place lapses this long after its confirm-by time, so a confirmation in flight at the deadline is never overwritten. */
  lapseGraceMs: number
  poes: ReadonlyArray<{ slug: string, dailyCapacity: number }>
  schedule: ScheduleRules
  /** Date-of-birth digests in every appointment index: the largest group a registration may hold. */
  validationSlots: number
}

/** What the draw and the sweep report, for metrics. */
export interface AllocationSignals {
  drawn(counts: Record<string, PoeCounts>): void
  lapsed(poe: string): void
}

interface Seal { poolDigest: string, entries: number, sealedAt: string }
/** The draw's whole input, fixed at the seal: a config change after it cannot move the draw. */
interface PoolSnapshot { entries: PoolEntry[], requests: Record<string, string>, slots: Record<string, Slot[]>, oldestShare: number }
/**
 * What a confirmation number leads to, and what partner validation checks: one keyed digest per
 * member's date of birth, padded with random ones to a fixed count (gateway/domain/partner-validation.ts).
 */
export interface AppointmentIndex { requestId: string, registrationId: string, dobs: string[] }

const DAY_MS = 24 * 3600_000
const KEEP_MS = 60 * DAY_MS
const LOCK_MS = 10 * 60_000
const BATCH = 500
// Crockford's base32: no I, L, O or U to misread on a phone or over the phone.
const ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ'

/** 16 characters, 80 random bits: unguessable, never sequential. */
export function confirmationNumber (): string {
  const bytes = randomBytes(10)
  let bits = 0n
  for (const b of bytes) bits = (bits << 8n) | BigInt(b)
  let out = ''
  for (let i = 0; i < 16; i++) {
    out = (ALPHABET[Number(bits & 31n)] as string) + out
    bits >>= 5n
  }
  return out
}

export const appointmentKey = (number: string) => storeKey(`apt.${number}`)
/** Selected requests of a pool day still to be confirmed, scored by their confirm-by time. */
export const deadlinesKey = (date: string) => storeKey(`alloc.${date}`, 'deadlines')
const seedKey = (date: string) => storeKey(`alloc.${date}`, 'seed')
const lockKey = (date: string) => storeKey(`alloc.${date}`, 'lock')
const sealKey = (date: string) => storeKey(`alloc.${date}`, 'seal')
const snapshotKey = (date: string) => storeKey(`alloc.${date}`, 'pool')
const beaconKey = (date: string) => storeKey(`alloc.${date}`, 'beacon')
const summaryKey = (date: string) => storeKey(`alloc.${date}`, 'summary')

export class AllocationService {
  readonly #stores: Stores
  readonly #clock: Clock
  readonly #rules: AllocationRules
  readonly #draw: (input: AllocationInput) => Promise<AllocationResult>
  readonly #signals: AllocationSignals
  readonly #dobDigest: (dateOfBirth: string) => string
  readonly #committed = new Map<string, string>()

  constructor (options: { stores: Stores, clock: Clock, rules: AllocationRules, draw: (input: AllocationInput) => Promise<AllocationResult>, dobDigest: (dateOfBirth: string) => string, signals?: AllocationSignals }) {
    this.#stores = options.stores
    this.#dobDigest = options.dobDigest
    this.#clock = options.clock
    this.#rules = options.rules
    this.#draw = options.draw
    this.#signals = options.signals ?? { drawn: () => {}, lapsed: () => {} }
  }

  /** The day's slots per port: the daily capacity split evenly over the slot times. */
  slots (): Record<string, Slot[]> {
    const times = this.#rules.slotTimes
    return Object.fromEntries(this.#rules.poes.map((poe) => {
      const share = Math.floor(poe.dailyCapacity / times.length)
      return [poe.slug, times.map((slot, i) => ({ slot, capacity: i < times.length - 1 ? share : poe.dailyCapacity - share * (times.length - 1) }))]
    }))
  }

  /**
   * The day's seed commitment, drawing the seed (SET NX: whichever instance asks first) if there
   * is none yet. `created` is true for the call that drew it. Remembered per instance.
   */
  async commit (date: string): Promise<{ commitment: string, created: boolean }> {
    const known = this.#committed.get(date)
    if (known !== undefined) return { commitment: known, created: false }
    const created = await this.#stores.kv.setIfAbsent(seedKey(date), randomBytes(32).toString('hex'), { ttlMs: KEEP_MS })
    const value = commitment(await this.#seed(date))
    this.#committed.set(date, value)
    if (this.#committed.size > 8) this.#committed.delete(this.#committed.keys().next().value as string)
    return { commitment: value, created }
  }

  async #seed (date: string): Promise<Buffer> {
    const hex = await this.#stores.kv.get(seedKey(date))
    if (hex === null) throw new GatewayError('GW_ERR_ALLOC_NOT_FOUND')
    return Buffer.from(hex, 'hex')
  }

  /** When the pool may be sealed and drawn: after its window closed and in-flight requests landed. */
  sealableAt (date: string): number {
    return poolDayTimes(date, this.#rules.schedule).closesAt + this.#rules.sealGraceMs
  }

  #assertSealable (date: string): void {
    const at = this.sealableAt(date)
    const now = this.#clock.now()
    if (now < at) throw new GatewayError('GW_ERR_ALLOC_TOO_EARLY', { retryAfterSeconds: Math.max(1, Math.ceil((at - now) / 1000)) })
  }

  /** The draw of a pool date at whatever stage it has reached. */
  async summary (date: string): Promise<AllocationSummary> {
    const { kv } = this.#stores
    const done = await kv.get(summaryKey(date))
    if (done !== null) return JSON.parse(done) as AllocationSummary
    const seed = await this.#seed(date)
    const [rawSeal, beacon] = await Promise.all([kv.get(sealKey(date)), kv.get(beaconKey(date))])
    const seal = rawSeal === null ? undefined : JSON.parse(rawSeal) as Seal
    return {
      ...this.#header(date, seal === undefined ? 'committed' : 'sealed', commitment(seed)),
      ...seal,
      ...(beacon === null ? {} : { beacon })
    }
  }

  #header (date: string, status: DrawState, value: string): Pick<AllocationSummary, 'date' | 'status' | 'commitment' | 'opensAt' | 'closesAt' | 'drawAt'> {
    const times = poolDayTimes(date, this.#rules.schedule)
    const iso = (ms: number) => new Date(ms).toISOString()
    return { date, status, commitment: value, opensAt: iso(times.opensAt), closesAt: iso(times.closesAt), drawAt: iso(times.drawAt) }
  }

  /** The full record for `npm run audit:allocation`, once the draw has run. */
  async record (date: string): Promise<DrawRecord> {
    const { kv } = this.#stores
    const [rawSummary, rawSnapshot] = await Promise.all([kv.get(summaryKey(date)), kv.get(snapshotKey(date))])
    if (rawSummary === null || rawSnapshot === null) throw new GatewayError('GW_ERR_ALLOC_NOT_FOUND')
    const summary = JSON.parse(rawSummary) as Required<AllocationSummary>
    const { entries, slots, oldestShare } = JSON.parse(rawSnapshot) as PoolSnapshot
    return {
      date,
      commitment: summary.commitment,
      serverSeed: summary.serverSeed,
      ...(summary.beacon === undefined ? {} : { beacon: summary.beacon }),
      poolDigest: summary.poolDigest,
      oldestShare,
      slots,
      entries,
      assignmentsDigest: summary.assignmentsDigest
    }
  }

  /**
   * Fixes the pool of a closed day and publishes its digest; idempotent. `created` is true for
   * the call that sealed it. Every instance reading a closed pool reads the same members, so two
   * racing seals write the same snapshot.
   */
  async seal (date: string): Promise<{ seal: Seal, created: boolean }> {
    const { kv } = this.#stores
    const existing = await kv.get(sealKey(date))
    if (existing !== null) return { seal: JSON.parse(existing) as Seal, created: false }
    this.#assertSealable(date)
    await this.#seed(date)
    const { entries, requests } = await this.#readPool(date)
    const pool = canonicalPool(entries)
    const seal: Seal = { poolDigest: poolDigest(pool), entries: pool.length, sealedAt: new Date(this.#clock.now()).toISOString() }
    const snapshot: PoolSnapshot = { entries: pool, requests: Object.fromEntries(requests), slots: this.slots(), oldestShare: this.#rules.oldestShare }
    await kv.setIfAbsent(snapshotKey(date), JSON.stringify(snapshot), { ttlMs: KEEP_MS })
    const created = await kv.setIfAbsent(sealKey(date), JSON.stringify(seal), { ttlMs: KEEP_MS })
    return { seal: created ? seal : JSON.parse(await kv.get(sealKey(date)) as string) as Seal, created }
  }

  /** Records the public beacon of a sealed, not yet drawn day; the same value again is a no-op. */
  async setBeacon (date: string, beacon: string): Promise<AllocationSummary> {
    const { kv } = this.#stores
    if (await kv.get(summaryKey(date)) !== null) throw new GatewayError('GW_ERR_ALLOC_BEACON_CONFLICT')
    if (await kv.get(sealKey(date)) === null) {
      // Only after the seal: a beacon known before the pool is fixed could be steered around.
      this.#assertSealable(date)
      await this.seal(date)
    }
    await kv.setIfAbsent(beaconKey(date), beacon, { ttlMs: KEEP_MS })
    if (await kv.get(beaconKey(date)) !== beacon) throw new GatewayError('GW_ERR_ALLOC_BEACON_CONFLICT')
    return this.summary(date)
  }

  async run (date: string, beacon?: string): Promise<AllocationSummary> {
    const { kv } = this.#stores
    const done = await kv.get(summaryKey(date))
    if (done !== null) return JSON.parse(done) as AllocationSummary
    this.#assertSealable(date)
    const token = randomBytes(16).toString('hex')
    if (!await kv.setIfAbsent(lockKey(date), token, { ttlMs: LOCK_MS })) throw new GatewayError('GW_ERR_ALLOC_IN_PROGRESS', { retryAfterSeconds: 30 })
    try {
      // Another instance may have finished between our first look and our lock.
      const finished = await kv.get(summaryKey(date))
      if (finished !== null) return JSON.parse(finished) as AllocationSummary
      const serverSeed = await this.#seed(date)
      const { seal } = await this.seal(date)
      if (beacon !== undefined) await kv.setIfAbsent(beaconKey(date), beacon, { ttlMs: KEEP_MS })
      const storedBeacon = await kv.get(beaconKey(date)) ?? undefined
      if (beacon !== undefined && storedBeacon !== beacon) throw new GatewayError('GW_ERR_ALLOC_BEACON_CONFLICT')
      const snapshot = JSON.parse(await kv.get(snapshotKey(date)) as string) as PoolSnapshot
      const result = await this.#draw({ entries: snapshot.entries, slots: snapshot.slots, oldestShare: snapshot.oldestShare, seed: drawSeed(serverSeed, seal.poolDigest, storedBeacon) })
      const ranAt = this.#clock.now()
      await this.#writeResults(date, snapshot.requests, result, ranAt)
      const summary: AllocationSummary = {
        ...this.#header(date, 'drawn', commitment(serverSeed)),
        ...seal,
        ...(storedBeacon === undefined ? {} : { beacon: storedBeacon }),
        serverSeed: serverSeed.toString('hex'),
        assignmentsDigest: assignmentsDigest(result),
        counts: result.counts,
        ranAt: new Date(ranAt).toISOString()
      }
      await kv.set(summaryKey(date), JSON.stringify(summary), { ttlMs: KEEP_MS })
      this.#signals.drawn(result.counts)
      return summary
    } finally {
      await kv.deleteIfEquals(lockKey(date), token).catch(() => {})
    }
  }

  /**
   * Marks the selected requests of a pool date whose confirm-by time passed (by more than the
   * grace) `lapsed`, releasing their places; returns how many. Confirmed ones just leave the list.
   */
  async sweepLapses (date: string): Promise<number> {
    const { kv, sortedSets } = this.#stores
    const cutoff = this.#clock.now() - this.#rules.lapseGraceMs
    let lapsed = 0
    for (;;) {
      const batch = await sortedSets.rangeByRank(deadlinesKey(date), 0, BATCH - 1)
      const due = batch.filter((m) => m.score <= cutoff)
      for (const { member: requestId } of due) {
        const raw = await kv.get(requestKey(requestId))
        const record = raw === null ? undefined : JSON.parse(raw) as AppointmentRequestRecord
        // The deadline in the list may be older than the record's (an extension moves both).
        if (record?.status === 'selected' && record.appointment !== undefined) {
          const deadline = Date.parse(record.appointment.confirmBy)
          if (deadline > cutoff) {
            await sortedSets.add(deadlinesKey(date), requestId, deadline)
            continue
          }
          await kv.set(requestKey(requestId), JSON.stringify({ ...record, status: 'lapsed' }), { ttlMs: KEEP_MS })
          lapsed++
          this.#signals.lapsed(record.poe)
        }
        await sortedSets.remove(deadlinesKey(date), requestId)
      }
      if (due.length < BATCH) return lapsed
    }
  }

  async #readPool (date: string): Promise<{ entries: PoolEntry[], requests: Map<string, string> }> {
    const { kv, sortedSets } = this.#stores
    const entries: PoolEntry[] = []
    const requests = new Map<string, string>()
    for (const { slug } of this.#rules.poes) {
      const members = await sortedSets.rangeByRank(poolKey(slug, date), 0, -1)
      // In batches: one pool day can hold hundreds of thousands of requests.
      for (let i = 0; i < members.length; i += BATCH) {
        await Promise.all(members.slice(i, i + BATCH).map(async ({ member }) => {
          const requestId = member.slice(0, member.lastIndexOf(':'))
          const rawRequest = await kv.get(requestKey(requestId))
          if (rawRequest === null) return
          const request = JSON.parse(rawRequest) as AppointmentRequestRecord
          const rawRegistration = await kv.get(registrationKey(request.registrationId))
          if (rawRegistration === null) return
          const registration = JSON.parse(rawRegistration) as RegistrationRecord
          requests.set(request.registrationId, request.requestId)
          entries.push({ registrationId: request.registrationId, createdAtMs: registration.createdAtMs, groupSize: request.groupSize, identities: registration.identities, poe: slug })
        }))
      }
    }
    return { entries, requests }
  }

  async #index (requestId: string, registrationId: string): Promise<AppointmentIndex> {
    const raw = await this.#stores.kv.get(registrationKey(registrationId))
    // Withdrawn since the seal: no date can match, and the request reads withdrawn anyway.
    const members = raw === null ? [] : (JSON.parse(raw) as RegistrationRecord).members
    const dobs = Array.from({ length: this.#rules.validationSlots }, (_, i) => {
      const member = members[i]
      return member === undefined ? fillerDigest() : this.#dobDigest(member.dateOfBirth)
    })
    return { requestId, registrationId, dobs }
  }

  async #writeResults (date: string, requests: Record<string, string>, result: AllocationResult, ranAt: number): Promise<void> {
    const { kv, sortedSets } = this.#stores
    const confirmBy = new Date(ranAt + this.#rules.confirmationHours * 3600_000).toISOString()
    const selected = new Map(result.assignments.map((a) => [a.registrationId, a]))
    const all = Object.entries(requests)
    for (let i = 0; i < all.length; i += BATCH) {
      await Promise.all(all.slice(i, i + BATCH).map(async ([registrationId, requestId]) => {
        const raw = await kv.get(requestKey(requestId))
        if (raw === null) return
        const request = JSON.parse(raw) as AppointmentRequestRecord
        const assignment = selected.get(registrationId)
        if (assignment === undefined) {
          if (request.status === 'pooled') await kv.set(requestKey(requestId), JSON.stringify({ ...request, status: 'not-selected' }), { ttlMs: KEEP_MS })
          return
        }
        let appointment = request.appointment
        if (request.status === 'pooled') {
          appointment = { poe: assignment.poe, date, slot: assignment.slot, confirmationNumber: confirmationNumber(), confirmBy }
          await kv.set(requestKey(requestId), JSON.stringify({ ...request, status: 'selected', appointment }), { ttlMs: KEEP_MS })
        }
        // A rerun after a crash finds its earlier result (or a later state) and only makes sure
        // the number leads to it and its deadline is on the list.
        if (appointment === undefined || appointment.date !== date) return
        await kv.set(appointmentKey(appointment.confirmationNumber), JSON.stringify(await this.#index(requestId, registrationId)), { ttlMs: KEEP_MS })
        if (request.status === 'pooled' || request.status === 'selected') {
          await sortedSets.add(deadlinesKey(date), requestId, Date.parse(appointment.confirmBy), { onlyIfAbsent: true, ttlMs: KEEP_MS })
        }
      }))
    }
  }
}
