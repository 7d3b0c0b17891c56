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
import { storeKey, type StoreKey } from '../store/keys.js'
import type { Stores } from '../store/ports.js'
import type { AllocationInput, AllocationResult, PoeCounts, PoolEntry, Slot } from '../../workers/allocation.js'
import { poolKey, requestKey, type AppointmentRequestRecord } from './appointment-requests.js'
import { assignmentsDigest, canonicalPool, commitment, drawSeed, poolDigest, type DrawRecord } from './draw-audit.js'
import type { DomainEvent, EventPublisher } from './events.js'
import { fairnessFigures, type FairnessFigures, type FairnessRules } from './fairness.js'
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
  /** Entrants and winners by language, nationality, registration age and group size (fairness.ts). */
  fairness?: FairnessFigures
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
  fairness: FairnessRules
}

/** What the draw and the sweep report, for metrics. */
export interface AllocationSignals {
  drawn(counts: Record<string, PoeCounts>, fairness: FairnessFigures): void
  lapsed(poe: string): void
}

/**
 * The draw's whole input, fixed at the seal: the digest of the pool, the slots and share in force
 * (a config change after the seal cannot move the draw), and how many chunks hold the pool.
 */
interface Seal { poolDigest: string, entries: number, sealedAt: string, chunks: number, slots: Record<string, Slot[]>, oldestShare: number }
/**
 * Part of the sealed pool in canonical order, with each entry's request id and its coarse traits
 * for the fairness figures: [preferred language, nationality of the first member]. Seals made
 * before the traits were kept have none; their figures say `unknown`.
 */
interface SnapshotChunk { entries: PoolEntry[], requests: string[], traits?: Array<[string, string]> }

/** What the summary shows of a seal. */
function publicSeal (seal: Seal): Pick<AllocationSummary, 'poolDigest' | 'entries' | 'sealedAt'> {
  return { poolDigest: seal.poolDigest, entries: seal.entries, sealedAt: seal.sealedAt }
}
/**
 * What a confirmation number leads to, and what partner validation checks: one keyed digest per
 * member's date of birth, padded with random ones to a fixed count (gateway/domain/partner-validation.ts).
 */
export interface AppointmentIndex { requestId: string, registrationId: string, dobs: string[] }

const DAY_MS = 24 * 3600_000
const KEEP_MS = 60 * DAY_MS
const LOCK_MS = 10 * 60_000
const BATCH = 500
const CHUNK = 20_000
// Stored as the beacon when a draw ran without one, so none can be set afterwards; a space, which
// no beacon may contain (schemas/allocation.ts), so it never reads as one.
const NO_BEACON = ' none'
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
const chunkKey = (date: string, i: number) => storeKey(`alloc.${date}`, 'pool', String(i))
const beaconKey = (date: string) => storeKey(`alloc.${date}`, 'beacon')
const summaryKey = (date: string) => storeKey(`alloc.${date}`, 'summary')

export class AllocationService {
  readonly #stores: Stores
  readonly #clock: Clock
  readonly #rules: AllocationRules
  readonly #draw: (input: AllocationInput) => Promise<AllocationResult>
  readonly #signals: AllocationSignals
  readonly #dobDigest: (dateOfBirth: string) => string
  readonly #events: EventPublisher
  readonly #committed = new Map<string, string>()

  readonly #chunkSize: number
  readonly #newSeed: (date: string) => Buffer

  /**
   * `newSeed` draws a date's server seed (32 random bytes by default); a simulation that must
   * replay exactly (npm run report:fairness) derives it instead. Never set in the gateway.
   */
  constructor (options: { stores: Stores, clock: Clock, rules: AllocationRules, draw: (input: AllocationInput) => Promise<AllocationResult>, dobDigest: (dateOfBirth: string) => string, events: EventPublisher, signals?: AllocationSignals, chunkSize?: number, newSeed?: (date: string) => Buffer }) {
    this.#chunkSize = options.chunkSize ?? CHUNK
    this.#newSeed = options.newSeed ?? (() => randomBytes(32))
    this.#events = options.events
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
    const created = await this.#stores.kv.setIfAbsent(seedKey(date), this.#newSeed(date).toString('hex'), { ttlMs: KEEP_MS })
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
      ...(seal === undefined ? {} : publicSeal(seal)),
      ...(beacon === null || beacon === NO_BEACON ? {} : { beacon })
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
    const [rawSummary, rawSeal] = await Promise.all([kv.get(summaryKey(date)), kv.get(sealKey(date))])
    if (rawSummary === null || rawSeal === null) throw new GatewayError('GW_ERR_ALLOC_NOT_FOUND')
    const summary = JSON.parse(rawSummary) as Required<AllocationSummary>
    const seal = JSON.parse(rawSeal) as Seal
    const { entries } = await this.#snapshot(date, seal)
    return {
      date,
      commitment: summary.commitment,
      serverSeed: summary.serverSeed,
      ...(summary.beacon === undefined ? {} : { beacon: summary.beacon }),
      poolDigest: summary.poolDigest,
      oldestShare: seal.oldestShare,
      slots: seal.slots,
      entries,
      assignmentsDigest: summary.assignmentsDigest,
      ...(summary.fairness === undefined ? {} : { fairness: summary.fairness })
    }
  }

  // Registration ages are taken at the draw's scheduled time, not when it happened to run, so a
  // rerun or a late catch-up gives the same figures.
  #fairness (date: string, snapshot: { entries: PoolEntry[], traits: Array<[string, string]> }, result: AllocationResult): FairnessFigures {
    const won = new Set(result.assignments.map((a) => a.registrationId))
    const entrants = snapshot.entries.map((e, i) => {
      const [language, nationality] = snapshot.traits[i] as [string, string]
      return { language, nationality, createdAtMs: e.createdAtMs, groupSize: e.groupSize, won: won.has(e.registrationId) }
    })
    return fairnessFigures(entrants, poolDayTimes(date, this.#rules.schedule).drawAt, this.#rules.fairness)
  }

  /** How many entries wait in a pool date's pools right now (the draw's input before the seal). */
  async pooled (date: string): Promise<number> {
    const counts = await Promise.all(this.#rules.poes.map(async ({ slug }) => this.#stores.sortedSets.count(poolKey(slug, date))))
    return counts.reduce((a, b) => a + b, 0)
  }

  // Runs `work` holding the date's lock, or refuses with IN_PROGRESS: one instance seals or draws
  // a date at a time. The lock expires, so a crashed holder never blocks a date for good.
  async #locked<T> (date: string, work: () => Promise<T>): Promise<T> {
    const { kv } = this.#stores
    const token = randomBytes(16).toString('hex')
    if (!await kv.setIfAbsent(lockKey(date), token, { ttlMs: LOCK_MS })) throw new GatewayError('GW_ERR_ALLOC_IN_PROGRESS', { retryAfterSeconds: 30 })
    try {
      return await work()
    } finally {
      await kv.deleteIfEquals(lockKey(date), token).catch(() => {})
    }
  }

  /**
   * Fixes the pool of a closed day and publishes its digest; idempotent. `created` is true for
   * the call that sealed it.
   */
  async seal (date: string): Promise<{ seal: Seal, created: boolean }> {
    const existing = await this.#stores.kv.get(sealKey(date))
    if (existing !== null) return { seal: JSON.parse(existing) as Seal, created: false }
    this.#assertSealable(date)
    return this.#locked(date, async () => this.#sealLocked(date))
  }

  // Under the lock. The snapshot goes in chunks (a value of hundreds of MB would stall Redis and
  // its replicas), then the seal, which names the chunks and carries the digest of exactly what
  // they hold: a crash before the seal leaves chunks that the next attempt overwrites.
  async #sealLocked (date: string): Promise<{ seal: Seal, created: boolean }> {
    const { kv } = this.#stores
    const existing = await kv.get(sealKey(date))
    if (existing !== null) return { seal: JSON.parse(existing) as Seal, created: false }
    await this.#seed(date)
    const { entries, requests, traits } = await this.#readPool(date)
    const pool = canonicalPool(entries)
    const chunks = Math.ceil(pool.length / this.#chunkSize)
    for (let i = 0; i < chunks; i++) {
      const part = pool.slice(i * this.#chunkSize, (i + 1) * this.#chunkSize)
      const chunk: SnapshotChunk = { entries: part, requests: part.map((e) => requests.get(e.registrationId) as string), traits: part.map((e) => traits.get(e.registrationId) as [string, string]) }
      await kv.set(chunkKey(date, i), JSON.stringify(chunk), { ttlMs: KEEP_MS })
    }
    const seal: Seal = { poolDigest: poolDigest(pool), entries: pool.length, sealedAt: new Date(this.#clock.now()).toISOString(), chunks, slots: this.slots(), oldestShare: this.#rules.oldestShare }
    await kv.set(sealKey(date), JSON.stringify(seal), { ttlMs: KEEP_MS })
    return { seal, created: true }
  }

  async #snapshot (date: string, seal: Seal): Promise<{ entries: PoolEntry[], requests: Array<[string, string]>, traits: Array<[string, string]> }> {
    const entries: PoolEntry[] = []
    const requests: Array<[string, string]> = []
    const traits: Array<[string, string]> = []
    for (let i = 0; i < seal.chunks; i++) {
      const raw = await this.#stores.kv.get(chunkKey(date, i))
      if (raw === null) throw new Error(`the sealed pool of ${date} lost its chunk ${i}`)
      const chunk = JSON.parse(raw) as SnapshotChunk
      chunk.entries.forEach((entry, j) => {
        entries.push(entry)
        requests.push([entry.registrationId, chunk.requests[j] as string])
        traits.push(chunk.traits?.[j] ?? ['', ''])
      })
    }
    return { entries, requests, traits }
  }

  /**
   * Records the public beacon of a sealed, not yet drawn day; the same value again is a no-op.
   * The draw freezes the beacon before it reads it, so one set later is refused, never ignored.
   */
  async setBeacon (date: string, beacon: string): Promise<AllocationSummary> {
    const { kv } = this.#stores
    if (await kv.get(summaryKey(date)) !== null) throw new GatewayError('GW_ERR_ALLOC_BEACON_CONFLICT')
    if (await kv.get(lockKey(date)) !== null) throw new GatewayError('GW_ERR_ALLOC_IN_PROGRESS', { retryAfterSeconds: 30 })
    // Only after the seal: a beacon known before the pool is fixed could be steered around.
    await this.seal(date)
    await kv.setIfAbsent(beaconKey(date), beacon, { ttlMs: KEEP_MS })
    if (await kv.get(beaconKey(date)) !== beacon) throw new GatewayError('GW_ERR_ALLOC_BEACON_CONFLICT')
    return this.summary(date)
  }

  async run (date: string, beacon?: string): Promise<AllocationSummary> {
    const { kv } = this.#stores
    const done = await kv.get(summaryKey(date))
    if (done !== null) return JSON.parse(done) as AllocationSummary
    this.#assertSealable(date)
    return this.#locked(date, async () => {
      // Another instance may have finished between our first look and our lock.
      const finished = await kv.get(summaryKey(date))
      if (finished !== null) return JSON.parse(finished) as AllocationSummary
      const serverSeed = await this.#seed(date)
      const { seal } = await this.#sealLocked(date)
      // Freeze the beacon: a value set from now on is refused, not silently left out.
      await kv.setIfAbsent(beaconKey(date), beacon ?? NO_BEACON, { ttlMs: KEEP_MS })
      const stored = await kv.get(beaconKey(date)) as string
      if (beacon !== undefined && stored !== beacon) throw new GatewayError('GW_ERR_ALLOC_BEACON_CONFLICT')
      const storedBeacon = stored === NO_BEACON ? undefined : stored
      const snapshot = await this.#snapshot(date, seal)
      const result = await this.#draw({ entries: snapshot.entries, slots: seal.slots, oldestShare: seal.oldestShare, seed: drawSeed(serverSeed, seal.poolDigest, storedBeacon) })
      const ranAt = this.#clock.now()
      const fairness = this.#fairness(date, snapshot, result)
      await this.#writeResults(date, snapshot.requests, result, ranAt)
      await this.#closeStragglers(date, new Set(snapshot.requests.map(([, requestId]) => requestId)))
      const summary: AllocationSummary = {
        ...this.#header(date, 'drawn', commitment(serverSeed)),
        ...publicSeal(seal),
        ...(storedBeacon === undefined ? {} : { beacon: storedBeacon }),
        serverSeed: serverSeed.toString('hex'),
        assignmentsDigest: assignmentsDigest(result),
        counts: result.counts,
        fairness,
        ranAt: new Date(ranAt).toISOString()
      }
      await kv.set(summaryKey(date), JSON.stringify(summary), { ttlMs: KEEP_MS })
      this.#signals.drawn(result.counts, fairness)
      return summary
    })
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
        let record = raw === null ? undefined : JSON.parse(raw) as AppointmentRequestRecord
        // The deadline in the list may be older than the record's (an extension moves both).
        if (record?.status === 'selected' && record.appointment !== undefined) {
          const deadline = Date.parse(record.appointment.confirmBy)
          if (deadline > cutoff) {
            await sortedSets.add(deadlinesKey(date), requestId, deadline)
            continue
          }
          // Compare-and-set: a confirmation or withdrawal written since our read wins, and the
          // next sweep looks at the entry again.
          const next: AppointmentRequestRecord = { ...record, status: 'lapsed' }
          if (!await kv.replaceIfEquals(requestKey(requestId), raw as string, JSON.stringify(next), { ttlMs: KEEP_MS })) continue
          record = next
          lapsed++
          this.#signals.lapsed(record.poe)
        }
        // The entry leaves the list only after its event is appended: a sweep that died in
        // between finds it lapsed and appends again, under the same id.
        if (record?.status === 'lapsed' && record.appointment?.date === date) await this.#events.append(outcomeEvent(record, this.#clock.now()))
        await sortedSets.remove(deadlinesKey(date), requestId)
      }
      if (due.length < BATCH) return lapsed
    }
  }

  // Pages through each port's pool (one ZRANGE of a million members would outlast the command
  // timeout) and reads each entry's request and registration, in batches.
  async #readPool (date: string): Promise<{ entries: PoolEntry[], requests: Map<string, string>, traits: Map<string, [string, string]> }> {
    const { kv } = this.#stores
    const entries: PoolEntry[] = []
    const requests = new Map<string, string>()
    const traits = new Map<string, [string, string]>()
    for (const { slug } of this.#rules.poes) {
      for await (const members of this.#pages(poolKey(slug, date))) {
        await Promise.all(members.map(async (member) => {
          const requestId = member.slice(0, member.lastIndexOf(':'))
          const rawRequest = await kv.get(requestKey(requestId))
          if (rawRequest === null) return
          const request = JSON.parse(rawRequest) as AppointmentRequestRecord
          // Withdrawn after the close (the pool is no longer edited then), or read twice.
          if (request.status !== 'pooled' || requests.has(request.registrationId)) return
          const rawRegistration = await kv.get(registrationKey(request.registrationId))
          if (rawRegistration === null) return
          const registration = JSON.parse(rawRegistration) as RegistrationRecord
          requests.set(request.registrationId, request.requestId)
          traits.set(request.registrationId, [registration.preferredLanguage ?? '', registration.members[0]?.nationality ?? ''])
          entries.push({ registrationId: request.registrationId, createdAtMs: registration.createdAtMs, groupSize: request.groupSize, identities: registration.identities, poe: slug })
        }))
      }
    }
    return { entries, requests, traits }
  }

  async * #pages (key: StoreKey): AsyncGenerator<string[]> {
    for (let start = 0; ; start += BATCH) {
      const page = await this.#stores.sortedSets.rangeByRank(key, start, start + BATCH - 1)
      if (page.length > 0) yield page.map((m) => m.member)
      if (page.length < BATCH) return
    }
  }

  // A request whose pool entry landed after the seal (it took longer than the grace to write)
  // is in no draw: it gets a final answer, not-selected, instead of waiting forever.
  async #closeStragglers (date: string, sealed: Set<string>): Promise<void> {
    for (const { slug } of this.#rules.poes) {
      for await (const members of this.#pages(poolKey(slug, date))) {
        for (const member of members) {
          const requestId = member.slice(0, member.lastIndexOf(':'))
          if (sealed.has(requestId)) continue
          const record = await this.#update(requestId, (r) => r.status === 'pooled' ? { ...r, status: 'not-selected' } : undefined)
          if (record?.status === 'not-selected' && record.poolDate === date) await this.#events.append(outcomeEvent(record, this.#clock.now()))
        }
      }
    }
  }

  /**
   * Read-change-write of one request by compare-and-set, retried when another write came in
   * between; `change` returns undefined to leave the record as it is. The record as written (or
   * as found, when unchanged), or undefined when it is gone.
   */
  async #update (requestId: string, change: (r: AppointmentRequestRecord) => AppointmentRequestRecord | undefined): Promise<AppointmentRequestRecord | undefined> {
    const { kv } = this.#stores
    for (;;) {
      const raw = await kv.get(requestKey(requestId))
      if (raw === null) return undefined
      const record = JSON.parse(raw) as AppointmentRequestRecord
      const next = change(record)
      if (next === undefined) return record
      if (await kv.replaceIfEquals(requestKey(requestId), raw, JSON.stringify(next), { ttlMs: KEEP_MS })) return next
    }
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

  async #writeResults (date: string, requests: Array<[string, string]>, result: AllocationResult, ranAt: number): Promise<void> {
    const { kv, sortedSets } = this.#stores
    const confirmBy = new Date(ranAt + this.#rules.confirmationHours * 3600_000).toISOString()
    const selected = new Map(result.assignments.map((a) => [a.registrationId, a]))
    for (let i = 0; i < requests.length; i += BATCH) {
      await Promise.all(requests.slice(i, i + BATCH).map(async ([registrationId, requestId]) => {
        const assignment = selected.get(registrationId)
        // Only a request still pooled takes a result: one withdrawn meanwhile stays withdrawn, and
        // one a crashed run (or a racing one) already answered keeps its answer and its number.
        const record = await this.#update(requestId, (r) => {
          if (r.status !== 'pooled') return undefined
          if (assignment === undefined) return { ...r, status: 'not-selected' }
          return { ...r, status: 'selected', appointment: { poe: assignment.poe, date, slot: assignment.slot, confirmationNumber: confirmationNumber(), confirmBy } }
        })
        if (record === undefined) return
        // Each outcome goes to the backend after it is written (and, for a place, after its number
        // validates), before the run can finish: a run that died half way is run again, and
        // appends again under the same ids.
        if (assignment === undefined) {
          if (record.status === 'not-selected' && record.poolDate === date) await this.#events.append(outcomeEvent(record, ranAt))
          return
        }
        const appointment = record.appointment
        if (appointment === undefined || appointment.date !== date) return
        if (record.status !== 'selected' && record.status !== 'confirmed') return
        // Idempotent, so a rerun makes sure the number leads to the request and its deadline is listed.
        await kv.set(appointmentKey(appointment.confirmationNumber), JSON.stringify(await this.#index(requestId, registrationId)), { ttlMs: KEEP_MS })
        if (record.status === 'selected') await sortedSets.add(deadlinesKey(date), requestId, Date.parse(appointment.confirmBy), { onlyIfAbsent: true, ttlMs: KEEP_MS })
        await this.#events.append(outcomeEvent(record, ranAt))
      }))
    }
  }
}

/** What became of a drawn request, for the backend: selected (with its place), not selected, or lapsed. */
function outcomeEvent (record: AppointmentRequestRecord, time: number): DomainEvent {
  const base = { requestId: record.requestId, registrationId: record.registrationId, poe: record.poe, poolDate: record.poolDate }
  const appointment = record.appointment
  if (record.status === 'not-selected' || appointment === undefined) {
    return { type: 'appointment.not-selected', about: record.requestId, registrationId: record.registrationId, time, payload: base }
  }
  if (record.status === 'lapsed') {
    return { type: 'appointment.lapsed', about: record.requestId, registrationId: record.registrationId, time, payload: { ...base, confirmationNumber: appointment.confirmationNumber, date: appointment.date } }
  }
  return {
    type: 'appointment.allocated',
    about: record.requestId,
    registrationId: record.registrationId,
    time,
    payload: { ...base, date: appointment.date, slot: appointment.slot, confirmationNumber: appointment.confirmationNumber, confirmBy: appointment.confirmBy }
  }
}
