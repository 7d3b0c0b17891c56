import Type from 'typebox'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { FastifyInstance } from 'fastify'
import { ERRORS, GatewayError } from '../../gateway/errors.js'
import { StoreUnavailableError } from '../../gateway/store/errors.js'
import { buildApp } from '../helpers/app.js'

describe('error responses', () => {
  let app: FastifyInstance

  beforeAll(async () => {
    app = await buildApp({
      routes: (f) => {
        f.post('/test/members', {
          schema: {
            body: Type.Object({
              members: Type.Array(Type.Object({ firstName: Type.String({ minLength: 1 }), dateOfBirth: Type.String({ format: 'date' }) }), { minItems: 1 })
            }, { additionalProperties: false })
          }
        }, async () => ({ ok: true }))
        f.get('/test/boom', async () => { throw new Error('internal detail: secret table name') })
        f.get('/test/store-down', async () => { throw new StoreUnavailableError(new Error('ECONNREFUSED')) })
        f.get('/test/busy', async () => { throw new GatewayError('GW_ERR_STORE_UNAVAILABLE', { retryAfterSeconds: 7 }) })
      }
    })
  })
  afterAll(async () => { await app.close() })

  it.each([
    ['en', 'en'],
    ['es-MX,es;q=0.9', 'es'],
    ['ht', 'ht'],
    ['ru', 'ru'],
    ['de', 'en']
  ] as const)('answers an unknown route in %s with a localized 404', async (acceptLanguage, language) => {
    const res = await app.inject({ method: 'GET', url: '/nope', headers: { 'accept-language': acceptLanguage } })
    expect(res.statusCode).toBe(404)
    expect(res.headers['content-language']).toBe(language)
    expect(res.headers.vary).toBe('Accept-Language')
    expect(res.headers['content-type']).toBe('application/json; charset=utf-8')
    expect(res.json()).toEqual({ code: 'GW_ERR_ROUTE_NOT_FOUND', message: ERRORS.GW_ERR_ROUTE_NOT_FOUND.messages[language] })
  })

  it('answers malformed JSON with 400 GW_ERR_REQUEST_MALFORMED_JSON and quotes nothing back', async () => {
    const res = await app.inject({ method: 'POST', url: '/test/members', headers: { 'content-type': 'application/json', 'accept-language': 'ru' }, payload: '{"members": [{"firstName": "Marie-Ange' })
    expect(res.statusCode).toBe(400)
    expect(res.json()).toEqual({ code: 'GW_ERR_REQUEST_MALFORMED_JSON', message: ERRORS.GW_ERR_REQUEST_MALFORMED_JSON.messages.ru })
    expect(res.body).not.toContain('Marie-Ange')
  })

  it('answers an empty JSON body and a prototype-poisoning body as malformed JSON', async () => {
    const empty = await app.inject({ method: 'POST', url: '/test/members', headers: { 'content-type': 'application/json' }, payload: '' })
    expect(empty.statusCode).toBe(400)
    expect(empty.json().code).toBe('GW_ERR_REQUEST_MALFORMED_JSON')
    const poisoned = await app.inject({ method: 'POST', url: '/test/members', headers: { 'content-type': 'application/json' }, payload: '{"__proto__": {"admin": true}, "members": []}' })
    expect(poisoned.statusCode).toBe(400)
    expect(poisoned.json().code).toBe('GW_ERR_REQUEST_MALFORMED_JSON')
  })

  it('answers a schema violation with 400 GW_ERR_REQUEST_INVALID naming the field, not its value', async () => {
    const res = await app.inject({ method: 'POST', url: '/test/members', headers: { 'accept-language': 'es' }, payload: { members: [{ firstName: 'Ana', dateOfBirth: 'yesterday' }] } })
    expect(res.statusCode).toBe(400)
    expect(res.json()).toEqual({
      code: 'GW_ERR_REQUEST_INVALID',
      message: ERRORS.GW_ERR_REQUEST_INVALID.messages.es,
      fields: ['/body/members/0/dateOfBirth']
    })
    const missing = await app.inject({ method: 'POST', url: '/test/members', payload: { members: [{ dateOfBirth: '1990-01-01' }] } })
    expect(missing.json().fields).toEqual(['/body/members/0/firstName'])
  })

  it('answers a body over the limit with 413', async () => {
    const res = await app.inject({ method: 'POST', url: '/test/members', headers: { 'content-type': 'application/json', 'accept-language': 'ht' }, payload: `{"members":"${'x'.repeat(1024 * 1024 + 10)}"}` })
    expect(res.statusCode).toBe(413)
    expect(res.json()).toEqual({ code: 'GW_ERR_REQUEST_BODY_TOO_LARGE', message: ERRORS.GW_ERR_REQUEST_BODY_TOO_LARGE.messages.ht })
  })

  it('answers an unsupported content type with 415', async () => {
    const res = await app.inject({ method: 'POST', url: '/test/members', headers: { 'content-type': 'application/x-msgpack' }, payload: 'abc' })
    expect(res.statusCode).toBe(415)
    expect(res.json().code).toBe('GW_ERR_REQUEST_UNSUPPORTED_MEDIA_TYPE')
  })

  it('answers an unexpected failure with 500 GW_ERR_SERVER_INTERNAL and hides the detail', async () => {
    const res = await app.inject({ method: 'GET', url: '/test/boom' })
    expect(res.statusCode).toBe(500)
    expect(res.json()).toEqual({ code: 'GW_ERR_SERVER_INTERNAL', message: ERRORS.GW_ERR_SERVER_INTERNAL.messages.en })
    expect(res.body).not.toContain('secret table')
  })

  it('answers an unreachable store with 503 and Retry-After from config', async () => {
    const res = await app.inject({ method: 'GET', url: '/test/store-down' })
    expect(res.statusCode).toBe(503)
    expect(res.headers['retry-after']).toBe('5')
    expect(res.json()).toEqual({ code: 'GW_ERR_STORE_UNAVAILABLE', message: ERRORS.GW_ERR_STORE_UNAVAILABLE.messages.en, retryAfterSeconds: 5 })
  })

  it('carries retryAfterSeconds of a thrown GatewayError into the body and the header', async () => {
    const res = await app.inject({ method: 'GET', url: '/test/busy', headers: { 'accept-language': 'ru' } })
    expect(res.statusCode).toBe(503)
    expect(res.headers['retry-after']).toBe('7')
    expect(res.json()).toEqual({ code: 'GW_ERR_STORE_UNAVAILABLE', message: ERRORS.GW_ERR_STORE_UNAVAILABLE.messages.ru, retryAfterSeconds: 7 })
  })

  it('names every response with a random request id', async () => {
    const a = await app.inject({ method: 'GET', url: '/healthz' })
    const b = await app.inject({ method: 'GET', url: '/healthz', headers: { 'x-request-id': 'chosen-by-client' } })
    expect(a.headers['x-request-id']).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/)
    expect(b.headers['x-request-id']).not.toBe('chosen-by-client')
    expect(a.headers['x-request-id']).not.toBe(b.headers['x-request-id'])
  })

  // Found by the fuzzer (test/fuzz/): the router refused these before any hook ran, in Fastify's
  // own shape ({ error, code: FST_ERR_BAD_URL, message quoting the path }).
  it.each([
    ['a parameter that is not UTF-8', '/v1/registrations/%C0%AF', 'ht'],
    ['a lone surrogate\'s bytes', '/v1/liveness/%ED%A0%80', 'es'],
    ['a broken escape in a wildcard', '/docs/static/%ZZ', 'ru']
  ] as const)('answers %s with 400 GW_ERR_REQUEST_MALFORMED, localized, the path not echoed', async (_name, url, language) => {
    const res = await app.inject({ method: 'GET', url, headers: { 'accept-language': language } })
    expect(res.statusCode).toBe(400)
    expect(res.headers['content-type']).toBe('application/json; charset=utf-8')
    expect(res.headers['content-language']).toBe(language)
    expect(res.json()).toEqual({ code: 'GW_ERR_REQUEST_MALFORMED', message: ERRORS.GW_ERR_REQUEST_MALFORMED.messages[language] })
  })

  it('answers a parameter longer than the router allows with 404 GW_ERR_ROUTE_NOT_FOUND, localized', async () => {
    const res = await app.inject({ method: 'GET', url: `/v1/registrations/${'a'.repeat(101)}`, headers: { 'accept-language': 'ht' } })
    expect(res.statusCode).toBe(404)
    expect(res.json()).toEqual({ code: 'GW_ERR_ROUTE_NOT_FOUND', message: ERRORS.GW_ERR_ROUTE_NOT_FOUND.messages.ht })
  })
})
