// Found by the route fuzzer (test/fuzz/): DELETE /v1/registrations/:id takes no body, yet a JSON
// body nested 10,000 levels deep was parsed and then overflowed the stack of the idempotency
// fingerprint (JSON.stringify): 500. Every route's JSON parser now refuses such nesting first.
import { randomUUID } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { FastifyInstance } from 'fastify'
import { loadConfig } from '../../config/load.js'
import { ERRORS } from '../../gateway/errors.js'
import { nested } from '../fuzz/arbitraries.js'
import { buildApp, testConfig } from '../helpers/app.js'
import { applicant } from '../helpers/tokens.js'

describe('JSON nesting limit', () => {
  let app: FastifyInstance

  beforeAll(async () => {
    app = await buildApp({
      // A body limit of 1 MiB, so the nesting is what is refused, not the size.
      config: testConfig({ GATEWAY_MAX_JSON_DEPTH: '8', GATEWAY_BODY_LIMIT_BYTES: '1048576' }),
      routes: (f) => { f.post('/test/echo', async (request) => ({ received: request.body })) }
    })
  })
  afterAll(async () => { await app.close() })

  it.each(['array', 'object', 'mixed'] as const)('refuses a body of 10,000 %s levels on a route that takes no body with 400 GW_ERR_REQUEST_MALFORMED_JSON', async (kind) => {
    const res = await app.inject({ method: 'DELETE', url: '/v1/registrations/reg_AAAAAAAAAAAAAAAAAAAAAA', headers: { ...applicant(), 'idempotency-key': randomUUID(), 'content-type': 'application/json', 'accept-language': 'ru' }, payload: nested(10_000, kind) })
    expect(res.statusCode).toBe(400)
    expect(res.json()).toEqual({ code: 'GW_ERR_REQUEST_MALFORMED_JSON', message: ERRORS.GW_ERR_REQUEST_MALFORMED_JSON.messages.ru })
  })

  it('takes a body at the configured depth and refuses one level more', async () => {
    const ok = await app.inject({ method: 'POST', url: '/test/echo', headers: { 'content-type': 'application/json' }, payload: nested(8, 'array') })
    expect(ok.statusCode).toBe(200)
    const deeper = await app.inject({ method: 'POST', url: '/test/echo', headers: { 'content-type': 'application/json' }, payload: nested(9, 'array') })
    expect(deeper.statusCode).toBe(400)
    expect(deeper.json().code).toBe('GW_ERR_REQUEST_MALFORMED_JSON')
  })

  it('still refuses prototype poisoning', async () => {
    const res = await app.inject({ method: 'POST', url: '/test/echo', headers: { 'content-type': 'application/json' }, payload: '{"__proto__":{"polluted":1}}' })
    expect(res.statusCode).toBe(400)
    expect(res.json().code).toBe('GW_ERR_REQUEST_MALFORMED_JSON')
    expect(({} as Record<string, unknown>).polluted).toBeUndefined()
  })

  it('is validated at boot', () => {
    expect(() => loadConfig({ env: { GATEWAY_MAX_JSON_DEPTH: '1' } })).toThrow('server.maxJsonDepth (GATEWAY_MAX_JSON_DEPTH) must be an integer from 2 to 1000, got 1')
  })
})
