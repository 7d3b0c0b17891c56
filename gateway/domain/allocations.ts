// Runs one pool day's draw: commit to a seed before the day's first request is pooled, read the
// pool, draw on a worker thread, write each request's result, and keep the record that lets
// anyone replay the draw (gateway/domain/draw-audit.ts). One run per date: a lock with expiry
// keeps two instances from drawing at once, and a finished run is returned as it was.
//
// Steps and what a failure leaves: the lock and the seed are single SET NX steps; results are
// written request by request and then the summary. If the run dies half way, the lock expires
// and a new run draws again from the same seed and pool, so it writes the same results over the
// partial ones (the draw is a pure function), then the summary.
import { randomBytes } from 'node:crypto'
import { GatewayError } from '../errors.js'
import type { Clock } from '../store/clock.js'
import { storeKey } from '../store/keys.js'
import type { Stores } from '../store/ports.js'
import type { AllocationInput, AllocationResult, PoeCounts, PoolEntry, Slot } from '../../workers/allocation.js'
import { poolKey, requestKey, type AppointmentRequestRecord } from './appointment-requests.js'
import { assignmentsDigest, canonicalPool, commitment, drawSeed, poolDigest, type DrawRecord } from './draw-audit.js'
import { registrationKey, type RegistrationRecord } from './registrations.js'

export interface AllocationSummary {
  date: string
  commitment: string
  /** Revealed once the draw has run. */
  serverSeed: string
  beacon?: string
  poolDigest: string
  assignmentsDigest: string
  entries: number
  counts: Record<string, PoeCounts>
  ranAt: string
}

export interface AllocationRules {
  oldestShare: number
  slotTimes: readonly string[]
  confirmationHours: number
  poes: ReadonlyArray<{ slug: string, dailyCapacity: number }>
}

const DAY_MS = 24 * 3600_000
const KEEP_MS = 60 * DAY_MS
const LOCK_MS = 10 * 60_000
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
const seedKey = (date: string) => storeKey(`alloc.${date}`, 'seed')
const lockKey = (date: string) => storeKey(`alloc.${date}`, 'lock')
const summaryKey = (date: string) => storeKey(`alloc.${date}`, 'summary')
const recordKey = (date: string) => storeKey(`alloc.${date}`, 'record')

export class AllocationService {
  readonly #stores: Stores
  readonly #clock: Clock
  readonly #rules: AllocationRules
  readonly #draw: (input: AllocationInput) => Promise<AllocationResult>
  readonly #committed = new Map<string, string>()

  constructor (options: { stores: Stores, clock: Clock, rules: AllocationRules, draw: (input: AllocationInput) => Promise<AllocationResult> }) {
    this.#stores = options.stores
    this.#clock = options.clock
    this.#rules = options.rules
    this.#draw = options.draw
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
   * The day's seed commitment, drawing the seed on first use. Called before a request is pooled,
   * so the commitment exists before any entry does; remembered per instance after the first call.
   */
  async commit (date: string): Promise<string> {
    const known = this.#committed.get(date)
    if (known !== undefined) return known
    const value = commitment(await this.#seed(date))
    this.#committed.set(date, value)
    return value
  }

  // The day's server seed, drawn by whichever instance asks first (SET NX), read by all.
  async #seed (date: string): Promise<Buffer> {
    await this.#stores.kv.setIfAbsent(seedKey(date), randomBytes(32).toString('hex'), { ttlMs: KEEP_MS })
    return Buffer.from(await this.#stores.kv.get(seedKey(date)) as string, 'hex')
  }

  async summary (date: string): Promise<AllocationSummary> {
    const raw = await this.#stores.kv.get(summaryKey(date))
    if (raw === null) throw new GatewayError('GW_ERR_ALLOC_NOT_FOUND')
    return JSON.parse(raw) as AllocationSummary
  }

  /** The full record for `npm run audit:allocation`. */
  async record (date: string): Promise<DrawRecord> {
    const raw = await this.#stores.kv.get(recordKey(date))
    if (raw === null) throw new GatewayError('GW_ERR_ALLOC_NOT_FOUND')
    return JSON.parse(raw) as DrawRecord
  }

  async run (date: string, beacon?: string): Promise<AllocationSummary> {
    const { kv } = this.#stores
    const done = await kv.get(summaryKey(date))
    if (done !== null) return JSON.parse(done) as AllocationSummary
    const token = randomBytes(16).toString('hex')
    if (!await kv.setIfAbsent(lockKey(date), token, { ttlMs: LOCK_MS })) throw new GatewayError('GW_ERR_ALLOC_IN_PROGRESS', { retryAfterSeconds: 30 })
    try {
      const serverSeed = await this.#seed(date)
      const { entries, requests } = await this.#readPool(date)
      const digest = poolDigest(entries)
      const slots = this.slots()
      const pool = canonicalPool(entries)
      const result = await this.#draw({ entries: pool, slots, oldestShare: this.#rules.oldestShare, seed: drawSeed(serverSeed, digest, beacon) })
      const ranAt = this.#clock.now()
      await this.#writeResults(date, requests, result, ranAt)
      const summary: AllocationSummary = {
        date,
        commitment: commitment(serverSeed),
        serverSeed: serverSeed.toString('hex'),
        ...(beacon === undefined ? {} : { beacon }),
        poolDigest: digest,
        assignmentsDigest: assignmentsDigest(result),
        entries: entries.length,
        counts: result.counts,
        ranAt: new Date(ranAt).toISOString()
      }
      const record: DrawRecord = {
        date,
        commitment: summary.commitment,
        serverSeed: summary.serverSeed,
        ...(beacon === undefined ? {} : { beacon }),
        poolDigest: digest,
        oldestShare: this.#rules.oldestShare,
        slots,
        entries: pool,
        assignmentsDigest: summary.assignmentsDigest
      }
      await kv.set(recordKey(date), JSON.stringify(record), { ttlMs: KEEP_MS })
      await kv.set(summaryKey(date), JSON.stringify(summary), { ttlMs: KEEP_MS })
      return summary
    } finally {
      await kv.deleteIfEquals(lockKey(date), token).catch(() => {})
    }
  }

  async #readPool (date: string): Promise<{ entries: PoolEntry[], requests: Map<string, AppointmentRequestRecord> }> {
    const { kv, sortedSets } = this.#stores
    const entries: PoolEntry[] = []
    const requests = new Map<string, AppointmentRequestRecord>()
    for (const { slug } of this.#rules.poes) {
      const members = await sortedSets.rangeByRank(poolKey(slug, date), 0, -1)
      // In batches: one pool day can hold hundreds of thousands of requests.
      for (let i = 0; i < members.length; i += 500) {
        await Promise.all(members.slice(i, i + 500).map(async ({ member }) => {
          const requestId = member.slice(0, member.lastIndexOf(':'))
          const rawRequest = await kv.get(requestKey(requestId))
          if (rawRequest === null) return
          const request = JSON.parse(rawRequest) as AppointmentRequestRecord
          const rawRegistration = await kv.get(registrationKey(request.registrationId))
          if (rawRegistration === null) return
          const registration = JSON.parse(rawRegistration) as RegistrationRecord
          requests.set(request.registrationId, request)
          entries.push({ registrationId: request.registrationId, createdAtMs: registration.createdAtMs, groupSize: request.groupSize, identities: registration.identities, poe: slug })
        }))
      }
    }
    return { entries, requests }
  }

  async #writeResults (date: string, requests: Map<string, AppointmentRequestRecord>, result: AllocationResult, ranAt: number): Promise<void> {
    const { kv } = this.#stores
    const confirmBy = new Date(ranAt + this.#rules.confirmationHours * 3600_000).toISOString()
    const selected = new Map(result.assignments.map((a) => [a.registrationId, a]))
    const all = [...requests.values()]
    for (let i = 0; i < all.length; i += 500) {
      await Promise.all(all.slice(i, i + 500).map(async (request) => {
        const assignment = selected.get(request.registrationId)
        let updated: AppointmentRequestRecord
        if (assignment === undefined) {
          updated = { ...request, status: 'not-selected' }
        } else {
          // A rerun after a crash keeps the number already given.
          const number = request.appointment?.confirmationNumber ?? confirmationNumber()
          updated = { ...request, status: 'selected', appointment: { poe: assignment.poe, date, slot: assignment.slot, confirmationNumber: number, confirmBy } }
          await kv.set(appointmentKey(number), JSON.stringify({ requestId: request.requestId, registrationId: request.registrationId, owner: request.owner, poe: assignment.poe, date, slot: assignment.slot, confirmBy }), { ttlMs: KEEP_MS })
        }
        await kv.set(requestKey(request.requestId), JSON.stringify(updated), { ttlMs: KEEP_MS })
      }))
    }
  }
}
