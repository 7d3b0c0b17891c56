// The producers of the outbox, end to end on real Redis: every accepted write a backend must know
// about reaches the backend simulator once, under its own event id; a write whose append fails is
// not acknowledged, and recovery settles what it left behind.
import { randomUUID } from 'node:crypto'
import { afterEach, describe, expect, it } from 'vitest'
import type { FastifyInstance } from 'fastify'
import { eventId } from '../../gateway/domain/events.js'
import { ManualClock } from '../../gateway/store/clock.js'
import type { Stores } from '../../gateway/store/ports.js'
import { startBackend } from '../../loadtests/simulators/backend.js'
import { startLivenessVendor } from '../../loadtests/simulators/liveness-vendor.js'
import { portraitJpeg, PORTRAITS } from '../fixtures/photos.js'
import { buildApp, redisStores, suiteRedisName, testConfig } from '../helpers/app.js'
import { applicant, token } from '../helpers/tokens.js'

const inside = { latitude: 31.3, longitude: -110.9, accuracyMeters: 10 }
const ops = { authorization: `Bearer ${token({ role: 'ops' })}` }
const member = (i: number) => ({ firstName: `Out${i}`, lastName: 'Box', dateOfBirth: `19${50 + (i % 50)}-02-03`, nationality: 'VEN', usAddress: { line1: `${i} Calle Uno`, city: 'Tucson', state: 'AZ', zip: '85701' } })

const waitFor = async (what: () => boolean | Promise<boolean>, ms: number, why = '') => {
  const until = Date.now() + ms
  while (Date.now() < until) {
    if (await what()) return
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  throw new Error(`not within ${ms} ms ${why}`)
}

interface Applicant { headers: Record<string, string>, registrationId: string, subject: string, deviceId: string }

async function register (gateway: FastifyInstance, i: number, members = 1): Promise<Applicant> {
  const subject = `outbox-${i}-${randomUUID()}`
  const deviceId = randomUUID()
  const headers = applicant(deviceId, { sub: subject })
  const res = await gateway.inject({ method: 'POST', url: '/v1/registrations', remoteAddress: `10.9.0.${i}`, headers: { ...headers, 'idempotency-key': randomUUID() }, payload: { members: Array.from({ length: members }, (_, m) => member(i * 10 + m)), preferredLanguage: 'es' } })
  expect(res.statusCode, res.body).toBe(201)
  return { headers, registrationId: res.json().registrationId, subject, deviceId }
}

describe(`outbox producers (real ${suiteRedisName() === 'redis' ? 'Redis' : 'Redis Cluster'})`, () => {
  const closing: Array<{ close: () => Promise<unknown> }> = []
  afterEach(async () => { await Promise.all(closing.splice(0).map(async (c) => c.close())) })

  it('every accepted write a backend must know about reaches it once, under a stable id, without device, account or photo', async () => {
    const vendor = await startLivenessVendor({ ratePerSecond: 50, totalScans: 1_000, latencyMs: 2 })
    const backend = await startBackend({ latencyMs: 1, keepBodies: true })
    closing.push(vendor, backend)
    const clock = new ManualClock(Date.now())
    const gateway = await buildApp({
      clock,
      stores: await redisStores({ clock }),
      config: testConfig({ GATEWAY_RATE_LIMIT_RULES: '[]', GATEWAY_REGISTRATION_MIN_INTERVAL_SECONDS: '0', GATEWAY_VENDOR_URL: vendor.url, GATEWAY_VENDOR_RATE_PER_SECOND: '50', GATEWAY_DELIVERY_URL: `${backend.url}/events` })
    })
    closing.unshift(gateway)

    const [family, single, leaving] = [await register(gateway, 1, 2), await register(gateway, 2), await register(gateway, 3)] as [Applicant, Applicant, Applicant]
    const schedule = (await gateway.inject({ url: '/v1/schedule', headers: family.headers })).json()
    if (!schedule.requestWindow.open) clock.set(Date.parse(schedule.requestWindow.nextChangeAt) + 60_000)
    const request = async (who: Applicant) => {
      const res = await gateway.inject({ method: 'POST', url: '/v1/appointment-requests', headers: { ...who.headers, 'idempotency-key': randomUUID() }, payload: { registrationId: who.registrationId, poe: 'nogales', location: inside } })
      expect(res.statusCode, res.body).toBe(202)
      return res.json() as { requestId: string, poolDate: string }
    }
    const [familyRequest, singleRequest] = [await request(family), await request(single)]
    expect((await gateway.inject({ method: 'DELETE', url: `/v1/registrations/${leaving.registrationId}`, headers: { ...leaving.headers, 'idempotency-key': randomUUID() } })).statusCode).toBe(200)

    clock.set(gateway.allocations.sealableAt(familyRequest.poolDate))
    expect((await gateway.inject({ method: 'POST', url: '/v1/ops/allocations', headers: { ...ops, 'idempotency-key': randomUUID() }, payload: { date: familyRequest.poolDate } })).statusCode).toBe(200)
    const appointment = async (who: Applicant, requestId: string) => (await gateway.inject({ url: `/v1/appointment-requests/${requestId}`, headers: who.headers })).json().appointment as { confirmationNumber: string, confirmBy: string }
    const familyNumber = (await appointment(family, familyRequest.requestId)).confirmationNumber
    const singleNumber = (await appointment(single, singleRequest.requestId)).confirmationNumber

    const checks: string[] = []
    for (const memberIndex of [0, 1]) {
      const photo = (await portraitJpeg({ ...PORTRAITS['medium-well-lit'], width: 640, height: 640, seed: 300 + memberIndex })).toString('base64')
      const id = (await gateway.inject({ method: 'POST', url: '/v1/liveness', headers: { ...family.headers, 'idempotency-key': randomUUID() }, payload: { registrationId: family.registrationId, memberIndex, photo } })).json().livenessId as string
      await waitFor(async () => (await gateway.inject({ url: `/v1/liveness/${id}`, headers: family.headers })).json().status === 'passed', 10_000)
      checks.push(id)
    }
    const confirmed = await gateway.inject({ method: 'POST', url: `/v1/appointments/${familyNumber}/confirm`, headers: { ...family.headers, 'idempotency-key': randomUUID() }, payload: { livenessId: checks[0], location: inside } })
    expect(confirmed.statusCode, confirmed.body).toBe(200)
    const extended = await gateway.inject({ method: 'POST', url: `/v1/appointments/${singleNumber}/extend`, headers: { ...single.headers, 'idempotency-key': randomUUID() } })
    expect(extended.statusCode, extended.body).toBe(200)
    clock.set(Date.parse(extended.json().appointment.confirmBy) + 24 * 3600_000)
    expect((await gateway.drawScheduler.tick()).filter((s) => s.action === 'lapse')).toEqual([{ action: 'lapse', date: familyRequest.poolDate, count: 1 }])

    const expected = {
      'registration.created': 3,
      'registration.withdrawn': 1,
      'appointment.requested': 2,
      'appointment.allocated': 2,
      'liveness.decided': 2,
      'appointment.confirmed': 1,
      'appointment.extended': 1,
      'appointment.lapsed': 1
    }
    await waitFor(() => backend.stats().accepted >= 13, 15_000, JSON.stringify(backend.stats()))
    const received = backend.received()
    const bodies = [...received.values()].map((e) => e.body as { id: string, type: string, time: number, payload: Record<string, unknown> })
    const byType = (type: string) => bodies.filter((b) => b.type === type)
    expect(Object.fromEntries(Object.keys(expected).map((t) => [t, byType(t).length]))).toEqual(expected)
    expect(backend.stats()).toMatchObject({ accepted: 13, duplicates: 0 })
    for (const [key, event] of received) expect(event.body?.id).toBe(key)

    // Ids are the change's own: the same for every append of it.
    expect(received.has(eventId('registration.created', family.registrationId))).toBe(true)
    expect(received.has(eventId('appointment.confirmed', familyRequest.requestId))).toBe(true)
    expect(received.has(eventId('appointment.extended', singleRequest.requestId, 1))).toBe(true)
    expect(received.has(eventId('appointment.lapsed', singleRequest.requestId))).toBe(true)
    expect(received.has(eventId('registration.withdrawn', leaving.registrationId))).toBe(true)

    // What each says: enough for a system of record, and nothing about the device or the account.
    const created = byType('registration.created').find((b) => b.payload.registrationId === family.registrationId)
    expect(created?.payload).toEqual({ registrationId: family.registrationId, createdAt: expect.any(String), preferredLanguage: 'es', members: [member(10), member(11)] })
    expect(byType('appointment.allocated').map((b) => b.payload.confirmationNumber).sort()).toEqual([familyNumber, singleNumber].sort())
    expect(byType('appointment.confirmed')[0]?.payload).toMatchObject({ requestId: familyRequest.requestId, registrationId: family.registrationId, confirmationNumber: familyNumber, poe: 'nogales' })
    expect(byType('appointment.lapsed')[0]?.payload).toMatchObject({ requestId: singleRequest.requestId, confirmationNumber: singleNumber })
    expect(byType('liveness.decided').map((b) => b.payload.status)).toEqual(['passed', 'passed'])
    expect(byType('registration.withdrawn')[0]?.payload).toMatchObject({ registrationId: leaving.registrationId, reason: 'withdrawn' })
    const text = JSON.stringify(bodies)
    for (const who of [family, single, leaving]) {
      expect(text).not.toContain(who.subject)
      expect(text).not.toContain(who.deviceId)
    }
    for (const field of ['owner', 'identities', 'photo', 'deviceId', 'network', 'token']) expect(text).not.toContain(`"${field}"`)

    // The backend records an event before the gateway acknowledges (and counts) its delivery.
    await waitFor(async () => (await gateway.delivery.service.overview(1)).depth === 0, 5_000, 'outbox not drained')
    const metrics = (await gateway.inject({ url: '/metrics' })).body
    expect(metrics).toContain('gateway_outbox_appended_total{type="registration.created"} 3')
    expect(metrics).toContain('gateway_delivery_events_total{type="appointment.lapsed"} 1')
    expect(metrics).toContain('gateway_outbox_intents 0')
  }, 60_000)

  describe('a write whose append fails', () => {
    let gateway: FastifyInstance
    let stores: Stores
    let clock: ManualClock

    const build = async () => {
      clock = new ManualClock(Date.now())
      stores = await redisStores({ clock, outboxPartitions: 1 })
      gateway = await buildApp({ clock, stores, config: testConfig({ GATEWAY_RATE_LIMIT_RULES: '[]', GATEWAY_REGISTRATION_MIN_INTERVAL_SECONDS: '0', GATEWAY_OUTBOX_PARTITIONS: '1', GATEWAY_DELIVERY_RECOVER_AFTER_SECONDS: '60' }) })
      closing.push(gateway)
    }
    // A real fault on the real Redis: the outbox stream's key holds a string, so XADD fails
    // (WRONGTYPE) while every other write goes through.
    const breakOutbox = async () => { await stores.redisClient?.set('{outbox.0}:stream', 'not a stream') }
    const repairOutbox = async () => { await stores.redisClient?.del('{outbox.0}:stream') }
    const types = async () => {
      const entries = await stores.outbox.read(0, 'test', 100)
      return entries.map((e) => e.event.type)
    }

    it('is not acknowledged: a registration is undone, its intent dropped by recovery, and the people can register again', async () => {
      await build()
      await breakOutbox()
      const headers = applicant(randomUUID(), { sub: 'broken-outbox' })
      const body = { members: [member(70)], preferredLanguage: 'es' }
      const failed = await gateway.inject({ method: 'POST', url: '/v1/registrations', headers: { ...headers, 'idempotency-key': randomUUID() }, payload: body })
      expect(failed.statusCode).toBeGreaterThanOrEqual(500)
      expect(failed.json().code).toMatch(/^GW_ERR_/)
      await repairOutbox()
      expect((await stores.outbox.stats()).intents).toBe(1)
      clock.advance(61_000)
      expect(await gateway.events.recover()).toEqual({ appended: 0, dropped: 1 })
      expect(await types()).toEqual([])
      const again = await gateway.inject({ method: 'POST', url: '/v1/registrations', headers: { ...headers, 'idempotency-key': randomUUID() }, payload: body })
      expect(again.statusCode, again.body).toBe(201)
      expect(await types()).toEqual(['registration.created'])
      expect((await gateway.inject({ url: '/metrics' })).body).toContain('gateway_outbox_recovered_total{type="registration.created",outcome="dropped"} 1')
    })

    it('is not acknowledged: a withdrawal that happened is not answered, and recovery appends its event once due', async () => {
      await build()
      const who = await register(gateway, 80)
      expect(await types()).toEqual(['registration.created'])
      await breakOutbox()
      const failed = await gateway.inject({ method: 'DELETE', url: `/v1/registrations/${who.registrationId}`, headers: { ...who.headers, 'idempotency-key': randomUUID() } })
      expect(failed.statusCode).toBeGreaterThanOrEqual(500)
      await repairOutbox()
      // Not due yet: a request may still be on its way to the append.
      clock.advance(30_000)
      expect(await gateway.events.recover()).toEqual({ appended: 0, dropped: 0 })
      clock.advance(31_000)
      expect(await gateway.events.recover()).toEqual({ appended: 1, dropped: 0 })
      expect(await types()).toEqual(['registration.withdrawn'])
      expect((await stores.outbox.stats()).intents).toBe(0)
    })
  })
})
