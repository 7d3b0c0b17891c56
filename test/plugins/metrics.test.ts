import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { FastifyInstance } from 'fastify'
import { GatewayError } from '../../gateway/errors.js'
import { buildApp } from '../helpers/app.js'

describe('/metrics', () => {
  let app: FastifyInstance

  beforeAll(async () => {
    app = await buildApp({
      routes: (f) => {
        f.get('/test/items/:itemId', async () => ({ ok: true }))
        // The 503s the gateway sends: with Retry-After (a store away, draining) and without (the vendor budget spent).
        f.post('/test/refused/:itemId', async (_request, reply) => reply.sendError(new GatewayError('GW_ERR_STORE_UNAVAILABLE', { retryAfterSeconds: 5 })))
        f.post('/test/spent', async (_request, reply) => reply.sendError(new GatewayError('GW_ERR_LIVENESS_BUDGET')))
        f.get('/test/broken', async () => { throw new Error('a bug') })
      }
    })
  })
  afterAll(async () => { await app.close() })

  it('serves Prometheus text with Node defaults and event-loop lag', async () => {
    const res = await app.inject({ method: 'GET', url: '/metrics' })
    expect(res.statusCode).toBe(200)
    expect(res.headers['content-type']).toBe('text/plain; version=0.0.4; charset=utf-8')
    expect(res.body).toMatch(/^# HELP process_cpu_user_seconds_total /m)
    expect(res.body).toMatch(/^nodejs_eventloop_lag_seconds [0-9.e-]+$/m)
    expect(res.body).toMatch(/^nodejs_eventloop_lag_p99_seconds [0-9.e-]+$/m)
    expect(res.body).toMatch(/^nodejs_heap_size_used_bytes [0-9.e+]+$/m)
  })

  it('labels the HTTP histogram by route template, method and status, never by raw path', async () => {
    await app.inject({ method: 'GET', url: '/test/items/Wislande-1987-04-19' })
    await app.inject({ method: 'GET', url: '/test/items/another-id' })
    await app.inject({ method: 'GET', url: '/no/such/path/Oleksandr' })
    const { body } = await app.inject({ method: 'GET', url: '/metrics' })
    expect(body).toContain('http_request_duration_seconds_count{route="/test/items/:itemId",method="GET",status_code="200"} 2')
    expect(body).toContain('http_request_duration_seconds_count{route="unmatched",method="GET",status_code="404"} 1')
    expect(body).toMatch(/^http_request_duration_seconds_bucket\{le="0\.001",route="\/test\/items\/:itemId",method="GET",status_code="200"\} \d+$/m)
    expect(body).not.toContain('Wislande')
    expect(body).not.toContain('Oleksandr')
    expect(body).not.toContain('another-id')
  })

  it('counts the 503s with Retry-After as deliberate refusals, by route template and method, and no other response', async () => {
    for (const id of ['Wislande-1987-04-19', 'x']) {
      const refused = await app.inject({ method: 'POST', url: `/test/refused/${id}` })
      expect(refused.statusCode).toBe(503)
      expect(refused.headers['retry-after']).toBe('5')
    }
    const spent = await app.inject({ method: 'POST', url: '/test/spent' })
    expect(spent.statusCode).toBe(503)
    expect(spent.headers['retry-after']).toBe(undefined)
    expect((await app.inject({ method: 'GET', url: '/test/broken' })).statusCode).toBe(500)
    const { body } = await app.inject({ method: 'GET', url: '/metrics' })
    expect(body.split('\n').filter((l) => l.startsWith('gateway_http_deliberate_refusals_total'))).toEqual([
      'gateway_http_deliberate_refusals_total{route="/test/refused/:itemId",method="POST"} 2'
    ])
    expect(body).toContain('http_request_duration_seconds_count{route="/test/spent",method="POST",status_code="503"} 1')
    expect(body).toContain('http_request_duration_seconds_count{route="/test/broken",method="GET",status_code="500"} 1')
    expect(body).not.toContain('Wislande')
  })
})
