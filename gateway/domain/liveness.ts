// Liveness checks: a photo of one member of a registration, pre-checked here and decided by the
// vendor, whose contract (rate and total) the gateway never exceeds. No Fastify, no Redis: state
// goes through the store ports, photo decoding through a worker pool, the vendor through a port.
//
// Upload (the request waits for all of it; a refusal is a 4xx that says what to do):
//   1. ownership, member index, the header of the bytes (format by magic bytes, dimensions, pixel
//      count: a decompression bomb is refused before anything decodes it);
//   2. budget left and room in the vendor queue, or 503 with Retry-After;
//   3. decode and judge the photo on a worker thread (exposure, blur, perceptual hash); a poor
//      photo is refused with its reason;
//   4. keep the re-encoded photo (small, metadata stripped) and the record, then enqueue the id:
//      from here the check survives a restart of any instance.
// Dispatch (every instance, continuously): claim the oldest queued id with a lease (SET NX PX),
// reserve one scan of the budget, call the vendor through the contract limiter, write the result
// by compare-and-set, append liveness.decided to the outbox, and only then take the id out of
// the queue. A crashed claim's lease expires and another instance takes the id; the vendor sees
// the same Idempotency-Key again, and a decided check's event is appended again under its id.
import { GatewayError, type ErrorCode } from '../errors.js'
import type { Clock } from '../store/clock.js'
import { storeKey } from '../store/keys.js'
import type { Stores } from '../store/ports.js'
import type { PhotoCheckResult, PhotoReason } from '../../workers/liveness.js'
import type { DomainEvent, EventPublisher } from './events.js'
import { dhashDistance } from './photo-hash.js'
import { inspectPhoto, type PhotoLimits } from './photo-header.js'
import { randomId, type RegistrationService } from './registrations.js'

export type LivenessStatus = 'checking' | 'queued' | 'passed' | 'failed'

/** What the store keeps of one check: never the photo's content, which lives apart and briefly. */
export interface LivenessRecord {
  livenessId: string
  owner: string
  registrationId: string
  memberIndex: number
  /** checking from upload until the vendor answers (queued is derived from the queue). */
  status: 'checking' | 'passed' | 'failed'
  /** Why a check failed: the vendor found no live person, or it waited longer than photos are kept. */
  reason?: 'not_live' | 'expired'
  createdAt: string
  decidedAt?: string
  /** Fraud signals seen (photo_reused: the same photo on another registration). */
  flags?: string[]
}

export interface LivenessView {
  livenessId: string
  registrationId: string
  memberIndex: number
  status: LivenessStatus
  /** While queued: checks ahead of this one, this one included. */
  position?: number
  estimatedWaitSeconds?: number
  reason?: 'not_live' | 'expired'
}

/** Decodes and judges a photo off the event loop (the piscina pool). */
export interface PhotoChecker {
  check(photo: Uint8Array): Promise<PhotoCheckResult>
}

/** The vendor seen from the domain: a scan's verdict, or an error saying when it is worth trying again. */
export interface LivenessVendorPort {
  readonly configured: boolean
  scan(reference: string, photo: Uint8Array): Promise<'pass' | 'fail'>
}

/** Thrown by a PhotoChecker whose queue is full. */
export class CheckerBusyError extends Error {
  constructor () {
    super('the photo check queue is full')
    this.name = 'CheckerBusyError'
  }
}

/** Thrown by the vendor port when the vendor has refused the contract's total (HTTP 402). */
export class VendorBudgetError extends Error {
  constructor () {
    super('the vendor refuses further scans: the contract total is spent')
    this.name = 'VendorBudgetError'
  }
}

export interface LivenessRules {
  limits: PhotoLimits
  maxPhotoBytes: number
  vendorQueueMax: number
  totalScans: number
  /** Scans per second the gateway paces at, across instances (contract rate times pacing). */
  pacedRate: number
  maxConcurrent: number
  resultTtlMs: number
  /** How long a claimed check stays with an instance that stopped renewing it (it renews every third). */
  leaseMs: number
  /** How long a waiting photo is kept: a check still queued then fails with reason expired. */
  photoTtlMs: number
  /** How long sending stops after the vendor says the contract is spent (HTTP 402). */
  refusedPauseMs: number
  /** How long a check waits after the vendor could not be reached before it is tried again. */
  retryDelayMs: number
  /** How often an idle dispatcher looks at the queue. */
  idleMs: number
}

export interface LivenessSignals {
  uploaded(outcome: 'accepted' | PhotoReason | 'format' | 'empty' | 'truncated' | 'check_error'): void
  flagged(reason: 'photo_reused'): void
  decided(outcome: 'pass' | 'fail'): void
  /** A vendor attempt that did not give a verdict (it goes back in the queue). */
  deferred(reason: 'unavailable' | 'budget'): void
  /** The dispatcher hit an error of its own (the store away, a bug); it goes on. */
  failed(err: unknown): void
}

const REASON_ERRORS: Record<PhotoReason, ErrorCode> = {
  unreadable: 'GW_ERR_LIVENESS_PHOTO_UNREADABLE',
  dimensions: 'GW_ERR_LIVENESS_PHOTO_DIMENSIONS',
  too_dark: 'GW_ERR_LIVENESS_TOO_DARK',
  too_bright: 'GW_ERR_LIVENESS_TOO_BRIGHT',
  backlit: 'GW_ERR_LIVENESS_BACKLIT',
  blurred: 'GW_ERR_LIVENESS_BLURRED'
}
const HEADER_ERRORS = {
  empty: 'GW_ERR_LIVENESS_PHOTO_EMPTY',
  format: 'GW_ERR_LIVENESS_PHOTO_FORMAT',
  truncated: 'GW_ERR_LIVENESS_PHOTO_UNREADABLE',
  dimensions: 'GW_ERR_LIVENESS_PHOTO_DIMENSIONS'
} as const satisfies Record<string, ErrorCode>

export const livenessKey = (id: string) => storeKey(`liv.${id}`)
/** Set to the passing check's id once a member of a registration has passed. */
export const memberPassKey = (registrationId: string, memberIndex: number) => storeKey(`reg.${registrationId}`, 'liv', String(memberIndex))
const photoKey = (id: string) => storeKey(`liv.${id}`, 'photo')
const leaseKey = (id: string) => storeKey(`liv.${id}`, 'lease')
// One queue for every instance: at a contract of a few scans per second its one hash slot is
// never hot. Scored by a sequence, so the order is first come, first served.
const QUEUE = storeKey('liv.queue')
const SEQUENCE = storeKey('liv.queue', 'sequence')
// Set when the vendor answered 402 (contract spent on its side); expires so a renewal is tried.
const REFUSED = storeKey('vendor.scans', 'refused')
// A lease that marks a check waiting to be tried again, not with the vendor.
const RETRY = 'retry:'
const USED = storeKey('vendor.scans', 'used')
const hourKey = (hour: number) => storeKey('vendor.scans', 'hour', String(hour))
// One bucket per band of the photo hash and value of that band (8 x 256 keys in all).
const photoBandKey = (band: number, value: string) => storeKey(`photo.band.${band}.${value}`)
const BAND_BUCKET_SIZE = 512
// A re-encoded or resized copy stays within 5 bits; different portraits differ by 12 or more.
const REUSE_DISTANCE = 6

export class LivenessService {
  readonly #stores: Stores
  readonly #clock: Clock
  readonly #rules: LivenessRules
  readonly #registrations: RegistrationService
  readonly #checker: PhotoChecker
  readonly #vendor: LivenessVendorPort
  readonly #signals: LivenessSignals
  readonly #events: EventPublisher
  #running = false
  #loop: Promise<void> | undefined
  readonly #inFlight = new Set<Promise<void>>()
  #wake: () => void = () => {}

  constructor (options: { stores: Stores, clock: Clock, rules: LivenessRules, registrations: RegistrationService, checker: PhotoChecker, vendor: LivenessVendorPort, signals: LivenessSignals, events: EventPublisher }) {
    this.#events = options.events
    this.#stores = options.stores
    this.#clock = options.clock
    this.#rules = options.rules
    this.#registrations = options.registrations
    this.#checker = options.checker
    this.#vendor = options.vendor
    this.#signals = options.signals
  }

  async upload (subject: string, input: { registrationId: string, memberIndex: number, photo: Uint8Array }): Promise<{ livenessId: string, status: 'checking' }> {
    const { kv, sortedSets, counters } = this.#stores
    const registration = await this.#registrations.get(subject, input.registrationId)
    if (input.memberIndex >= registration.members.length) throw new GatewayError('GW_ERR_LIVENESS_MEMBER_UNKNOWN')
    if (input.photo.length > this.#rules.maxPhotoBytes) throw new GatewayError('GW_ERR_LIVENESS_PHOTO_TOO_LARGE')
    const header = inspectPhoto(input.photo, this.#rules.limits)
    if (!header.ok) {
      this.#signals.uploaded(header.problem)
      throw new GatewayError(HEADER_ERRORS[header.problem])
    }
    if (await this.budgetLeft() <= 0) throw new GatewayError('GW_ERR_LIVENESS_BUDGET')
    const waiting = await sortedSets.count(QUEUE)
    if (waiting >= this.#rules.vendorQueueMax) throw new GatewayError('GW_ERR_LIVENESS_BUSY', { retryAfterSeconds: this.#waitSeconds(waiting) })

    let result: PhotoCheckResult
    try {
      result = await this.#checker.check(input.photo)
    } catch (err) {
      if (err instanceof CheckerBusyError) throw new GatewayError('GW_ERR_LIVENESS_BUSY', { retryAfterSeconds: 5 })
      // A crash of the check (a worker thread that died, a throw) is this upload's alone: the
      // pool replaces the thread, and the person is asked to send the photo again.
      this.#signals.uploaded('check_error')
      throw new GatewayError('GW_ERR_LIVENESS_PHOTO_UNREADABLE', { cause: err })
    }
    if (!result.ok) {
      this.#signals.uploaded(result.reason)
      throw new GatewayError(REASON_ERRORS[result.reason])
    }

    const livenessId = randomId('liv')
    const flags: string[] = []
    // The same photo (by perceptual hash, a re-encoded or resized copy too) already seen on
    // another registration: a fraud signal.
    if (await this.#seenElsewhere(result.dhash, registration.registrationId)) {
      flags.push('photo_reused')
      this.#signals.flagged('photo_reused')
    }
    // The scan is reserved now, when the check is accepted: every queued check owns its scan, so
    // none can wait on a budget that ran out after it was queued, and instances together never
    // accept more checks than the contract has scans.
    if (await counters.increment(USED) > this.#rules.totalScans) {
      await counters.increment(USED, { by: -1 })
      throw new GatewayError('GW_ERR_LIVENESS_BUDGET')
    }
    const now = this.#clock.now()
    const record: LivenessRecord = {
      livenessId,
      owner: subject,
      registrationId: registration.registrationId,
      memberIndex: input.memberIndex,
      status: 'checking',
      createdAt: new Date(now).toISOString(),
      ...(flags.length > 0 ? { flags } : {})
    }
    try {
      // The photo and the record first, the queue entry last: whatever the queue names can be sent.
      await kv.set(photoKey(livenessId), Buffer.from(result.vendorPhoto).toString('base64'), { ttlMs: this.#rules.photoTtlMs })
      await kv.set(livenessKey(livenessId), JSON.stringify(record), { ttlMs: this.#rules.resultTtlMs })
      // Scored by a shared sequence, not the clock: first come, first served across instances, no ties.
      await sortedSets.add(QUEUE, livenessId, await counters.increment(SEQUENCE))
    } catch (err) {
      // Not accepted after all: give the scan back and leave nothing behind.
      await counters.increment(USED, { by: -1 }).catch(() => {})
      await kv.delete(photoKey(livenessId)).catch(() => {})
      await kv.delete(livenessKey(livenessId)).catch(() => {})
      throw err
    }
    this.#signals.uploaded('accepted')
    this.#wake()
    return { livenessId, status: 'checking' }
  }

  /**
   * Whether a photo within REUSE_DISTANCE bits of `dhash` was seen on another registration, and
   * records this one. The 64-bit hash is cut into 8 bands of 8 bits; two hashes at most 6 bits
   * apart agree exactly on at least 2 bands (pigeonhole), so looking in each band's bucket finds
   * every such neighbour that is still in it. Each bucket keeps its BAND_BUCKET_SIZE most recent
   * photos: beyond about 256 x that many photos in the retention time, older ones drop out.
   */
  async #seenElsewhere (dhash: string, registrationId: string): Promise<boolean> {
    const { sortedSets } = this.#stores
    const member = `${dhash}:${registrationId}`
    const buckets = Array.from({ length: 8 }, (_, band) => photoBandKey(band, dhash.slice(band * 2, band * 2 + 2)))
    const seen = await Promise.all(buckets.map(async (key) => sortedSets.rangeByRank(key, -BAND_BUCKET_SIZE, -1)))
    const reused = seen.flat().some(({ member: other }) => {
      const [hash, owner] = other.split(':') as [string, string]
      return owner !== registrationId && dhashDistance(hash, dhash) <= REUSE_DISTANCE
    })
    const now = this.#clock.now()
    await Promise.all(buckets.map(async (key) => {
      await sortedSets.add(key, member, now, { ttlMs: this.#rules.resultTtlMs })
      const size = await sortedSets.count(key)
      if (size > BAND_BUCKET_SIZE) await sortedSets.popMin(key, size - BAND_BUCKET_SIZE)
    }))
    return reused
  }

  async get (subject: string, livenessId: string): Promise<LivenessView> {
    const raw = await this.#stores.kv.get(livenessKey(livenessId))
    const record = raw === null ? undefined : JSON.parse(raw) as LivenessRecord
    if (record === undefined || record.owner !== subject) throw new GatewayError('GW_ERR_LIVENESS_NOT_FOUND')
    const view: LivenessView = { livenessId, registrationId: record.registrationId, memberIndex: record.memberIndex, status: record.status }
    if (record.status === 'failed' && record.reason !== undefined) view.reason = record.reason
    if (record.status === 'checking') {
      const [rank, leased] = await Promise.all([this.#stores.sortedSets.rank(QUEUE, livenessId), this.#stores.kv.get(leaseKey(livenessId))])
      // In the queue and not with the vendor (unclaimed, or waiting to be tried again): queued,
      // with its place and the wait it means.
      if (rank !== null && (leased === null || leased.startsWith(RETRY))) {
        view.status = 'queued'
        view.position = rank + 1
        view.estimatedWaitSeconds = this.#waitSeconds(rank + 1)
      }
    }
    return view
  }

  #waitSeconds (position: number): number {
    return Math.max(1, Math.ceil(position / this.#rules.pacedRate))
  }

  /** Scans of the contract total not yet used (negative never: the dispatcher reserves first). */
  async budgetLeft (): Promise<number> {
    const [used, refused] = await Promise.all([this.#stores.counters.get(USED), this.#stores.kv.get(REFUSED)])
    return refused === null ? this.#rules.totalScans - used : 0
  }

  /** Budget figures for the metrics: used, scans in the last hour (a rate), queue depth. */
  async usage (): Promise<{ used: number, lastHour: number, queued: number }> {
    const hour = Math.floor(this.#clock.now() / 3600_000)
    const [used, current, previous, queued] = await Promise.all([
      this.#stores.counters.get(USED),
      this.#stores.counters.get(hourKey(hour)),
      this.#stores.counters.get(hourKey(hour - 1)),
      this.#stores.sortedSets.count(QUEUE)
    ])
    // The last 60 minutes, reading the previous hour in proportion to what of it is still inside.
    const into = (this.#clock.now() % 3600_000) / 3600_000
    return { used, lastHour: Math.round(current + previous * (1 - into)), queued }
  }

  /** Starts the dispatcher of this instance. */
  start (): void {
    if (this.#running || !this.#vendor.configured) return
    this.#running = true
    this.#loop = this.#dispatch()
  }

  /** Stops claiming; waits for the checks this instance holds. Their leases are released or expire. */
  async stop (): Promise<void> {
    this.#running = false
    this.#wake()
    await this.#loop
    await Promise.all(this.#inFlight)
  }

  async #dispatch (): Promise<void> {
    // An empty queue is looked at less and less often, up to ten times the idle time; an upload
    // here, or a check finishing, wakes the dispatcher at once.
    let idle = this.#rules.idleMs
    while (this.#running) {
      let claimed: { livenessId: string, token: string } | undefined
      if (this.#inFlight.size < this.#rules.maxConcurrent) {
        claimed = await this.#claim().catch((err: unknown) => { this.#signals.failed(err); return undefined })
      }
      if (claimed === undefined) {
        const wait = this.#inFlight.size < this.#rules.maxConcurrent ? idle : this.#rules.idleMs
        idle = Math.min(idle * 2, this.#rules.idleMs * 10)
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, wait)
          this.#wake = () => { clearTimeout(timer); idle = this.#rules.idleMs; resolve() }
        })
        continue
      }
      idle = this.#rules.idleMs
      const { livenessId, token } = claimed
      const job = this.#process(livenessId, token).catch((err: unknown) => { this.#signals.failed(err) }).finally(() => {
        this.#inFlight.delete(job)
        this.#wake()
      })
      this.#inFlight.add(job)
    }
  }

  // The oldest queued id that no instance holds, now held by this one: the lease carries a token
  // of ours, so only we renew, release or re-mark it.
  async #claim (): Promise<{ livenessId: string, token: string } | undefined> {
    const { kv, sortedSets } = this.#stores
    // The vendor said the contract is spent: nothing is sent until the mark expires (a renewal).
    if (await kv.get(REFUSED) !== null) return undefined
    const head = await sortedSets.rangeByRank(QUEUE, 0, this.#rules.maxConcurrent * 4 - 1)
    const token = randomId('lease')
    for (const { member } of head) {
      if (await kv.setIfAbsent(leaseKey(member), token, { ttlMs: this.#rules.leaseMs })) return { livenessId: member, token }
    }
    return undefined
  }

  async #process (livenessId: string, token: string): Promise<void> {
    const { kv, counters } = this.#stores
    // Renewed while this instance works on it, so a slow vendor never hands it to a second one;
    // if this instance dies the lease runs out and another takes the check over.
    const renew = setInterval(() => { kv.expireIfEquals(leaseKey(livenessId), token, this.#rules.leaseMs).catch(() => {}) }, Math.max(100, Math.floor(this.#rules.leaseMs / 3)))
    try {
      const [raw, photo] = await Promise.all([kv.get(livenessKey(livenessId)), kv.get(photoKey(livenessId))])
      const record = raw === null ? undefined : JSON.parse(raw) as LivenessRecord
      if (record?.status !== 'checking') {
        // Gone (expired), or decided by an earlier holder that stopped half way: finish its steps.
        if (record?.status === 'passed') await kv.set(memberPassKey(record.registrationId, record.memberIndex), livenessId, { ttlMs: this.#rules.resultTtlMs })
        if (record !== undefined) await this.#events.append(decidedEvent(record))
        await this.#finish(livenessId, token)
        return
      }
      if (photo === null) {
        // Waited longer than photos are kept (the vendor was away for days): no scan was spent,
        // and the person is asked for a new photo.
        const expired: LivenessRecord = { ...record, status: 'failed', reason: 'expired', decidedAt: new Date(this.#clock.now()).toISOString() }
        if (await kv.replaceIfEquals(livenessKey(livenessId), raw as string, JSON.stringify(expired), { ttlMs: this.#rules.resultTtlMs })) {
          await counters.increment(USED, { by: -1 })
          await this.#events.append(decidedEvent(expired))
        }
        await this.#finish(livenessId, token)
        return
      }
      let verdict: 'pass' | 'fail'
      try {
        verdict = await this.#vendor.scan(livenessId, Buffer.from(photo, 'base64'))
      } catch (err) {
        if (err instanceof VendorBudgetError) {
          // The vendor refuses further scans although ours are not spent: stop sending (and
          // accepting) until the mark expires, and keep the check, with its reserved scan, queued.
          await kv.set(REFUSED, '1', { ttlMs: this.#rules.refusedPauseMs })
          this.#signals.deferred('budget')
        } else {
          this.#signals.deferred('unavailable')
        }
        // Queued again, after a pause, still first in line.
        await kv.replaceIfEquals(leaseKey(livenessId), token, `${RETRY}${token}`, { ttlMs: this.#rules.retryDelayMs })
        return
      }
      await counters.increment(hourKey(Math.floor(this.#clock.now() / 3600_000)), { ttlMs: 3 * 3600_000 })
      const decided: LivenessRecord = { ...record, status: verdict === 'pass' ? 'passed' : 'failed', decidedAt: new Date(this.#clock.now()).toISOString(), ...(verdict === 'fail' ? { reason: 'not_live' as const } : {}) }
      if (await kv.replaceIfEquals(livenessKey(livenessId), raw as string, JSON.stringify(decided), { ttlMs: this.#rules.resultTtlMs })) {
        if (verdict === 'pass') await kv.set(memberPassKey(record.registrationId, record.memberIndex), livenessId, { ttlMs: this.#rules.resultTtlMs })
        await this.#events.append(decidedEvent(decided))
        this.#signals.decided(verdict)
      }
      await this.#finish(livenessId, token)
    } finally {
      clearInterval(renew)
    }
  }

  // Last steps of a decided check, each safe to repeat: the photo goes, then the queue entry,
  // then our lease.
  async #finish (livenessId: string, token: string): Promise<void> {
    await this.#stores.kv.delete(photoKey(livenessId))
    await this.#stores.sortedSets.remove(QUEUE, livenessId)
    await this.#stores.kv.deleteIfEquals(leaseKey(livenessId), token)
  }
}

/** A check's result for the backend: who (by ids) and what, never the photo. */
function decidedEvent (record: LivenessRecord): DomainEvent {
  return {
    type: 'liveness.decided',
    about: record.livenessId,
    registrationId: record.registrationId,
    time: Date.parse(record.decidedAt ?? record.createdAt),
    payload: {
      livenessId: record.livenessId,
      registrationId: record.registrationId,
      memberIndex: record.memberIndex,
      status: record.status,
      ...(record.reason === undefined ? {} : { reason: record.reason }),
      ...(record.flags === undefined ? {} : { flags: record.flags }),
      decidedAt: record.decidedAt
    }
  }
}
