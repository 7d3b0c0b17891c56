// Bad input never breaks anything: every write route gets 1,000+ random bodies (mutations of a
// valid one and arbitrary JSON) and must answer each with a 2xx or a 4xx in the catalogue shape.
import { randomUUID } from 'node:crypto'
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { FastifyInstance } from 'fastify'
import { ERRORS } from '../../gateway/errors.js'
import { ManualClock } from '../../gateway/store/clock.js'
import { buildApp, testConfig } from '../helpers/app.js'
import { applicant, token } from '../helpers/tokens.js'

const validMember = { firstName: 'Ana', lastName: 'Joseph', dateOfBirth: '1990-01-02', nationality: 'HTI', usAddress: { line1: '12 Elm St', city: 'Miami', state: 'FL', zip: '33101' } }

// Arbitrary JSON, plus values that break naive code: huge strings, control characters, prototype keys.
const nasty = fc.oneof(
  fc.jsonValue(),
  fc.string({ unit: 'grapheme', maxLength: 300 }),
  fc.constantFrom('', '\u0000', '__proto__', 'constructor', '9'.repeat(400), -1, 1e308, Number.MAX_SAFE_INTEGER + 2, null, [], {})
)

function mutate<T extends Record<string, unknown>> (valid: T) {
  const keys = Object.keys(valid)
  return fc.oneof(
    nasty,
    fc.record({ key: fc.constantFrom(...keys, 'extra', '__proto__'), value: nasty }).map(({ key, value }) => ({ ...valid, [key]: value })),
    fc.constantFrom(...keys).map((key) => Object.fromEntries(Object.entries(valid).filter(([k]) => k !== key)))
  )
}

describe('write routes under random bodies', () => {
  let gateway: FastifyInstance
  let registrationId: string
  const owner = { device: randomUUID(), sub: 'fuzz-owner' }

  beforeAll(async () => {
    gateway = await buildApp({
      clock: new ManualClock(Date.parse('2026-11-23T18:00:00Z')),
      config: testConfig({ GATEWAY_RATE_LIMIT_RULES: '[]', GATEWAY_REGISTRATION_PER_DEVICE_MAX: '1000', GATEWAY_REGISTRATION_PER_SUBJECT_MAX: '1000', GATEWAY_REGISTRATION_MIN_INTERVAL_SECONDS: '0', GATEWAY_REGISTRATION_IDENTITY_CONFLICTS_MAX: '1000' })
    })
    const created = await gateway.inject({ method: 'POST', url: '/v1/registrations', headers: { ...applicant(owner.device, { sub: owner.sub }), 'idempotency-key': randomUUID() }, payload: { members: [validMember], preferredLanguage: 'ht' } })
    registrationId = created.json().registrationId
  })
  afterAll(async () => { await gateway.close() })

  function expectCatalogued (res: { statusCode: number, json: () => Record<string, unknown>, body: string }) {
    expect(res.statusCode, res.body).toBeLessThan(500)
    if (res.statusCode >= 400) expect(Object.keys(ERRORS), res.body).toContain(res.json().code)
  }

  const routes = [
    { name: 'POST /v1/registrations', url: '/v1/registrations', role: 'applicant', valid: () => ({ members: [validMember], preferredLanguage: 'ht' }), member: true },
    { name: 'POST /v1/appointment-requests', url: '/v1/appointment-requests', role: 'applicant', valid: () => ({ registrationId, poe: 'laredo', location: { latitude: 27.5, longitude: -99.5, accuracyMeters: 10 } }), member: false },
    { name: 'POST /v1/ops/identities/release', url: '/v1/ops/identities/release', role: 'officer', valid: () => ({ firstName: 'Ana', lastName: 'Joseph', dateOfBirth: '1990-01-02' }), member: false },
    { name: 'POST /v1/ops/allocations', url: '/v1/ops/allocations', role: 'ops', valid: () => ({ date: '2026-11-23', beacon: 'b-1' }), member: false },
    { name: 'PUT /v1/ops/allocations/:date/beacon', method: 'PUT' as const, url: '/v1/ops/allocations/2026-11-24/beacon', role: 'ops', valid: () => ({ beacon: 'b-1' }), member: false },
    { name: 'POST /v1/appointments/:number/confirm', url: '/v1/appointments/0123456789ABCDEF/confirm', role: 'applicant', valid: () => ({ livenessId: 'liv_1', location: { latitude: 27.5, longitude: -99.5, accuracyMeters: 10 } }), member: false },
    { name: 'POST /v1/partner/validations', url: '/v1/partner/validations', role: 'partner', valid: () => ({ confirmationNumber: '0123456789ABCDEF', dateOfBirth: '1990-01-02' }), member: false }
  ]

  for (const route of routes) {
    it(`${route.name}: 1,000 random bodies, never a 5xx`, async () => {
      const headers = () => ({ ...(route.role === 'applicant' ? applicant(owner.device, { sub: owner.sub }) : { authorization: `Bearer ${token({ role: route.role })}` }), 'idempotency-key': randomUUID() })
      const bodies = fc.oneof(
        mutate(route.valid()),
        route.member
          ? mutate(validMember).map((m) => ({ members: [m], preferredLanguage: 'es' }))
          : mutate(route.valid())
      )
      await fc.assert(fc.asyncProperty(bodies, async (body) => {
        const res = await gateway.inject({ method: route.method ?? 'POST', url: route.url, headers: { ...headers(), 'content-type': 'application/json' }, payload: JSON.stringify(body) })
        expectCatalogued(res)
      }), { numRuns: 1000 })
    }, 60_000)
  }

  it('DELETE /v1/registrations/:id: 1,000 random ids, never a 5xx', async () => {
    await fc.assert(fc.asyncProperty(fc.string({ maxLength: 80 }), async (id) => {
      const res = await gateway.inject({ method: 'DELETE', url: `/v1/registrations/${encodeURIComponent(id)}`, headers: { ...applicant(owner.device, { sub: owner.sub }), 'idempotency-key': randomUUID() } })
      expectCatalogued(res)
    }), { numRuns: 1000 })
  }, 60_000)

  it.each([
    ['an unknown field', { members: [validMember], preferredLanguage: 'ht', admin: true }, '/body/admin'],
    ['no members', { members: [], preferredLanguage: 'ht' }, '/body/members'],
    ['nine members', { members: Array(9).fill(validMember), preferredLanguage: 'ht' }, '/body/members'],
    ['a name of 101 characters', { members: [{ ...validMember, firstName: 'a'.repeat(101) }], preferredLanguage: 'ht' }, '/body/members/0/firstName'],
    ['a control character in a name', { members: [{ ...validMember, lastName: 'Jo\u0007seph' }], preferredLanguage: 'ht' }, '/body/members/0/lastName'],
    ['a date of birth in the future', { members: [{ ...validMember, dateOfBirth: '2030-01-01' }], preferredLanguage: 'ht' }, '/body/members/0/dateOfBirth'],
    ['an impossible date', { members: [{ ...validMember, dateOfBirth: '1990-02-30' }], preferredLanguage: 'ht' }, '/body/members/0/dateOfBirth'],
    ['a two-letter nationality', { members: [{ ...validMember, nationality: 'HT' }], preferredLanguage: 'ht' }, '/body/members/0/nationality'],
    ['a bad ZIP', { members: [{ ...validMember, usAddress: { ...validMember.usAddress, zip: '3310' } }], preferredLanguage: 'ht' }, '/body/members/0/usAddress/zip'],
    ['an unknown address field', { members: [{ ...validMember, usAddress: { ...validMember.usAddress, country: 'US' } }], preferredLanguage: 'ht' }, '/body/members/0/usAddress/country']
  ])('refuses %s with 400 naming the field', async (_name, body, field) => {
    const res = await gateway.inject({ method: 'POST', url: '/v1/registrations', headers: { ...applicant(owner.device, { sub: owner.sub }), 'idempotency-key': randomUUID() }, payload: body })
    expect(res.statusCode).toBe(400)
    expect(res.json()).toMatchObject({ code: 'GW_ERR_REQUEST_INVALID', fields: [field] })
  })
})
