import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { FastifyInstance } from 'fastify'
import { censor, REDACTED } from '../../gateway/logger.js'
import { buildApp, LogCapture, testConfig } from '../helpers/app.js'
import { personalValues, registration } from '../fixtures/registration.js'

const BEARER = 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhcHBsaWNhbnQtNzcifQ.c2lnbmF0dXJlLXNlY3JldA'
const URL_SECRET = 'tok_9f8e7d6c5b4a'

describe('logs carry no personal data', () => {
  let app: FastifyInstance
  const logs = new LogCapture()

  beforeAll(async () => {
    app = await buildApp({
      config: testConfig({ GATEWAY_LOG_LEVEL: 'trace' }),
      logs,
      routes: (f) => {
        // A careless handler that logs everything it was given: redaction must still hold.
        f.post('/test/registrations/:registrationId', async (request) => {
          request.log.info({ body: request.body, params: request.params, query: request.query, headers: request.headers }, 'received')
          request.log.info(request.body as object, 'received flat')
          return { ok: true }
        })
        f.post('/test/fail', async () => {
          // Like an ioredis ReplyError: extra properties that carry keys naming a device and an IP.
          throw Object.assign(new Error('boom'), { command: { name: 'evalsha', args: ['{rl.device.device-7}', '{rl.ip.203.0.113.77}'] } })
        })
      }
    })
  })
  afterAll(async () => { await app.close() })

  it('keeps names, dates of birth, addresses, photos, locations, tokens and raw paths out of every line', async () => {
    const headers = { authorization: `Bearer ${BEARER}`, 'x-device-id': 'device-7', cookie: `session=${URL_SECRET}` }
    const ok = await app.inject({ method: 'POST', url: `/test/registrations/r-1?token=${URL_SECRET}`, headers, payload: registration })
    expect(ok.statusCode).toBe(200)

    // The same body, broken: parse errors quote the text they choke on.
    const broken = JSON.stringify(registration).slice(0, 180)
    const bad = await app.inject({ method: 'POST', url: '/test/registrations/r-2', headers: { ...headers, 'content-type': 'application/json' }, payload: broken })
    expect(bad.statusCode).toBe(400)

    const failed = await app.inject({ method: 'POST', url: `/test/fail?dob=1987-04-19&name=Wislande&token=${URL_SECRET}`, headers, payload: registration })
    expect(failed.statusCode).toBe(500)

    const missing = await app.inject({ method: 'GET', url: `/v1/no-such-area/Wislande-1987-04-19?token=${URL_SECRET}`, headers })
    expect(missing.statusCode).toBe(404)

    const text = logs.text
    for (const value of [...personalValues, BEARER, URL_SECRET, 'device-7', '203.0.113.77']) {
      expect(text, `log output contains ${value}`).not.toContain(value)
    }

    // What is logged instead: the route template, status, and the redaction marker.
    const records = logs.records()
    expect(records).toContainEqual(expect.objectContaining({ msg: 'request completed', route: '/test/registrations/:registrationId', statusCode: 200, method: 'POST' }))
    expect(records).toContainEqual(expect.objectContaining({ msg: 'request completed', route: 'unmatched', statusCode: 404 }))
    const received = records.find((r) => r.msg === 'received') as { body: { members: Array<Record<string, unknown>> }, headers: Record<string, unknown> }
    expect(received.body.members[0]).toEqual({ firstName: REDACTED, lastName: REDACTED, dateOfBirth: REDACTED, nationality: REDACTED, usAddress: REDACTED })
    expect(received.headers.authorization).toBe(REDACTED)
    expect(received.headers['x-device-id']).toBe(REDACTED)
  })
})

describe('censor', () => {
  it('replaces personal fields at any depth, whatever their case or separators', () => {
    expect(censor({ a: { b: [{ First_Name: 'x', 'date-of-birth': 'y', keep: 1 }] }, Latitude: 3 })).toEqual({
      a: { b: [{ First_Name: REDACTED, 'date-of-birth': REDACTED, keep: 1 }] }, Latitude: REDACTED
    })
    // Fastify's parsed query string has a prototype of its own; it is walked all the same.
    const query = Object.create(Object.create(null)) as Record<string, string>
    query.token = 'abc'
    expect(censor({ query })).toEqual({ query: { token: REDACTED } })
  })

  it('leaves the caller\'s object untouched, errors to their serializer, and survives cycles', () => {
    const input = { firstName: 'x' }
    const error = new Error('e')
    censor({ input, error })
    expect(input.firstName).toBe('x')
    expect(censor(error)).toBe(error)
    const loop: Record<string, unknown> = { a: 1 }
    loop.self = loop
    expect(censor(loop)).toEqual({ a: 1, self: '[elided]' })
  })
})

describe('access log switch', () => {
  it('writes no per-request line when GATEWAY_ACCESS_LOG is false', async () => {
    const logs = new LogCapture()
    const app = await buildApp({ config: testConfig({ GATEWAY_LOG_LEVEL: 'info', GATEWAY_ACCESS_LOG: 'false' }), logs })
    try {
      expect((await app.inject('/healthz')).statusCode).toBe(200)
      expect((await app.inject('/nope')).statusCode).toBe(404)
      expect(logs.records().filter((r) => r.msg === 'request completed')).toEqual([])
    } finally {
      await app.close()
    }
  })
})
