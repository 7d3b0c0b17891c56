// Body limits per route class: a small default for every JSON route, a larger one for the
// registration (a whole group), the photo upload's own; 413 GW_ERR_REQUEST_BODY_TOO_LARGE,
// localized, above each. Both settings are checked at boot.
import { randomUUID } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { FastifyInstance } from 'fastify'
import { defaults } from '../../config/defaults.js'
import { loadConfig } from '../../config/load.js'
import { ERRORS } from '../../gateway/errors.js'
import { registrationBodyLimit } from '../../gateway/schemas/registration.js'
import { buildApp, testConfig } from '../helpers/app.js'
import { applicant, token } from '../helpers/tokens.js'

/** A JSON body of exactly `bytes` bytes: an object with one padding field. */
function bodyOf (bytes: number, fields: Record<string, unknown> = {}): string {
  const head = JSON.stringify({ ...fields, pad: '' })
  return head.slice(0, -2) + 'x'.repeat(bytes - head.length) + '"}'
}

// Letters outside the BMP (Mathematical Fraktur, CJK Extension B): one code point each, two UTF-16
// units, 12 bytes once escaped.
const FRAKTUR = [...'𝔄𝔅𝔇𝔈𝔉𝔊𝔍𝔎𝔏𝔐𝔑𝔒𝔓𝔔𝔖𝔗𝔘𝔙𝔚𝔛𝔜']
const CJK_B = [...'𠀀𠀁𠀂𠀃𠀄𠀅𠀆𠀇𠀈𠀉𠀊𠀋𠀌𠀍𠀎𠀏']

/** `length` code points outside the BMP, distinct for each seed so no two members are the same person. */
function astral (length: number, seed: number): string {
  return Array.from({ length }, (_, i) => (i === 0 ? CJK_B[seed % CJK_B.length] : FRAKTUR[(i + seed) % FRAKTUR.length])).join('')
}

/** A group of `members`, every free-text field at its maxLength (schemas/registration.ts) in non-BMP letters. */
function largestRegistration (members: number) {
  return {
    members: Array.from({ length: members }, (_, i) => ({
      firstName: astral(100, i),
      lastName: astral(100, i + 1),
      dateOfBirth: `19${String(50 + i).padStart(2, '0')}-12-31`,
      nationality: 'HTI',
      usAddress: { line1: astral(200, i + 2), line2: astral(200, i + 3), city: astral(100, i + 4), state: 'FL', zip: '33101-1234' }
    })),
    preferredLanguage: 'es'
  }
}

/**
 * JSON as Python's json.dumps writes it by default: ", " and ": " between items, every character
 * outside ASCII escaped as \uXXXX (a surrogate pair for one outside the BMP); ASCII escaped too,
 * which JSON allows, so that every field takes its most bytes.
 */
function pythonJson (value: unknown): string {
  if (typeof value === 'string') return `"${Array.from({ length: value.length }, (_, k) => `\\u${value.charCodeAt(k).toString(16).padStart(4, '0')}`).join('')}"`
  if (Array.isArray(value)) return `[${value.map(pythonJson).join(', ')}]`
  if (value !== null && typeof value === 'object') return `{${Object.entries(value).map(([k, v]) => `${JSON.stringify(k)}: ${pythonJson(v)}`).join(', ')}}`
  return JSON.stringify(value)
}

describe('body limits per route', () => {
  let app: FastifyInstance
  const write = (url: string, payload: string, headers: Record<string, string> = {}) => app.inject({ method: 'POST', url, payload, headers: { ...applicant(), 'idempotency-key': randomUUID(), 'content-type': 'application/json', ...headers } })

  beforeAll(async () => { app = await buildApp({ config: testConfig({ GATEWAY_RATE_LIMIT_RULES: '[]' }) }) })
  afterAll(async () => { await app.close() })

  it('has a small default, and a registration limit derived from the schema and maxMembers', () => {
    expect(defaults.server.bodyLimitBytes).toBe(16 * 1024)
    expect(defaults.server.routeBodyLimits).toEqual({})
    expect(registrationBodyLimit(8)).toBe(73_902)
    expect(registrationBodyLimit(50)).toBe(460_302)
  })

  it.each([
    ['an appointment request', '/v1/appointment-requests', 'ht'],
    ['a confirmation', '/v1/appointments/0123456789ABCDEF/confirm', 'ru']
  ] as const)('refuses %s over the default limit with 413, localized, and reads one at the limit', async (_name, url, language) => {
    const over = await write(url, bodyOf(16 * 1024 + 1), { 'accept-language': language })
    expect(over.statusCode).toBe(413)
    expect(over.json()).toEqual({ code: 'GW_ERR_REQUEST_BODY_TOO_LARGE', message: ERRORS.GW_ERR_REQUEST_BODY_TOO_LARGE.messages[language] })
    // At the limit the body is read and judged on its content (an unknown field).
    const at = await write(url, bodyOf(16 * 1024))
    expect(at.statusCode).toBe(400)
    expect(at.json().code).toBe('GW_ERR_REQUEST_INVALID')
  })

  it('refuses a partner check and an ops write over the default limit, whatever the role', async () => {
    const partner = await write('/v1/partner/validations', bodyOf(16 * 1024 + 1), { authorization: `Bearer ${token({ role: 'partner' })}` })
    expect(partner.statusCode).toBe(413)
    const ops = await write('/v1/ops/allocations', bodyOf(16 * 1024 + 1), { authorization: `Bearer ${token({ role: 'ops' })}` })
    expect(ops.statusCode).toBe(413)
  })

  it('reads a registration body at its derived limit and refuses one a byte over', async () => {
    const limit = registrationBodyLimit(8)
    const at = await write('/v1/registrations', bodyOf(limit, { preferredLanguage: 'es' }))
    expect(at.statusCode).toBe(400)
    expect(at.json().code).toBe('GW_ERR_REQUEST_INVALID')
    const over = await write('/v1/registrations', bodyOf(limit + 1), { 'accept-language': 'es' })
    expect(over.statusCode).toBe(413)
    expect(over.json().message).toBe(ERRORS.GW_ERR_REQUEST_BODY_TOO_LARGE.messages.es)
  })

  it('accepts the largest honest registration: 8 members, every field at its longest in non-BMP text, escaped as json.dumps does', async () => {
    const body = pythonJson(largestRegistration(8))
    // 68.5 kB measured with Python for long names alone; every field escaped at its longest is more.
    expect(Buffer.byteLength(body)).toBeGreaterThan(64 * 1024)
    expect(Buffer.byteLength(body)).toBeLessThanOrEqual(registrationBodyLimit(8))
    const res = await write('/v1/registrations', body)
    expect(res.statusCode).toBe(201)
    expect(res.json().members).toEqual(largestRegistration(8).members)
  })

  it('accepts the largest honest registration of 50 members when GATEWAY_REGISTRATION_MAX_MEMBERS is 50', async () => {
    const large = await buildApp({ config: testConfig({ GATEWAY_RATE_LIMIT_RULES: '[]', GATEWAY_REGISTRATION_MAX_MEMBERS: '50' }) })
    try {
      const body = pythonJson(largestRegistration(50))
      expect(Buffer.byteLength(body)).toBeGreaterThan(218_000)
      const res = await large.inject({ method: 'POST', url: '/v1/registrations', payload: body, headers: { ...applicant(), 'idempotency-key': randomUUID(), 'content-type': 'application/json' } })
      expect(res.statusCode).toBe(201)
      expect(res.json().members).toHaveLength(50)
    } finally {
      await large.close()
    }
  })

  it('reads a photo upload of 1 MB (its own limit, from the photo size) where a JSON route stops at 16 KiB', async () => {
    const res = await write('/v1/liveness', JSON.stringify({ registrationId: 'reg_AAAAAAAAAAAAAAAAAAAAAA', memberIndex: 0, photo: Buffer.alloc(768 * 1024).toString('base64') }))
    expect(res.statusCode).toBe(404)
    expect(res.json().code).toBe('GW_ERR_REG_NOT_FOUND')
  })

  it('refuses by Content-Length before reading the body', async () => {
    const res = await app.inject({ method: 'POST', url: '/v1/appointment-requests', payload: '{}', headers: { ...applicant(), 'idempotency-key': randomUUID(), 'content-type': 'application/json', 'content-length': String(10 * 1024 * 1024) } })
    expect(res.statusCode).toBe(413)
    expect(res.json().code).toBe('GW_ERR_REQUEST_BODY_TOO_LARGE')
  })
})

describe('body limit settings', () => {
  it('applies a route named in GATEWAY_ROUTE_BODY_LIMITS, and a smaller default', async () => {
    const app = await buildApp({ config: testConfig({ GATEWAY_BODY_LIMIT_BYTES: '2048', GATEWAY_ROUTE_BODY_LIMITS: JSON.stringify({ 'POST /v1/partner/validations': 1024 }) }) })
    try {
      const headers = { authorization: `Bearer ${token({ role: 'partner' })}`, 'content-type': 'application/json' }
      expect((await app.inject({ method: 'POST', url: '/v1/partner/validations', headers, payload: bodyOf(1025) })).statusCode).toBe(413)
      expect((await app.inject({ method: 'POST', url: '/v1/partner/validations', headers, payload: bodyOf(1024) })).statusCode).toBe(400)
      // Registrations keep the limit derived from their schema: naming another route (or lowering
      // the default) does not drop them to 2048, as a default entry replaced by the override once did.
      const register = async (payload: string) => (await app.inject({ method: 'POST', url: '/v1/registrations', headers: { ...applicant(), 'idempotency-key': randomUUID(), 'content-type': 'application/json' }, payload })).statusCode
      expect(await register(bodyOf(registrationBodyLimit(8)))).toBe(400)
      expect(await register(bodyOf(registrationBodyLimit(8) + 1))).toBe(413)
    } finally {
      await app.close()
    }
  })

  it('stops the boot on a name that matches no route', async () => {
    await expect(buildApp({ config: testConfig({ GATEWAY_ROUTE_BODY_LIMITS: JSON.stringify({ 'POST /v1/registration': 65536 }) }) }))
      .rejects.toThrow('server.routeBodyLimits (GATEWAY_ROUTE_BODY_LIMITS) must name routes of the gateway, got "POST /v1/registration"')
  })

  it.each([
    ['a GET route', { 'GET /v1/schedule': 4096 }],
    ['no method', { '/v1/registrations': 4096 }]
  ])('refuses %s in GATEWAY_ROUTE_BODY_LIMITS', (_name, value) => {
    expect(() => loadConfig({ env: { GATEWAY_ROUTE_BODY_LIMITS: JSON.stringify(value) } })).toThrow(`server.routeBodyLimits (GATEWAY_ROUTE_BODY_LIMITS) must name each route as "METHOD /route/template" with a method that takes a body (POST, PUT, PATCH, DELETE), got ${JSON.stringify(Object.keys(value)[0])}`)
  })

  it.each([
    ['a limit under 1 kB', { 'POST /v1/registrations': 10 }],
    ['a limit over 64 MiB', { 'POST /v1/registrations': 128 * 1024 * 1024 }]
  ])('refuses %s in GATEWAY_ROUTE_BODY_LIMITS', (_name, value) => {
    expect(() => loadConfig({ env: { GATEWAY_ROUTE_BODY_LIMITS: JSON.stringify(value) } })).toThrow('(GATEWAY_ROUTE_BODY_LIMITS) must be a JSON object of "METHOD /route/template" to a byte count from 1024 to 67108864, each naming a route')
  })
})
