import { randomUUID } from 'node:crypto'
import { beforeEach, afterEach, describe, expect, it } from 'vitest'
import type { FastifyInstance } from 'fastify'
import { livenessKey, memberPassKey } from '../../gateway/domain/liveness.js'
import { ERRORS } from '../../gateway/errors.js'
import { ManualClock } from '../../gateway/store/clock.js'
import { createMemoryStores } from '../../gateway/store/memory/index.js'
import type { Stores } from '../../gateway/store/ports.js'
import { buildApp, testConfig } from '../helpers/app.js'
import { applicant, token } from '../helpers/tokens.js'

describe('confirming a drawn appointment', () => {
  let gateway: FastifyInstance
  let stores: Stores
  let clock: ManualClock
  let who: Record<string, string>
  let registrationId: string
  let number: string
  let requestId: string
  const inside = { latitude: 31.3, longitude: -110.9, accuracyMeters: 10 }

  beforeEach(async () => {
    clock = new ManualClock(Date.parse('2026-11-23T18:00:00Z'))
    stores = createMemoryStores({ clock })
    gateway = await buildApp({ clock, stores, config: testConfig({ GATEWAY_RATE_LIMIT_RULES: '[]' }) })
    who = applicant(randomUUID(), { sub: 'winner' })
    registrationId = (await gateway.inject({
      method: 'POST',
      url: '/v1/registrations',
      headers: { ...who, 'idempotency-key': randomUUID() },
      payload: { members: [{ firstName: 'Win', lastName: 'Ner', dateOfBirth: '1980-01-01', nationality: 'VEN', usAddress: { line1: '1 A St', city: 'Miami', state: 'FL', zip: '33101' } }], preferredLanguage: 'es' }
    })).json().registrationId
    requestId = (await gateway.inject({ method: 'POST', url: '/v1/appointment-requests', headers: { ...who, 'idempotency-key': randomUUID() }, payload: { registrationId, poe: 'nogales', location: inside } })).json().requestId
    clock.set(Date.parse('2026-11-24T16:01:00Z'))
    await gateway.inject({ method: 'POST', url: '/v1/ops/allocations', headers: { authorization: `Bearer ${token({ role: 'ops' })}`, 'idempotency-key': randomUUID() }, payload: { date: '2026-11-24' } })
    number = (await gateway.inject({ url: `/v1/appointment-requests/${requestId}`, headers: who })).json().appointment.confirmationNumber
  })
  afterEach(async () => { await gateway.close() })

  // What the liveness pipeline writes when the vendor passes the only member's photo
  // (end to end in test/routes/liveness.test.ts).
  const passed = async (id: string) => {
    await stores.kv.set(livenessKey(id), JSON.stringify({ livenessId: id, owner: 'winner', registrationId, memberIndex: 0, status: 'passed', createdAt: '2026-11-24T16:02:00.000Z', decidedAt: '2026-11-24T16:03:00.000Z' }))
    await stores.kv.set(memberPassKey(registrationId, 0), id)
  }

  const confirm = (headers: Record<string, string>, body: object) => gateway.inject({ method: 'POST', url: `/v1/appointments/${number}/confirm`, headers: { ...headers, 'idempotency-key': randomUUID() }, payload: body })
  const extend = (headers: Record<string, string>) => gateway.inject({ method: 'POST', url: `/v1/appointments/${number}/extend`, headers: { ...headers, 'idempotency-key': randomUUID() } })

  it('confirms with a passed liveness check of the group and a location inside the fence', async () => {
    await passed('liv-1')
    const res = await confirm(who, { livenessId: 'liv-1', location: inside })
    expect(res.statusCode).toBe(200)
    expect(res.json()).toMatchObject({ status: 'confirmed', appointment: { poe: 'nogales', confirmationNumber: number } })
  })

  it('refuses a check decided before the draw: the selfie must be taken for this appointment', async () => {
    await stores.kv.set(livenessKey('liv-old'), JSON.stringify({ livenessId: 'liv-old', owner: 'winner', registrationId, memberIndex: 0, status: 'passed', createdAt: '2026-11-23T19:00:00.000Z', decidedAt: '2026-11-23T19:01:00.000Z' }))
    await stores.kv.set(memberPassKey(registrationId, 0), 'liv-old')
    expect((await confirm(who, { livenessId: 'liv-old', location: inside })).json().code).toBe('GW_ERR_APPT_LIVENESS_REQUIRED')
    await passed('liv-new')
    expect((await confirm(who, { livenessId: 'liv-new', location: inside })).statusCode).toBe(200)
  })

  it('refuses without a passed check of this group, or from outside the fence', async () => {
    await stores.kv.set(livenessKey('liv-failed'), JSON.stringify({ registrationId, status: 'failed' }))
    await stores.kv.set(livenessKey('liv-other'), JSON.stringify({ registrationId: 'reg_someoneelse', status: 'passed' }))
    await passed('liv-ok')
    for (const id of ['liv-failed', 'liv-other', 'liv-missing']) {
      const res = await confirm({ ...who, 'accept-language': 'ht' }, { livenessId: id, location: inside })
      expect(res.statusCode).toBe(409)
      expect(res.json()).toEqual({ code: 'GW_ERR_APPT_LIVENESS_REQUIRED', message: ERRORS.GW_ERR_APPT_LIVENESS_REQUIRED.messages.ht })
    }
    expect((await confirm(who, { livenessId: 'liv-ok', location: { latitude: 19.0, longitude: -99.1, accuracyMeters: 10 } })).json().code).toBe('GW_ERR_GEO_OUTSIDE')
  })

  it('answers 404 to another account, and 409 after confirm-by; one extension adds 23 h', async () => {
    const stranger = applicant(randomUUID(), { sub: 'stranger' })
    expect((await extend(stranger)).json().code).toBe('GW_ERR_APPT_NOT_FOUND')
    const extended = await extend(who)
    expect(extended.json().appointment).toMatchObject({ confirmBy: '2026-11-26T14:01:00.000Z', extensions: 1 })
    expect((await extend(who)).json().code).toBe('GW_ERR_APPT_EXTENSION_USED')
    clock.set(Date.parse('2026-11-26T14:01:00Z'))
    await passed('liv-late')
    expect((await confirm(who, { livenessId: 'liv-late', location: inside })).json().code).toBe('GW_ERR_APPT_EXPIRED')
  })

  const lapses = async () => (await gateway.drawScheduler.tick()).filter((s) => s.action === 'lapse')
  const metric = async (event: string) => new RegExp(`gateway_appointments_total\\{poe="nogales",event="${event}"\\} (\\d+)`).exec((await gateway.inject({ url: '/metrics' })).body)?.[1]

  it('releases a place left unconfirmed past confirm-by (and the grace), counts it, and the number no longer validates', async () => {
    expect(await gateway.partnerValidation.validate(number, '1980-01-01')).toBe(true)
    clock.set(Date.parse('2026-11-25T15:01:59Z'))
    expect(await lapses()).toEqual([])
    expect((await gateway.inject({ url: `/v1/appointment-requests/${requestId}`, headers: who })).json().status).toBe('selected')
    clock.set(Date.parse('2026-11-25T15:02:00Z'))
    expect(await lapses()).toEqual([{ action: 'lapse', date: '2026-11-24', count: 1 }])
    expect(await lapses()).toEqual([])
    const view = (await gateway.inject({ url: `/v1/appointment-requests/${requestId}`, headers: who })).json()
    expect(view).toEqual({ requestId, registrationId, poe: 'nogales', poolDate: '2026-11-24', status: 'lapsed' })
    await passed('liv-1')
    expect((await confirm(who, { livenessId: 'liv-1', location: inside })).json().code).toBe('GW_ERR_APPT_EXPIRED')
    expect((await extend(who)).json().code).toBe('GW_ERR_APPT_EXPIRED')
    expect(await gateway.partnerValidation.validate(number, '1980-01-01')).toBe(false)
    expect(await metric('lapsed')).toBe('1')
  })

  it('never lapses a confirmed place', async () => {
    await passed('liv-1')
    expect((await confirm(who, { livenessId: 'liv-1', location: inside })).statusCode).toBe(200)
    clock.set(Date.parse('2026-11-27T00:00:00Z'))
    expect(await lapses()).toEqual([])
    expect((await gateway.inject({ url: `/v1/appointment-requests/${requestId}`, headers: who })).json().status).toBe('confirmed')
    expect(await metric('confirmed')).toBe('1')
    expect(await metric('lapsed')).toBe('0')
  })

  it('gives the place back when the registration is withdrawn after the draw', async () => {
    expect((await gateway.inject({ method: 'DELETE', url: `/v1/registrations/${registrationId}`, headers: { ...who, 'idempotency-key': randomUUID() } })).statusCode).toBe(200)
    expect((await gateway.inject({ url: `/v1/appointment-requests/${requestId}`, headers: who })).json()).toEqual({ requestId, registrationId, poe: 'nogales', poolDate: '2026-11-24', status: 'withdrawn' })
    expect(await gateway.partnerValidation.validate(number, '1980-01-01')).toBe(false)
    expect((await extend(who)).json().code).toBe('GW_ERR_APPT_NOT_FOUND')
    clock.set(Date.parse('2026-11-27T00:00:00Z'))
    expect(await lapses()).toEqual([])
  })

  it('gives an extended place back when the registration is withdrawn two pool days later', async () => {
    expect((await extend(who)).statusCode).toBe(200)
    // 12:00 EST on 25 November: requests now join the pool of the 26th; the place is from the 24th.
    clock.set(Date.parse('2026-11-25T17:00:00Z'))
    expect((await gateway.inject({ method: 'DELETE', url: `/v1/registrations/${registrationId}`, headers: { ...who, 'idempotency-key': randomUUID() } })).statusCode).toBe(200)
    expect((await gateway.inject({ url: `/v1/appointment-requests/${requestId}`, headers: who })).json().status).toBe('withdrawn')
    expect(await gateway.partnerValidation.validate(number, '1980-01-01')).toBe(false)
  })

  it('lapses an extended place only after its new deadline', async () => {
    expect((await extend(who)).statusCode).toBe(200)
    clock.set(Date.parse('2026-11-25T20:00:00Z'))
    expect(await lapses()).toEqual([])
    clock.set(Date.parse('2026-11-26T14:02:00Z'))
    expect(await lapses()).toEqual([{ action: 'lapse', date: '2026-11-24', count: 1 }])
    expect(await metric('extended')).toBe('1')
  })
})
