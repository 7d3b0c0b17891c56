// The waiting room in front of a route, through the gateway: a ticket instead of the route while
// it stands, the same ticket on every refresh, a device-bound admission, other roles untouched, a
// second instance on the same Redis, and its read-only routes.
import { randomUUID } from 'node:crypto'
import { afterEach, describe, expect, it } from 'vitest'
import type { FastifyInstance } from 'fastify'
import { ERRORS } from '../../gateway/errors.js'
import { ManualClock } from '../../gateway/store/clock.js'
import { buildApp, redisStores, testConfig, uniquePrefix } from '../helpers/app.js'
import { applicant, token } from '../helpers/tokens.js'

const OPENING = Date.parse('2026-11-24T17:00:00Z')
const inside = { latitude: 31.3, longitude: -110.9, accuracyMeters: 10 }
const rooms = (extra: Record<string, unknown> = {}) => JSON.stringify([{
  name: 'requests',
  routes: ['POST /v1/appointment-requests', 'GET /v1/schedule'],
  openings: [new Date(OPENING).toISOString()],
  preOpenMinutes: 15,
  activeMinutes: 30,
  admitPerSecond: 5,
  maxActive: 1000,
  ...extra
}])

describe('waiting room in front of routes', () => {
  const closing: FastifyInstance[] = []
  afterEach(async () => { await Promise.all(closing.splice(0).map(async (g) => g.close())) })

  const gateway = async (clock: ManualClock, env: Record<string, string> = {}, keyPrefix?: string) => {
    const app = await buildApp({ clock, stores: await redisStores({ clock, ...(keyPrefix === undefined ? {} : { keyPrefix }) }), config: testConfig({ GATEWAY_RATE_LIMIT_RULES: '[]', GATEWAY_WAITING_ROOMS: rooms(), ...env }) })
    closing.push(app)
    return app
  }
  const schedule = (app: FastifyInstance, headers: Record<string, string>) => app.inject({ url: '/v1/schedule', headers })

  it('answers a device without an admission with its ticket, the same on every refresh, and lets it through once admitted', async () => {
    const clock = new ManualClock(OPENING + 1_000)
    const app = await gateway(clock)
    const device = randomUUID()
    const who = applicant(device, { sub: randomUUID() })
    const first = await schedule(app, { ...who, host: 'gw.example:8080' })
    expect(first.statusCode).toBe(200)
    expect(first.headers['x-waiting-room']).toBe('requests')
    expect(first.headers['cache-control']).toBe('no-store')
    const body = first.json()
    expect(body).toEqual({
      status: 'waiting',
      room: 'requests',
      ticket: expect.stringMatching(/^wrt_[\w-]{22}$/),
      position: 1,
      estimatedWaitSeconds: 1,
      admitted: 0,
      wsUrl: `ws://gw.example:${app.pushPort as number}/v1/waiting-room/ws`,
      pageUrl: `/waiting-room?room=requests&ticket=${body.ticket as string}`
    })
    for (let i = 0; i < 3; i++) expect((await schedule(app, who)).json()).toMatchObject({ ticket: body.ticket, position: 1 })
    expect((await schedule(app, applicant(randomUUID(), { sub: randomUUID() }))).json()).toMatchObject({ position: 2 })

    await app.waitingRoom.admit()
    // Admitted: the route answers, with the token for the next request.
    const through = await schedule(app, who)
    expect(through.statusCode).toBe(200)
    expect(through.json().requestWindow).toBeDefined()
    const admission = through.headers['x-admission-token'] as string
    expect(admission).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+$/)
    expect((await schedule(app, { ...who, 'x-admission-token': admission })).json().requestWindow).toBeDefined()
    // Bound to its device: on another it is just a missing admission.
    const other = applicant(randomUUID(), { sub: randomUUID() })
    expect((await schedule(app, { ...other, 'x-admission-token': admission })).json().status).toBe('waiting')
    // Its ticket, through the fallback route, for its own device only.
    expect((await app.inject({ url: `/v1/waiting-rooms/requests/tickets/${body.ticket as string}`, headers: who })).json()).toMatchObject({ status: 'admitted', ticket: body.ticket, admissionToken: admission })
    const stranger = await app.inject({ url: `/v1/waiting-rooms/requests/tickets/${body.ticket as string}`, headers: { ...other, 'accept-language': 'ht' } })
    expect(stranger.statusCode).toBe(404)
    expect(stranger.json()).toEqual({ code: 'GW_ERR_WR_TICKET_NOT_FOUND', message: ERRORS.GW_ERR_WR_TICKET_NOT_FOUND.messages.ht })
  })

  it('keeps a POST out without spending its idempotency key, and never stands in front of other roles or while idle', async () => {
    const clock = new ManualClock(OPENING + 1_000)
    const app = await gateway(clock)
    const who = applicant(randomUUID(), { sub: randomUUID() })
    const key = randomUUID()
    const waiting = await app.inject({ method: 'POST', url: '/v1/appointment-requests', headers: { ...who, 'idempotency-key': key }, payload: { registrationId: 'reg_aaaaaaaaaaaaaaaaaaaaaa', poe: 'nogales', location: inside } })
    expect(waiting.statusCode).toBe(200)
    expect(waiting.json().status).toBe('waiting')
    await app.waitingRoom.admit()
    // The same key now reaches the route (which finds no such registration).
    const through = await app.inject({ method: 'POST', url: '/v1/appointment-requests', headers: { ...who, 'idempotency-key': key }, payload: { registrationId: 'reg_aaaaaaaaaaaaaaaaaaaaaa', poe: 'nogales', location: inside } })
    expect(through.json().code).toBe('GW_ERR_REG_NOT_FOUND')
    expect((await app.inject({ url: '/v1/schedule', headers: { authorization: `Bearer ${token({ role: 'ops' })}` } })).json().status).toBeUndefined()
    clock.set(OPENING + 31 * 60_000)
    expect((await schedule(app, applicant(randomUUID(), { sub: randomUUID() }))).json().requestWindow).toBeDefined()
  })

  it('queues HEAD like the GET it runs', async () => {
    const clock = new ManualClock(OPENING + 1_000)
    const app = await gateway(clock)
    const head = await app.inject({ method: 'HEAD', url: '/v1/schedule', headers: applicant(randomUUID(), { sub: randomUUID() }) })
    expect(head.statusCode).toBe(200)
    expect(head.headers['x-waiting-room']).toBe('requests')
  })

  it('serves one queue from two instances sharing Redis', async () => {
    const clock = new ManualClock(OPENING + 1_000)
    const keyPrefix = uniquePrefix()
    const a = await gateway(clock, {}, keyPrefix)
    const b = await gateway(clock, {}, keyPrefix)
    const who = applicant(randomUUID(), { sub: randomUUID() })
    const ticket = (await schedule(a, who)).json().ticket as string
    await schedule(b, applicant(randomUUID(), { sub: randomUUID() }))
    expect((await schedule(b, who)).json()).toMatchObject({ ticket, position: 1 })
    // Rounds run by hand here: the lease lets one instance admit, and it admits both.
    const [fromA, fromB] = await Promise.all([a.waitingRoom.admit(), b.waitingRoom.admit()])
    expect([...fromA, ...fromB].map((x) => x.ticket)).toContain(ticket)
    expect([fromA.length, fromB.length].sort()).toEqual([0, 2])
    expect(await a.waitingRoom.ticket(ticket)).toMatchObject({ status: 'admitted', ticket })
    const token = (await schedule(b, who)).headers['x-admission-token'] as string
    expect((await schedule(a, { ...who, 'x-admission-token': token })).json().requestWindow).toBeDefined()
    const overview = await a.inject({ url: '/v1/waiting-rooms/requests', headers: who })
    expect(overview.json()).toMatchObject({ room: 'requests', phase: 'open', waiting: 0, admitted: 2, active: 2, admitPerSecond: 5, commitment: null, seed: null })
    const metrics = (await a.inject({ url: '/metrics' })).body
    expect(metrics).toContain('gateway_waiting_room_size{room="requests"} 0')
    expect(metrics).toContain('gateway_waiting_room_active{room="requests"} 2')
  })

  it('publishes the commitment before the opening and the seed after it; unknown rooms are 404', async () => {
    const clock = new ManualClock(OPENING - 60_000)
    const app = await gateway(clock)
    const who = applicant(randomUUID(), { sub: randomUUID() })
    expect((await schedule(app, who)).json()).toMatchObject({ status: 'waiting', position: 1, opensAt: new Date(OPENING).toISOString(), estimatedWaitSeconds: 61 })
    const before = (await app.inject({ url: '/v1/waiting-rooms/requests', headers: who })).json()
    expect(before).toMatchObject({ phase: 'pre-open', commitment: expect.stringMatching(/^[0-9a-f]{64}$/), seed: null, waiting: 1 })
    clock.set(OPENING)
    const after = (await app.inject({ url: '/v1/waiting-rooms/requests', headers: who })).json()
    expect(after).toMatchObject({ phase: 'open', commitment: before.commitment, seed: expect.stringMatching(/^[0-9a-f]{64}$/) })
    const unknown = await app.inject({ url: '/v1/waiting-rooms/nope', headers: { ...who, 'accept-language': 'ru' } })
    expect(unknown.statusCode).toBe(404)
    expect(unknown.json()).toEqual({ code: 'GW_ERR_WR_ROOM_NOT_FOUND', message: ERRORS.GW_ERR_WR_ROOM_NOT_FOUND.messages.ru })
  })

  it('refuses to boot when a room names a route the gateway does not have', async () => {
    const clock = new ManualClock(OPENING)
    await expect(buildApp({ clock, config: testConfig({ GATEWAY_WAITING_ROOMS: rooms({ routes: ['POST /v1/appointment-request'] }) }) })).rejects.toThrow('waitingRoom.rooms (GATEWAY_WAITING_ROOMS) names routes the gateway does not have: requests: POST /v1/appointment-request')
  })
})
