// Body limits per route class: a small default for every JSON route, a larger one for the
// registration (a whole group), the photo upload's own; 413 GW_ERR_REQUEST_BODY_TOO_LARGE,
// localized, above each. Both settings are checked at boot.
import { randomUUID } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { FastifyInstance } from 'fastify'
import { defaults } from '../../config/defaults.js'
import { loadConfig } from '../../config/load.js'
import { ERRORS } from '../../gateway/errors.js'
import { buildApp, testConfig } from '../helpers/app.js'
import { applicant, token } from '../helpers/tokens.js'

/** A JSON body of exactly `bytes` bytes: an object with one padding field. */
function bodyOf (bytes: number, fields: Record<string, unknown> = {}): string {
  const head = JSON.stringify({ ...fields, pad: '' })
  return head.slice(0, -2) + 'x'.repeat(bytes - head.length) + '"}'
}

describe('body limits per route', () => {
  let app: FastifyInstance
  const write = (url: string, payload: string, headers: Record<string, string> = {}) => app.inject({ method: 'POST', url, payload, headers: { ...applicant(), 'idempotency-key': randomUUID(), 'content-type': 'application/json', ...headers } })

  beforeAll(async () => { app = await buildApp({ config: testConfig({ GATEWAY_RATE_LIMIT_RULES: '[]' }) }) })
  afterAll(async () => { await app.close() })

  it('has a small default and a larger limit for registrations', () => {
    expect(defaults.server.bodyLimitBytes).toBe(16 * 1024)
    expect(defaults.server.routeBodyLimits).toEqual({ 'POST /v1/registrations': 64 * 1024 })
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

  it('reads a registration of 40 kB (a large group, escaped text) and refuses one over 64 KiB', async () => {
    const large = await write('/v1/registrations', bodyOf(40 * 1024, { preferredLanguage: 'es' }))
    expect(large.statusCode).toBe(400)
    expect(large.json().code).toBe('GW_ERR_REQUEST_INVALID')
    const over = await write('/v1/registrations', bodyOf(64 * 1024 + 1), { 'accept-language': 'es' })
    expect(over.statusCode).toBe(413)
    expect(over.json().message).toBe(ERRORS.GW_ERR_REQUEST_BODY_TOO_LARGE.messages.es)
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
      // Registrations lost their own entry with the override: the default of 2048 holds.
      expect((await app.inject({ method: 'POST', url: '/v1/registrations', headers: { ...applicant(), 'idempotency-key': randomUUID(), 'content-type': 'application/json' }, payload: bodyOf(2049) })).statusCode).toBe(413)
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
