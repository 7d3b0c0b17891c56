// The waiting room: in front of named routes around an opening, it turns a stampede into a queue.
// No Fastify and no Redis here: state goes through the store ports, so any instance serves any
// ticket and a restart loses nobody's place.
//
// A room's period is one opening: it stands in front of its routes from preOpen before the
// opening until activeMinutes after it. Everyone who arrives before the opening joins one draw:
// their order is HMAC(seed, ticket), a uniform shuffle that nobody can predict from arrival time,
// tickets being random and the seed secret until the opening; the seed's SHA-256 is published
// from the first arrival (GET /v1/waiting-rooms/:room), and the seed itself once the room opens,
// so anyone can check the order of the draw. After the opening, first come, first served. Both
// live in one sorted set: draw scores in [0, 1), then 1, 2, 3, ... by arrival.
//
// One ticket per account and period (parallel first requests included: the record is written
// before the claim, and only the claim's winner joins the queue).
//
// Admission: one instance at a time (a lease, renewed between batches) takes the head of the
// queue in batches, each admission drawn from an exact rolling one-second window of
// admitPerSecond (so no second ever sees more, whichever instance admits), and never while
// maxActive admissions are still valid. An admitted ticket gets a short-lived token bound to its
// device, and goes on an admission log every instance reads to push it to the client's
// WebSocket. A period whose time is up while people still wait keeps draining at the same pace.
//
// Crash safety: a ticket taken off the queue by an admitter that died before writing the
// admission is still `waiting` in its record; the next time its holder asks (HTTP or
// WebSocket) it goes back in the queue with its own score, in front of everyone behind it.
import { createHash, createHmac, randomBytes } from 'node:crypto'
import { DateTime } from 'luxon'
import type { Clock } from '../store/clock.js'
import { storeKey } from '../store/keys.js'
import type { Stores } from '../store/ports.js'
import { randomId } from './registrations.js'

export interface RoomRules {
  name: string
  /** "METHOD /route/template" */
  routes: readonly string[]
  /** "request-window", daily "HH:MM" in the schedule's zone, or ISO instants. */
  openings: readonly string[]
  preOpenMinutes: number
  activeMinutes: number
  admitPerSecond: number
  maxActive: number
}

export interface WaitingRoomRules {
  rooms: readonly RoomRules[]
  timezone: string
  /** The request window's daily opening ("HH:MM"), for "request-window". */
  requestWindowOpensAt: string
  admissionTtlMs: number
}

/** Signs and checks admission tokens (gateway/auth/admission-tokens.ts). */
export interface AdmissionTokens {
  sign(claims: { room: string, ticket: string, device: string, expiresAt: number }): string
  /** The ticket the token admits, when it is valid for this room and device now. */
  verify(token: string, room: string, device: string): string | undefined
}

export interface WaitingRoomSignals {
  joined(room: string): void
  admitted(room: string, waitedSeconds: number): void
}

/** draining: the period's time is up but people still wait; the room stays until they are in. */
export type Phase = 'idle' | 'pre-open' | 'open' | 'draining'

/** Where a room's schedule stands at an instant (draining is the store's to say, not the clock's). */
export interface RoomState {
  phase: 'idle' | 'pre-open' | 'open'
  /** The opening this period belongs to (the next one when idle), epoch ms; null when none is ahead. */
  openingAt: number | null
  /** When the room starts standing in front of its routes, and stops; epoch ms. */
  startsAt: number | null
  endsAt: number | null
  /** When idle: the opening of the period that ended last, whose queue may still be draining. */
  previousOpeningAt: number | null
  /** The state holds from `validFrom` until just before `validUntil` (epoch ms). */
  validFrom: number
  validUntil: number
}

export type TicketView =
  | { status: 'waiting', room: string, ticket: string, position: number, estimatedWaitSeconds: number, opensAt?: string, admitted: number }
  | { status: 'admitted', room: string, ticket: string, admissionToken: string, admittedAt: string, expiresAt: string, admitted: number }

export interface RoomOverview {
  room: string
  phase: Phase
  opensAt: string | null
  closesAt: string | null
  /** SHA-256 of the draw's seed, from the first arrival before the opening. */
  commitment: string | null
  /** The seed itself, once the room has opened. */
  seed: string | null
  waiting: number
  admitted: number
  active: number
  admitPerSecond: number
}

interface TicketRecord {
  ticket: string
  room: string
  /** The period's opening, epoch ms: names the period. */
  openingAt: number
  /** Hash of the device the ticket's token is bound to (the one that took it). */
  device: string
  /** Hash of the account that holds the ticket. */
  holder: string
  score: number
  joinedAt: number
  status: 'waiting' | 'admitted'
  admittedAt?: number
  admissionToken?: string
  expiresAt?: number
}

const DAY_MS = 24 * 3600_000
// Kept well past a period's end: a late client still learns what became of its ticket.
const KEEP_MS = 2 * DAY_MS
const LEASE_MS = 2_000
// Admissions taken together: their store calls run in parallel.
const BATCH = 200
const DRAW_END = 1 - 2 ** -48

const periodTag = (room: string, openingAt: number) => `wr.${room}.${Math.floor(openingAt / 1000)}`
const ticketKey = (ticket: string) => storeKey(`wrt.${ticket}`)

/** A device id's (or an account's) hash: tickets and tokens name them without keeping the id. */
export function deviceHash (id: string): string {
  return createHash('sha256').update(id).digest('base64url').slice(0, 22)
}

/** A draw ticket's score in [0, 1): its place in the shuffle of everyone who came before the opening. */
export function drawScore (seed: string, ticket: string): number {
  return createHmac('sha256', seed).update(ticket).digest().readUIntBE(0, 6) / 2 ** 48
}

/**
 * The openings near `at` (epoch ms) for a room's specs, ascending: each daily time on the days
 * around it, and each instant.
 */
function openingsAround (room: RoomRules, at: number, rules: WaitingRoomRules): number[] {
  const out: number[] = []
  const day = DateTime.fromMillis(at, { zone: rules.timezone }).startOf('day')
  for (const spec of room.openings) {
    const hhmm = spec === 'request-window' ? rules.requestWindowOpensAt : /^\d{2}:\d{2}$/.test(spec) ? spec : undefined
    if (hhmm === undefined) {
      out.push(Date.parse(spec))
      continue
    }
    const [hour, minute] = hhmm.split(':').map(Number) as [number, number]
    for (let d = -2; d <= 2; d++) out.push(day.plus({ days: d }).set({ hour, minute }).toMillis())
  }
  return out.sort((a, b) => a - b)
}

/** The room's phase at `now` by its schedule: in a period (pre-open or open), or idle until the next one. */
export function roomStateAt (room: RoomRules, now: number, rules: WaitingRoomRules): RoomState {
  const pre = room.preOpenMinutes * 60_000
  const active = room.activeMinutes * 60_000
  let previous: number | null = null
  for (const openingAt of openingsAround(room, now, rules)) {
    const period = { openingAt, startsAt: openingAt - pre, endsAt: openingAt + active }
    if (now < openingAt - pre) return { phase: 'idle', ...period, previousOpeningAt: previous, validFrom: previous === null ? -Infinity : previous + active, validUntil: openingAt - pre }
    if (now < openingAt) return { phase: 'pre-open', ...period, previousOpeningAt: null, validFrom: openingAt - pre, validUntil: openingAt }
    if (now < openingAt + active) return { phase: 'open', ...period, previousOpeningAt: null, validFrom: openingAt, validUntil: openingAt + active }
    previous = openingAt
  }
  return { phase: 'idle', openingAt: null, startsAt: null, endsAt: null, previousOpeningAt: previous, validFrom: previous === null ? -Infinity : previous + active, validUntil: Infinity }
}

/** A room's current period as the service sees it: its schedule, plus draining from the store. */
interface Period {
  phase: Phase
  openingAt: number | null
  startsAt: number | null
  endsAt: number | null
}

export class WaitingRoomService {
  readonly #stores: Stores
  readonly #clock: Clock
  readonly #rules: WaitingRoomRules
  readonly #tokens: AdmissionTokens
  readonly #signals: WaitingRoomSignals
  readonly #byRoute = new Map<string, RoomRules>()
  readonly #byName = new Map<string, RoomRules>()
  /** This instance's name on the admitter lease. */
  readonly #instance = randomId('wra')
  /** Each room's schedule state, kept until its next boundary: zone arithmetic is not per request. */
  readonly #states = new Map<string, RoomState>()
  /** The ended period each room is still draining, as the last admission round found it. */
  readonly #draining = new Map<string, number>()

  constructor (options: { stores: Stores, clock: Clock, rules: WaitingRoomRules, tokens: AdmissionTokens, signals?: WaitingRoomSignals }) {
    this.#stores = options.stores
    this.#clock = options.clock
    this.#rules = options.rules
    this.#tokens = options.tokens
    this.#signals = options.signals ?? { joined: () => {}, admitted: () => {} }
    for (const room of options.rules.rooms) {
      this.#byName.set(room.name, room)
      for (const route of room.routes) this.#byRoute.set(route, room)
    }
  }

  get rooms (): readonly RoomRules[] {
    return this.#rules.rooms
  }

  room (name: string): RoomRules | undefined {
    return this.#byName.get(name)
  }

  /** The room standing in front of "METHOD /template" right now, if any. */
  guarding (route: string): RoomRules | undefined {
    const room = this.#byRoute.get(route)
    if (room === undefined) return undefined
    return this.#period(room, this.#clock.now()).phase === 'idle' ? undefined : room
  }

  /** Whether `token` lets this device through this room now. */
  admits (room: RoomRules, token: string, deviceId: string): boolean {
    return this.#tokens.verify(token, room.name, deviceHash(deviceId)) !== undefined
  }

  /**
   * Someone at the door: their ticket (the same one however often, and from whichever device,
   * the account asks), or a new one, at its place in the draw (before the opening) or at the back
   * (after). Keyed by account, not device: a device id is a header a script can vary at will, an
   * account is not, so many devices buy no more places in the draw. The admission token is bound
   * to the device that took the ticket. Undefined when the room is idle.
   */
  async enter (room: RoomRules, who: { subject: string, deviceId: string }): Promise<TicketView | undefined> {
    const now = this.#clock.now()
    const period = this.#period(room, now)
    if (period.phase === 'idle' || period.openingAt === null) return undefined
    const { kv, sortedSets, counters } = this.#stores
    const tag = periodTag(room.name, period.openingAt)
    const holderKey = storeKey(`${tag}.sub.${deviceHash(who.subject)}`)
    for (;;) {
      const existing = await kv.get(holderKey)
      if (existing !== null) {
        const record = await this.#record(existing)
        if (record !== undefined) {
          // A spent admission: its holder had their turn and queues again, at the back.
          if (record.status === 'admitted' && (record.expiresAt ?? 0) <= now) {
            await kv.deleteIfEquals(holderKey, existing)
            continue
          }
          return this.#view(room, record)
        }
        // The record is written before the claim, so a claim without one has expired with it.
        await kv.deleteIfEquals(holderKey, existing)
      }
      const ticket = randomId('wrt')
      const score = period.phase === 'pre-open'
        ? drawScore(await this.#seed(room, period.openingAt), ticket)
        : await counters.increment(storeKey(tag, 'seq'), { ttlMs: KEEP_MS })
      const record: TicketRecord = { ticket, room: room.name, openingAt: period.openingAt, device: deviceHash(who.deviceId), holder: deviceHash(who.subject), score, joinedAt: now, status: 'waiting' }
      // Record first, then the claim: of parallel first requests exactly one claims, and only
      // the claimed ticket joins the queue; the others' records expire unqueued.
      await kv.set(ticketKey(ticket), JSON.stringify(record), { ttlMs: KEEP_MS })
      if (!await kv.setIfAbsent(holderKey, ticket, { ttlMs: KEEP_MS })) continue
      await sortedSets.add(storeKey(tag, 'queue'), ticket, score, { ttlMs: KEEP_MS })
      this.#signals.joined(room.name)
      return this.#view(room, record)
    }
  }

  /** A ticket's state (for the WebSocket and for clients without one); undefined when unknown. */
  async ticket (ticket: string): Promise<TicketView | undefined> {
    const record = await this.#record(ticket)
    const room = record === undefined ? undefined : this.#byName.get(record.room)
    if (record === undefined || room === undefined) return undefined
    return this.#view(room, record)
  }

  /** The account holds this ticket. */
  async owns (ticket: string, subject: string): Promise<boolean> {
    return (await this.#record(ticket))?.holder === deviceHash(subject)
  }

  async overview (room: RoomRules): Promise<RoomOverview> {
    const now = this.#clock.now()
    const period = this.#period(room, now)
    const base = { room: room.name, phase: period.phase, opensAt: iso(period.openingAt), closesAt: iso(period.endsAt), admitPerSecond: room.admitPerSecond }
    if (period.openingAt === null || period.phase === 'idle') return { ...base, commitment: null, seed: null, waiting: 0, admitted: 0, active: 0 }
    const { kv, sortedSets, counters } = this.#stores
    const tag = periodTag(room.name, period.openingAt)
    const [seed, waiting, admitted, active] = await Promise.all([
      kv.get(storeKey(tag, 'seed')),
      sortedSets.count(storeKey(tag, 'queue')),
      counters.get(storeKey(tag, 'admitted')),
      sortedSets.countByScore(storeKey(tag, 'active'), now, Infinity)
    ])
    return {
      ...base,
      commitment: seed === null ? null : createHash('sha256').update(seed).digest('hex'),
      seed: period.phase === 'pre-open' ? null : seed,
      waiting,
      admitted,
      active
    }
  }

  /**
   * One admission round for every room: notes which ended periods still drain, commits the draw's
   * seed before an opening, and on the instance holding a room's lease admits from the head of
   * its queue while the rolling second and the active cap allow, in batches, for at most half the
   * lease before renewing it, and at most `share` of a second's worth: rounds every 100 ms with a
   * share of 0.1 spread a second's admissions over it instead of letting them in at once.
   * Returns the tickets admitted.
   */
  async admit (share = 1): Promise<Array<{ room: string, ticket: string }>> {
    const done: Array<{ room: string, ticket: string }> = []
    for (const room of this.#rules.rooms) {
      const now = this.#clock.now()
      const state = this.#state(room, now)
      if (state.phase === 'idle') {
        const previous = state.previousOpeningAt
        const waiting = previous === null ? 0 : await this.#stores.sortedSets.count(storeKey(periodTag(room.name, previous), 'queue'))
        if (waiting > 0) this.#draining.set(room.name, previous as number)
        else this.#draining.delete(room.name)
      }
      const period = this.#period(room, now)
      if (period.openingAt === null || period.phase === 'idle') continue
      if (period.phase === 'pre-open') {
        await this.#seed(room, period.openingAt)
        continue
      }
      if (!await this.#lead(room, period.openingAt)) continue
      done.push(...await this.#admitBatches(room, period.openingAt, Math.max(1, Math.ceil(room.admitPerSecond * share))))
    }
    return done
  }

  /**
   * The admission log of a room's current period after admission number `after` (null: from
   * now on): tickets with their numbers, in order. Numbers are contiguous, but a batch admitted
   * in parallel may write them out of order: a reader keeps its own cursor over the contiguous
   * ones (gateway/plugins/push.ts).
   */
  async admittedSince (room: RoomRules, after: number | null, count = 1_000): Promise<{ entries: Array<{ ticket: string, seq: number }>, total: number, period: number | null }> {
    const period = this.#period(room, this.#clock.now())
    if (period.openingAt === null || (period.phase !== 'open' && period.phase !== 'draining')) return { entries: [], total: 0, period: period.openingAt }
    const tag = periodTag(room.name, period.openingAt)
    const total = await this.#stores.counters.get(storeKey(tag, 'admitted'))
    if (after === null) return { entries: [], total, period: period.openingAt }
    const log = await this.#stores.sortedSets.rangeByScore(storeKey(tag, 'log'), after + 1, Infinity, count)
    return { entries: log.map((m) => ({ ticket: m.member, seq: m.score })), total, period: period.openingAt }
  }

  async #admitBatches (room: RoomRules, openingAt: number, quota: number): Promise<Array<{ room: string, ticket: string }>> {
    const { windows, sortedSets } = this.#stores
    const tag = periodTag(room.name, openingAt)
    const rate = storeKey(tag, 'rate')
    const done: Array<{ room: string, ticket: string }> = []
    // Real time, as the lease's TTL is: a round never outlives its lease.
    const deadline = performance.now() + LEASE_MS / 2
    while (performance.now() < deadline) {
      const room0 = room.maxActive - await sortedSets.countByScore(storeKey(tag, 'active'), this.#clock.now(), Infinity)
      const want = Math.min(room0, BATCH, quota - done.length)
      if (want <= 0) break
      // Each slot is one entry of the exact rolling second, taken in parallel: exactly as many
      // are granted as the second has room for. All are stamped with the decision's time, so the
      // decisions keep the window's bound exactly.
      const at = this.#clock.now()
      const slots = (await Promise.all(Array.from({ length: want }, async () => {
        const slot = randomId('s')
        return (await windows.admit(rate, slot, { windowMs: 1000, max: room.admitPerSecond }, at)).admitted ? slot : undefined
      }))).filter((slot): slot is string => slot !== undefined)
      if (slots.length === 0) break
      const heads = await sortedSets.popMin(storeKey(tag, 'queue'), slots.length)
      await Promise.all(slots.slice(heads.length).map(async (slot) => windows.release(rate, slot)))
      const admitted = await Promise.all(heads.map(async ({ member }) => (await this.#admitOne(room, tag, member, at)) ? member : undefined))
      for (const ticket of admitted) if (ticket !== undefined) done.push({ room: room.name, ticket })
      if (heads.length < slots.length || !await this.#lead(room, openingAt)) break
    }
    // Expired admissions no longer count against the cap; dropped once a round, not per call.
    await sortedSets.removeByScore(storeKey(tag, 'active'), -Infinity, this.#clock.now() - 1)
    return done
  }

  async #admitOne (room: RoomRules, tag: string, ticket: string, now: number): Promise<boolean> {
    const { kv, sortedSets, counters } = this.#stores
    for (;;) {
      const raw = await kv.get(ticketKey(ticket))
      if (raw === null) return false
      const record = JSON.parse(raw) as TicketRecord
      if (record.status !== 'waiting') return false
      const expiresAt = now + this.#rules.admissionTtlMs
      const admitted: TicketRecord = {
        ...record,
        status: 'admitted',
        admittedAt: now,
        expiresAt,
        admissionToken: this.#tokens.sign({ room: room.name, ticket, device: record.device, expiresAt })
      }
      if (!await kv.replaceIfEquals(ticketKey(ticket), raw, JSON.stringify(admitted), { ttlMs: KEEP_MS })) continue
      await sortedSets.add(storeKey(tag, 'active'), ticket, expiresAt, { ttlMs: KEEP_MS })
      const seq = await counters.increment(storeKey(tag, 'admitted'), { ttlMs: KEEP_MS })
      await sortedSets.add(storeKey(tag, 'log'), ticket, seq, { ttlMs: KEEP_MS })
      // Time in queue: from arrival, or from the opening for those who came before it.
      this.#signals.admitted(room.name, (now - Math.max(record.joinedAt, record.openingAt)) / 1000)
      return true
    }
  }

  // The admitter lease: one instance admits at a time, renewing between batches; if it dies,
  // another takes over within LEASE_MS.
  async #lead (room: RoomRules, openingAt: number): Promise<boolean> {
    const { kv } = this.#stores
    const lease = storeKey(periodTag(room.name, openingAt), 'lease')
    if (await kv.setIfAbsent(lease, this.#instance, { ttlMs: LEASE_MS })) return true
    return kv.expireIfEquals(lease, this.#instance, LEASE_MS)
  }

  #state (room: RoomRules, now: number): RoomState {
    const cached = this.#states.get(room.name)
    if (cached !== undefined && now >= cached.validFrom && now < cached.validUntil) return cached
    const state = roomStateAt(room, now, this.#rules)
    this.#states.set(room.name, state)
    return state
  }

  #period (room: RoomRules, now: number): Period {
    const state = this.#state(room, now)
    const draining = this.#draining.get(room.name)
    if (state.phase === 'idle' && draining !== undefined && draining === state.previousOpeningAt) {
      return { phase: 'draining', openingAt: draining, startsAt: draining - room.preOpenMinutes * 60_000, endsAt: draining + room.activeMinutes * 60_000 }
    }
    return state
  }

  // Made once per period (SET NX) and kept secret until the opening.
  async #seed (room: RoomRules, openingAt: number): Promise<string> {
    const { kv } = this.#stores
    const key = storeKey(periodTag(room.name, openingAt), 'seed')
    await kv.setIfAbsent(key, randomBytes(32).toString('hex'), { ttlMs: KEEP_MS })
    return await kv.get(key) as string
  }

  async #record (ticket: string): Promise<TicketRecord | undefined> {
    const raw = await this.#stores.kv.get(ticketKey(ticket))
    return raw === null ? undefined : JSON.parse(raw) as TicketRecord
  }

  async #view (room: RoomRules, record: TicketRecord): Promise<TicketView> {
    const { sortedSets, counters } = this.#stores
    const now = this.#clock.now()
    const tag = periodTag(room.name, record.openingAt)
    const admitted = await counters.get(storeKey(tag, 'admitted'))
    if (record.status === 'admitted') {
      return { status: 'admitted', room: room.name, ticket: record.ticket, admissionToken: record.admissionToken as string, admittedAt: new Date(record.admittedAt as number).toISOString(), expiresAt: new Date(record.expiresAt as number).toISOString(), admitted }
    }
    const queue = storeKey(tag, 'queue')
    if (now < record.openingAt) {
      // Before the opening nobody has a place yet: everyone here is in the draw.
      const inDraw = await sortedSets.countByScore(queue, 0, DRAW_END)
      return { status: 'waiting', room: room.name, ticket: record.ticket, position: inDraw, estimatedWaitSeconds: Math.ceil((record.openingAt - now) / 1000 + inDraw / room.admitPerSecond), opensAt: new Date(record.openingAt).toISOString(), admitted }
    }
    let rank = await sortedSets.rank(queue, record.ticket)
    if (rank === null) {
      // Taken off the queue by an admitter that died before admitting it: back to its place.
      await sortedSets.add(queue, record.ticket, record.score, { onlyIfAbsent: true, ttlMs: KEEP_MS })
      const again = await this.#record(record.ticket)
      if (again !== undefined && again.status !== 'waiting') return this.#view(room, again)
      rank = await sortedSets.rank(queue, record.ticket) ?? 0
    }
    return { status: 'waiting', room: room.name, ticket: record.ticket, position: rank + 1, estimatedWaitSeconds: Math.ceil((rank + 1) / room.admitPerSecond), admitted }
  }
}

function iso (ms: number | null): string | null {
  return ms === null ? null : new Date(ms).toISOString()
}
