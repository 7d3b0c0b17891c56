// CORS: closed by default (no Access-Control-* header anywhere, a preflight finds nothing), and
// with GATEWAY_CORS_ORIGINS only the listed origins are let in, preflight included.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { FastifyInstance } from 'fastify'
import { loadConfig } from '../../config/load.js'
import { ERRORS } from '../../gateway/errors.js'
import { buildApp, testConfig } from '../helpers/app.js'
import { applicant } from '../helpers/tokens.js'

const APP = 'https://app.example.gov'
const preflight = (origin: string, method = 'POST', headers = 'authorization, content-type, idempotency-key, x-device-id') => ({
  method: 'OPTIONS' as const,
  url: '/v1/registrations',
  headers: { origin, 'access-control-request-method': method, 'access-control-request-headers': headers }
})

function corsHeaders (headers: Record<string, unknown>): string[] {
  return Object.keys(headers).filter((h) => h.startsWith('access-control-'))
}

describe('CORS closed (the default)', () => {
  let app: FastifyInstance
  beforeAll(async () => { app = await buildApp() })
  afterAll(async () => { await app.close() })

  it('sends no Access-Control-* header to any origin, on answers and refusals', async () => {
    for (const request of [
      { url: '/healthz', headers: { origin: APP } },
      { url: '/v1/schedule', headers: { ...applicant(), origin: APP } },
      { url: '/v1/schedule', headers: { origin: 'https://evil.example' } }
    ]) {
      const res = await app.inject(request)
      expect(corsHeaders(res.headers), request.url).toEqual([])
    }
  })

  it('answers a preflight with 404 and no Access-Control-* header', async () => {
    const res = await app.inject(preflight(APP))
    expect(res.statusCode).toBe(404)
    expect(res.json().code).toBe('GW_ERR_ROUTE_NOT_FOUND')
    expect(corsHeaders(res.headers)).toEqual([])
  })
})

describe('CORS open to a list of origins', () => {
  let app: FastifyInstance
  beforeAll(async () => { app = await buildApp({ config: testConfig({ GATEWAY_CORS_ORIGINS: JSON.stringify([APP, 'http://localhost:5173']), GATEWAY_CORS_MAX_AGE_SECONDS: '300' }) }) })
  afterAll(async () => { await app.close() })

  it('answers a listed origin\'s preflight with 204, the methods, headers and max age, no credentials', async () => {
    const res = await app.inject(preflight(APP))
    expect(res.statusCode).toBe(204)
    expect(res.headers['access-control-allow-origin']).toBe(APP)
    expect(res.headers['access-control-allow-methods']).toBe('GET, HEAD, POST, PUT, DELETE')
    expect(res.headers['access-control-allow-headers']).toBe('authorization, content-type, accept-language, idempotency-key, x-device-id, x-admission-token')
    expect(res.headers['access-control-max-age']).toBe('300')
    expect(res.headers['access-control-allow-credentials']).toBeUndefined()
    expect(res.headers.vary).toContain('Origin')
  })

  it('gives an unlisted origin\'s preflight no Access-Control-Allow-Origin', async () => {
    const res = await app.inject(preflight('https://evil.example'))
    expect(res.headers['access-control-allow-origin']).toBeUndefined()
    // Same scheme and host but another port, or a suffix trick: not the same origin.
    for (const origin of ['https://app.example.gov:8443', 'https://app.example.gov.evil.example', 'http://app.example.gov', 'null']) {
      expect((await app.inject(preflight(origin))).headers['access-control-allow-origin'], origin).toBeUndefined()
    }
  })

  it('lets a listed origin read answers and refusals alike, with the headers it needs exposed', async () => {
    const ok = await app.inject({ url: '/v1/schedule', headers: { ...applicant(), origin: APP } })
    expect(ok.statusCode).toBe(200)
    expect(ok.headers['access-control-allow-origin']).toBe(APP)
    expect(ok.headers['access-control-expose-headers']).toBe('retry-after, ratelimit, ratelimit-policy, x-request-id, content-language, idempotent-replayed, x-admission-token, x-waiting-room')
    const refused = await app.inject({ url: '/v1/schedule', headers: { origin: 'http://localhost:5173', 'accept-language': 'es' } })
    expect(refused.statusCode).toBe(401)
    expect(refused.json().message).toBe(ERRORS.GW_ERR_AUTH_TOKEN_MISSING.messages.es)
    expect(refused.headers['access-control-allow-origin']).toBe('http://localhost:5173')
  })

  // A cache keyed on Vary must keep one origin's refusal from another: the error handler adds
  // Accept-Language to the Origin @fastify/cors set, it does not replace it.
  it('keeps Vary: Origin on refusals (404, 401, 400) beside Accept-Language', async () => {
    const ok = await app.inject({ url: '/v1/schedule', headers: { ...applicant(), origin: APP } })
    expect(ok.statusCode).toBe(200)
    expect(ok.headers.vary).toBe('Origin')
    for (const [request, status] of [
      [{ url: '/v1/no-such-route', headers: { origin: APP } }, 404],
      [{ url: '/v1/schedule', headers: { origin: APP } }, 401],
      [{ method: 'POST' as const, url: '/v1/registrations', headers: { ...applicant(), origin: APP, 'content-type': 'application/json' }, payload: '{' }, 400]
    ] as const) {
      const res = await app.inject(request)
      expect(res.statusCode, request.url).toBe(status)
      expect(res.headers['access-control-allow-origin'], request.url).toBe(APP)
      expect(res.headers.vary, request.url).toBe('Origin, Accept-Language')
    }
  })

  it.each([
    ['no Origin', { 'access-control-request-method': 'POST' }],
    ['no Access-Control-Request-Method', { origin: APP }],
    ['neither', {}]
  ])('answers an OPTIONS request with %s (not a preflight) with 400 GW_ERR_REQUEST_MALFORMED, localized', async (_name, headers) => {
    const res = await app.inject({ method: 'OPTIONS', url: '/v1/registrations', headers: { ...headers, 'accept-language': 'ht' } })
    expect(res.statusCode).toBe(400)
    expect(res.json()).toEqual({ code: 'GW_ERR_REQUEST_MALFORMED', message: ERRORS.GW_ERR_REQUEST_MALFORMED.messages.ht })
  })

  it('gives an unlisted origin\'s request its answer without Access-Control-Allow-Origin (the browser withholds it)', async () => {
    const res = await app.inject({ url: '/v1/schedule', headers: { ...applicant(), origin: 'https://evil.example' } })
    expect(res.statusCode).toBe(200)
    expect(res.headers['access-control-allow-origin']).toBeUndefined()
  })
})

describe('CORS settings at boot', () => {
  it.each([
    ['a wildcard', '*'],
    ['a path', 'https://app.example.gov/'],
    ['no scheme', 'app.example.gov'],
    ['another scheme', 'ftp://app.example.gov']
  ])('refuses %s in GATEWAY_CORS_ORIGINS', (_name, origin) => {
    expect(() => loadConfig({ env: { GATEWAY_CORS_ORIGINS: JSON.stringify(['https://ok.example.gov', origin]) } })).toThrow(`cors.origins[1] (GATEWAY_CORS_ORIGINS) must be a JSON array of origins such as "https://app.example.gov" (scheme and host, no path, no wildcard), got ${JSON.stringify(origin)}`)
  })
})
