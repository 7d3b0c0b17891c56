import { randomUUID } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { FastifyInstance } from 'fastify'
import { ManualClock } from '../../gateway/store/clock.js'
import { buildApp, LogCapture, redisStores, testConfig } from '../helpers/app.js'
import { applicant, token } from '../helpers/tokens.js'

describe('partner validation (real Redis)', () => {
  let gateway: FastifyInstance
  let confirmationNumber: string
  const logs = new LogCapture()
  const clock = new ManualClock(Date.parse('2026-11-23T18:00:00Z'))

  beforeAll(async () => {
    gateway = await buildApp({
      clock,
      logs,
      stores: await redisStores({ clock }),
      config: testConfig({ GATEWAY_LOG_LEVEL: 'info', GATEWAY_RATE_LIMIT_RULES: JSON.stringify([{ name: 'partner', scope: 'subject', ratePerSecond: 1, burst: 5, routes: ['/v1/partner/validations'] }]) })
    })
    const who = applicant(randomUUID(), { sub: 'holder' })
    const { registrationId } = (await gateway.inject({
      method: 'POST',
      url: '/v1/registrations',
      headers: { ...who, 'idempotency-key': randomUUID() },
      payload: { members: [{ firstName: 'Guerline', lastName: 'Augustin', dateOfBirth: '1984-12-24', nationality: 'HTI', usAddress: { line1: '1 A St', city: 'Miami', state: 'FL', zip: '33101' } }], preferredLanguage: 'ht' }
    })).json()
    const { requestId } = (await gateway.inject({ method: 'POST', url: '/v1/appointment-requests', headers: { ...who, 'idempotency-key': randomUUID() }, payload: { registrationId, poe: 'nogales', location: { latitude: 31.3, longitude: -110.9, accuracyMeters: 10 } } })).json()
    clock.set(Date.parse('2026-11-24T16:01:00Z'))
    await gateway.inject({ method: 'POST', url: '/v1/ops/allocations', headers: { authorization: `Bearer ${token({ role: 'ops' })}`, 'idempotency-key': randomUUID() }, payload: { date: '2026-11-24' } })
    confirmationNumber = (await gateway.inject({ url: `/v1/appointment-requests/${requestId}`, headers: who })).json().appointment.confirmationNumber
  })
  afterAll(async () => { await gateway.close() })

  const check = (body: object, sub = 'partner-agency-1', role = 'partner') =>
    gateway.inject({ method: 'POST', url: '/v1/partner/validations', headers: { authorization: `Bearer ${token({ role, sub })}` }, payload: body })

  it('answers yes for the holder, and nothing but yes', async () => {
    const res = await check({ confirmationNumber, dateOfBirth: '1984-12-24' }, 'p-yes')
    expect(res.statusCode).toBe(200)
    expect(res.body).toBe('{"valid":true}')
  })

  it('answers an unknown number and a wrong date of birth with the same bytes', async () => {
    const wrongDate = await check({ confirmationNumber, dateOfBirth: '1984-12-25' }, 'p-no')
    const unknown = await check({ confirmationNumber: 'ZZZZZZZZZZZZZZZZ', dateOfBirth: '1984-12-24' }, 'p-no')
    expect(wrongDate.statusCode).toBe(200)
    expect(unknown.statusCode).toBe(200)
    expect(wrongDate.body).toBe('{"valid":false}')
    expect(unknown.body).toBe(wrongDate.body)
    expect(unknown.headers['content-length']).toBe(wrongDate.headers['content-length'])
  })

  it('is for partners only', async () => {
    expect((await check({ confirmationNumber, dateOfBirth: '1984-12-24' }, 'someone', 'applicant')).statusCode).toBe(403)
  })

  it('holds each partner to its own strict bucket', async () => {
    const statuses: number[] = []
    for (let i = 0; i < 7; i++) statuses.push((await check({ confirmationNumber: `N${i}`, dateOfBirth: '2000-01-01' }, 'p-bulk')).statusCode)
    expect(statuses).toEqual([200, 200, 200, 200, 200, 429, 429])
    expect((await check({ confirmationNumber, dateOfBirth: '1984-12-24' }, 'p-other')).statusCode).toBe(200)
  })

  it('audit-logs every query by partner and outcome, never its inputs', () => {
    const audits = logs.records().filter((r) => r.audit === 'partner-validation')
    expect(audits.length).toBeGreaterThanOrEqual(4)
    expect(audits[0]).toMatchObject({ partner: 'p-yes', valid: true })
    expect(logs.text).not.toContain(confirmationNumber)
    expect(logs.text).not.toContain('1984-12-24')
  })
})
