// The gateway's WebSocket, wired (gateway/plugins/push.ts), on real Redis: a waiting-room ticket
// gets its welcome and its admission from whichever instance admits it, resumes after a
// reconnect, and a watch ticket gets the registration's draw outcome as it happens.
import { randomUUID } from 'node:crypto'
import { afterEach, describe, expect, it } from 'vitest'
import WebSocket from 'ws'
import { ERRORS } from '../../gateway/errors.js'
import { ManualClock } from '../../gateway/store/clock.js'
import { buildApp, redisStores, testConfig, uniquePrefix } from '../helpers/app.js'
import { applicant, token } from '../helpers/tokens.js'

interface Socket { messages: Array<Record<string, unknown>>, next(type: string, ms?: number): Promise<Record<string, unknown>>, closed: Promise<number>, ws: WebSocket }

async function subscribe (url: string, ticket: string, language = 'en'): Promise<Socket> {
  const ws = new WebSocket(url, { headers: { 'accept-language': language } })
  const messages: Array<Record<string, unknown>> = []
  const waiters: Array<() => void> = []
  ws.on('message', (data) => {
    messages.push(JSON.parse(String(data)) as Record<string, unknown>)
    for (const wake of waiters.splice(0)) wake()
  })
  const closed = new Promise<number>((resolve) => ws.on('close', (code) => resolve(code)))
  await new Promise<void>((resolve, reject) => { ws.once('open', () => resolve()); ws.once('error', reject) })
  ws.send(JSON.stringify({ type: 'subscribe', ticket }))
  const next = async (type: string, ms = 5_000): Promise<Record<string, unknown>> => {
    const until = Date.now() + ms
    for (;;) {
      const found = messages.find((m) => m.type === type)
      if (found !== undefined) return found
      if (Date.now() > until) throw new Error(`no ${type} within ${ms} ms: ${JSON.stringify(messages)}`)
      await new Promise<void>((resolve) => { waiters.push(resolve); setTimeout(resolve, 100) })
    }
  }
  return { messages, next, closed, ws }
}

describe('WebSocket push through the gateway (real Redis)', () => {
  const closing: Array<{ close: () => unknown }> = []
  afterEach(async () => { for (const c of closing.splice(0).reverse()) await c.close() })

  const room = (admitPerSecond: number) => JSON.stringify([{ name: 'requests', routes: ['GET /v1/schedule'], openings: [new Date(Date.now() - 60_000).toISOString()], preOpenMinutes: 0, activeMinutes: 30, admitPerSecond, maxActive: 1000 }])

  it('welcomes a ticket, pushes its admission from whichever instance admits it, and resumes after a reconnect', async () => {
    const keyPrefix = uniquePrefix()
    const env = { GATEWAY_RATE_LIMIT_RULES: '[]', GATEWAY_WAITING_ROOM_AUTO_ADMIT: 'true', GATEWAY_WAITING_ROOMS: room(1) }
    const a = await buildApp({ stores: await redisStores({ keyPrefix }), config: testConfig(env) })
    const b = await buildApp({ stores: await redisStores({ keyPrefix }), config: testConfig(env) })
    closing.push(a, b)
    const who = applicant(randomUUID(), { sub: randomUUID() })
    // Two ahead: this device waits a couple of seconds at one admission a second.
    await a.inject({ url: '/v1/schedule', headers: applicant(randomUUID(), { sub: randomUUID() }) })
    await b.inject({ url: '/v1/schedule', headers: applicant(randomUUID(), { sub: randomUUID() }) })
    const waiting = (await a.inject({ url: '/v1/schedule', headers: who })).json()
    expect(waiting.status).toBe('waiting')
    const socket = await subscribe(waiting.wsUrl as string, waiting.ticket as string)
    closing.push({ close: () => socket.ws.close() })
    const welcome = await socket.next('welcome')
    expect(welcome).toMatchObject({ type: 'welcome', status: 'waiting', room: 'requests', ticket: waiting.ticket })
    expect(welcome.position as number).toBeGreaterThanOrEqual(1)
    // Progress for the whole room, once a second.
    expect(await socket.next('progress', 3_000)).toMatchObject({ type: 'progress', room: 'requests', phase: 'open', admitPerSecond: 1 })
    const admitted = await socket.next('admitted', 10_000)
    expect(admitted).toMatchObject({ type: 'admitted', room: 'requests', ticket: waiting.ticket, admissionToken: expect.stringMatching(/^[\w-]+\.[\w-]+\.[\w-]+$/) })
    expect(Date.now() - (admitted.decidedAt as number)).toBeLessThan(10_000)
    // The token lets this device through either instance.
    expect((await b.inject({ url: '/v1/schedule', headers: { ...who, 'x-admission-token': admitted.admissionToken as string } })).json().requestWindow).toBeDefined()
    // Reconnecting with the ticket: the admission again, at once.
    const again = await subscribe(`ws://127.0.0.1:${b.pushPort as number}/v1/waiting-room/ws`, waiting.ticket as string)
    closing.push({ close: () => again.ws.close() })
    expect(await again.next('admitted')).toMatchObject({ ticket: waiting.ticket, admissionToken: admitted.admissionToken })
    const metrics = (await a.inject({ url: '/metrics' })).body
    expect(metrics).toMatch(/gateway_ws_messages_total\{type="admitted"\} [1-9]/)
    expect(metrics).toMatch(/gateway_ws_published_total\{type="progress"\} [1-9]/)
  }, 30_000)

  it('refuses an unknown ticket in the client\'s language, and closes', async () => {
    const app = await buildApp({ stores: await redisStores(), config: testConfig({ GATEWAY_WS_ENABLED: 'true' }) })
    closing.push(app)
    const socket = await subscribe(`ws://127.0.0.1:${app.pushPort as number}/v1/waiting-room/ws`, 'wrt_nosuchticketatall00', 'es')
    expect(await socket.next('error')).toEqual({ type: 'error', code: 'GW_ERR_WR_TICKET_NOT_FOUND', message: ERRORS.GW_ERR_WR_TICKET_NOT_FOUND.messages.es })
    expect(await socket.closed).toBe(1008)
  })

  it('pushes a watched registration\'s draw outcome as it happens, to its watch ticket only', async () => {
    const clock = new ManualClock(Date.now())
    const app = await buildApp({ clock, stores: await redisStores({ clock }), config: testConfig({ GATEWAY_RATE_LIMIT_RULES: '[]', GATEWAY_WS_ENABLED: 'true' }) })
    closing.push(app)
    const who = applicant(randomUUID(), { sub: `watcher-${randomUUID()}` })
    const member = { firstName: 'Wat', lastName: 'Cher', dateOfBirth: '1979-04-05', nationality: 'CUB', usAddress: { line1: '5 Calle', city: 'Tucson', state: 'AZ', zip: '85701' } }
    const registrationId = (await app.inject({ method: 'POST', url: '/v1/registrations', headers: { ...who, 'idempotency-key': randomUUID() }, payload: { members: [member], preferredLanguage: 'es' } })).json().registrationId as string
    const watch = await app.inject({ method: 'POST', url: `/v1/registrations/${registrationId}/watch`, headers: { ...who, 'idempotency-key': randomUUID(), host: 'gw.example' } })
    expect(watch.statusCode).toBe(201)
    expect(watch.json()).toEqual({ watchTicket: expect.stringMatching(/^wrw_[\w-]{22}$/), registrationId, expiresAt: expect.any(String), wsUrl: `ws://gw.example:${app.pushPort as number}/v1/waiting-room/ws` })
    // Someone else's registration: the same 404 as an unknown one.
    expect((await app.inject({ method: 'POST', url: `/v1/registrations/${registrationId}/watch`, headers: { ...applicant(randomUUID(), { sub: randomUUID() }), 'idempotency-key': randomUUID() } })).json().code).toBe('GW_ERR_REG_NOT_FOUND')

    const socket = await subscribe(`ws://127.0.0.1:${app.pushPort as number}/v1/waiting-room/ws`, watch.json().watchTicket as string)
    closing.push({ close: () => socket.ws.close() })
    expect(await socket.next('watching')).toEqual({ type: 'watching', registrationId })

    const schedule = (await app.inject({ url: '/v1/schedule', headers: who })).json()
    if (!schedule.requestWindow.open) clock.set(Date.parse(schedule.requestWindow.nextChangeAt) + 60_000)
    const requested = (await app.inject({ method: 'POST', url: '/v1/appointment-requests', headers: { ...who, 'idempotency-key': randomUUID() }, payload: { registrationId, poe: 'nogales', location: { latitude: 31.3, longitude: -110.9, accuracyMeters: 10 } } })).json()
    clock.set(app.allocations.sealableAt(requested.poolDate as string))
    expect((await app.inject({ method: 'POST', url: '/v1/ops/allocations', headers: { authorization: `Bearer ${token({ role: 'ops' })}`, 'idempotency-key': randomUUID() }, payload: { date: requested.poolDate } })).statusCode).toBe(200)
    const result = await socket.next('result')
    const number = (await app.inject({ url: `/v1/appointment-requests/${requested.requestId as string}`, headers: who })).json().appointment.confirmationNumber
    expect(result).toEqual({ type: 'result', kind: 'allocation', requestId: requested.requestId, poolDate: requested.poolDate, status: 'selected', appointment: { poe: 'nogales', date: requested.poolDate, slot: expect.any(String), confirmationNumber: number, confirmBy: expect.any(String) } })
  }, 30_000)
})
