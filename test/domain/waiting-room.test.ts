// The waiting room's rules on their own (gateway/domain/waiting-room.ts), on both store adapters:
// phases, one ticket per device, the opening draw, FIFO after it, the admission rate and cap,
// and a second instance on the same queue.
import { createHash, generateKeyPairSync } from 'node:crypto'
import { afterEach, describe, expect, it } from 'vitest'
import { admissionTokens } from '../../gateway/auth/admission-tokens.js'
import { deviceHash, drawScore, roomStateAt, WaitingRoomService, type RoomRules, type WaitingRoomRules } from '../../gateway/domain/waiting-room.js'
import { ManualClock } from '../../gateway/store/clock.js'
import { createMemoryStores } from '../../gateway/store/memory/index.js'
import type { Stores } from '../../gateway/store/ports.js'
import { maxInAnyWindow } from '../../loadtests/lib/sliding-window.js'
import { redisStores, suiteRedisName } from '../helpers/app.js'

const OPENING = Date.parse('2026-11-24T17:00:00Z')
const key = generateKeyPairSync('ed25519').privateKey

const room = (overrides: Partial<RoomRules> = {}): RoomRules => ({
  name: 'requests',
  routes: ['POST /v1/appointment-requests'],
  openings: [new Date(OPENING).toISOString()],
  preOpenMinutes: 15,
  activeMinutes: 30,
  admitPerSecond: 50,
  maxActive: 1_000_000,
  ...overrides
})
const rules = (r: RoomRules): WaitingRoomRules => ({ rooms: [r], timezone: 'America/New_York', requestWindowOpensAt: '12:00', admissionTtlMs: 600_000 })

/** An account with one device, named alike. */
const who = (name: string) => ({ subject: `acct-${name}`, deviceId: name })

function service (stores: Stores, clock: ManualClock, r: RoomRules = room()): WaitingRoomService {
  return new WaitingRoomService({ stores, clock, rules: rules(r), tokens: admissionTokens(key, { now: () => clock.now() }) })
}

/** Admission rounds every 10 ms of the manual clock until `count` are admitted; their times. */
async function admitAll (wr: WaitingRoomService, clock: ManualClock, count: number, stepMs = 10): Promise<Array<{ ticket: string, at: number }>> {
  const out: Array<{ ticket: string, at: number }> = []
  while (out.length < count) {
    for (const { ticket } of await wr.admit()) out.push({ ticket, at: clock.now() })
    clock.advance(stepMs)
  }
  return out
}

describe('room phases', () => {
  const r = room({ openings: ['request-window', '2026-12-01T14:00:00Z'], preOpenMinutes: 15, activeMinutes: 30 })
  const at = (iso: string) => roomStateAt(r, Date.parse(iso), rules(r))

  it('is idle, then pre-open, then open, then idle again around a daily opening in the schedule\'s zone', () => {
    // 12:00 in New York is 17:00Z in November.
    expect(at('2026-11-24T16:44:59Z')).toMatchObject({ phase: 'idle', openingAt: OPENING, startsAt: OPENING - 900_000, endsAt: OPENING + 1_800_000, validUntil: OPENING - 900_000 })
    expect(at('2026-11-24T16:45:00Z').phase).toBe('pre-open')
    expect(at('2026-11-24T16:59:59Z').phase).toBe('pre-open')
    expect(at('2026-11-24T17:00:00Z').phase).toBe('open')
    expect(at('2026-11-24T17:29:59Z').phase).toBe('open')
    expect(at('2026-11-24T17:30:00Z')).toMatchObject({ phase: 'idle', openingAt: OPENING + 24 * 3600_000 })
  })

  it('honours an instant an operator set, and daylight saving through the zone', () => {
    expect(at('2026-12-01T13:50:00Z')).toMatchObject({ phase: 'pre-open', openingAt: Date.parse('2026-12-01T14:00:00Z') })
    // July: New York is UTC-4, so 12:00 is 16:00Z.
    expect(at('2026-07-01T16:00:00Z')).toMatchObject({ phase: 'open', openingAt: Date.parse('2026-07-01T16:00:00Z') })
  })
})

for (const adapter of ['memory', 'redis'] as const) {
  describe(`waiting room (${adapter === 'redis' ? suiteRedisName() : adapter})`, () => {
    let stores: Stores
    afterEach(async () => { await stores.close() })
    const open = async (clock: ManualClock) => { stores = adapter === 'memory' ? createMemoryStores({ clock }) : await redisStores({ clock }) }

    it('gives a device one ticket however often it asks, and nothing while the room is idle', async () => {
      const clock = new ManualClock(OPENING - 3_600_000)
      await open(clock)
      const wr = service(stores, clock)
      expect(await wr.enter(room(), who('dev-1'))).toBeUndefined()
      clock.set(OPENING + 1_000)
      const first = await wr.enter(room(), who('dev-1'))
      const again = await Promise.all(Array.from({ length: 5 }, async () => wr.enter(room(), who('dev-1'))))
      expect(first).toMatchObject({ status: 'waiting', position: 1, estimatedWaitSeconds: 1 })
      for (const view of again) expect(view).toEqual(first)
      expect(await wr.enter(room(), who('dev-2'))).toMatchObject({ position: 2 })
      expect(await wr.owns(first?.ticket as string, 'acct-dev-1')).toBe(true)
      expect(await wr.owns(first?.ticket as string, 'acct-dev-2')).toBe(false)
    })

    it('gives an account one ticket, from parallel first requests and from any number of devices', async () => {
      const clock = new ManualClock(OPENING - 60_000)
      await open(clock)
      const wr = service(stores, clock)
      const views = await Promise.all(Array.from({ length: 10 }, async (_, i) => wr.enter(room(), { subject: 'acct-many', deviceId: `device-${i}` })))
      expect(new Set(views.map((v) => v?.ticket)).size).toBe(1)
      expect(await wr.overview(room())).toMatchObject({ waiting: 1 })
      expect(await wr.owns(views[0]?.ticket as string, 'acct-many')).toBe(true)
    })

    it('stays in front of its routes after its time until everyone waiting is in, at the same pace', async () => {
      const clock = new ManualClock(OPENING + 29 * 60_000)
      await open(clock)
      const r = room({ admitPerSecond: 2 })
      const wr = service(stores, clock, r)
      for (let i = 0; i < 5; i++) await wr.enter(r, who(`late-${i}`))
      clock.set(OPENING + 30 * 60_000)
      // The period's time is up; the first round finds people waiting and keeps the room.
      const first = await wr.admit()
      expect(first).toHaveLength(2)
      expect(wr.guarding('POST /v1/appointment-requests')).toBe(r)
      expect(await wr.overview(r)).toMatchObject({ phase: 'draining', waiting: 3, admitted: 2 })
      // A newcomer meanwhile joins the back.
      expect(await wr.enter(r, who('newcomer'))).toMatchObject({ status: 'waiting', position: 4 })
      const rest = await admitAll(wr, clock, 4, 100)
      expect(maxInAnyWindow([...first.map(() => OPENING + 30 * 60_000), ...rest.map((a) => a.at)], 1_000)).toBeLessThanOrEqual(2)
      // Everyone in: the next round lets the room go.
      await wr.admit()
      expect(wr.guarding('POST /v1/appointment-requests')).toBeUndefined()
      expect((await wr.overview(r)).phase).toBe('idle')
    })

    it('shuffles 10,000 arrivals before the opening by the committed seed, then serves the rest in arrival order', async () => {
      const clock = new ManualClock(OPENING - 600_000)
      await open(clock)
      const r = room({ admitPerSecond: 5_000 })
      const wr = service(stores, clock, r)
      const early: string[] = []
      for (let i = 0; i < 10_000; i += 500) {
        const batch = await Promise.all(Array.from({ length: 500 }, async (_, k) => wr.enter(r, who(`early-${i + k}`))))
        early.push(...batch.map((v) => v?.ticket as string))
        clock.advance(20)
      }
      // Before the opening nobody has a place: everyone is in the draw.
      expect(await wr.enter(r, who('early-0'))).toMatchObject({ status: 'waiting', position: 10_000, opensAt: new Date(OPENING).toISOString() })
      const before = await wr.overview(r)
      expect(before).toMatchObject({ phase: 'pre-open', seed: null, waiting: 10_000 })
      clock.set(OPENING)
      const late: string[] = []
      for (let i = 0; i < 300; i++) late.push((await wr.enter(r, who(`late-${i}`)))?.ticket as string)
      const admitted = (await admitAll(wr, clock, 10_300)).map((a) => a.ticket)

      const { seed, commitment } = await wr.overview(r)
      expect(commitment).toBe(before.commitment)
      expect(createHash('sha256').update(seed as string).digest('hex')).toBe(commitment)
      // The draw: exactly the early tickets, in the order their HMAC under the revealed seed gives.
      expect(admitted.slice(0, 10_000)).toEqual([...early].sort((a, b) => drawScore(seed as string, a) - drawScore(seed as string, b)))
      // ...which arrival order does not predict: rank correlation near 0 (|rho| < 0.05 is 5 standard errors).
      const arrival = new Map(early.map((t, i) => [t, i]))
      const n = early.length
      const d2 = admitted.slice(0, n).reduce((sum, t, i) => sum + (i - (arrival.get(t) as number)) ** 2, 0)
      expect(Math.abs(1 - 6 * d2 / (n * (n * n - 1)))).toBeLessThan(0.05)
      expect(admitted.slice(10_000)).toEqual(late)
    }, 120_000)

    it('never admits more than admitPerSecond in any one-second window, nor beyond maxActive', async () => {
      const clock = new ManualClock(OPENING)
      await open(clock)
      const r = room({ admitPerSecond: 20, maxActive: 70 })
      const wr = service(stores, clock, r)
      for (let i = 0; i < 100; i++) await wr.enter(r, who(`d-${i}`))
      const firstRun = await admitAll(wr, clock, 70, 37)
      expect(maxInAnyWindow(firstRun.map((a) => a.at), 1_000)).toBe(20)
      // 70 admissions valid: the cap holds the rest until they expire.
      clock.advance(5_000)
      expect(await wr.admit()).toEqual([])
      expect(await wr.overview(r)).toMatchObject({ active: 70, admitted: 70, waiting: 30 })
      clock.advance(600_000)
      expect((await admitAll(wr, clock, 30, 37)).length).toBe(30)
    })

    it('lets a second instance serve the same queue, and only one admit at a time', async () => {
      const clock = new ManualClock(OPENING + 1_000)
      await open(clock)
      const r = room({ admitPerSecond: 10 })
      const a = service(stores, clock, r)
      const b = service(stores, clock, r)
      const ticket = (await a.enter(r, who('shared-device')))?.ticket as string
      await b.enter(r, who('other'))
      expect(await b.enter(r, who('shared-device'))).toMatchObject({ ticket, position: 1 })
      expect(await b.ticket(ticket)).toMatchObject({ status: 'waiting', position: 1 })
      const [fromA, fromB] = await Promise.all([a.admit(), b.admit()])
      expect([...fromA, ...fromB].map((x) => x.ticket).sort()).toHaveLength(2)
      // The lease: one of the two admitted both, the other none.
      expect([fromA.length, fromB.length].sort()).toEqual([0, 2])
      const view = await b.ticket(ticket)
      expect(view).toMatchObject({ status: 'admitted', ticket })
      // The token lets this device, and only it, through this room, from either instance.
      const token = (view as { admissionToken: string }).admissionToken
      expect(a.admits(r, token, 'shared-device')).toBe(true)
      expect(a.admits(r, token, 'another-device')).toBe(false)
      expect(a.admits(room({ name: 'elsewhere' }), token, 'shared-device')).toBe(false)
      clock.advance(600_000)
      expect(a.admits(r, token, 'shared-device')).toBe(false)
    })

    it('puts a ticket taken off the queue by an admitter that died back in its place when its device asks', async () => {
      const clock = new ManualClock(OPENING + 1_000)
      await open(clock)
      const r = room()
      const wr = service(stores, clock, r)
      const first = (await wr.enter(r, who('first')))?.ticket as string
      await wr.enter(r, who('second'))
      // What an admitter does before it writes the admission: the head leaves the queue.
      const tag = `wr.requests.${Math.floor(OPENING / 1000)}`
      const { storeKey } = await import('../../gateway/store/keys.js')
      expect((await stores.sortedSets.popMin(storeKey(tag, 'queue'), 1))[0]?.member).toBe(first)
      expect(await wr.enter(r, who('first'))).toMatchObject({ ticket: first, status: 'waiting', position: 1 })
      expect(await wr.enter(r, who('second'))).toMatchObject({ position: 2 })
      expect(deviceHash('first')).not.toBe(deviceHash('second'))
    })
  })
}
