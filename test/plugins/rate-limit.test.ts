import { randomUUID } from 'node:crypto'
import { mkdtemp } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { FastifyInstance } from 'fastify'
import { ERRORS } from '../../gateway/errors.js'
import { ManualClock } from '../../gateway/store/clock.js'
import { buildApp, redisStores, suiteRedisName, testConfig } from '../helpers/app.js'
import { startRedis, stopRedis } from '../../loadtests/lib/redis-server.js'
import { applicant } from '../helpers/tokens.js'

const RULES = JSON.stringify([
  { name: 'device', scope: 'device', ratePerSecond: 1, burst: 5 },
  { name: 'ip', scope: 'ip', ratePerSecond: 1000, burst: 1000 }
])

function metric (text: string, line: string): string | undefined {
  return text.split('\n').find((l) => l.startsWith(line))?.slice(line.length).trim()
}

describe(`rate limits on a real ${suiteRedisName() === 'redis' ? 'Redis' : 'Redis Cluster'}`, () => {
  let gateway: FastifyInstance
  const clock = new ManualClock(Date.now())

  beforeAll(async () => {
    gateway = await buildApp({
      config: testConfig({ GATEWAY_RATE_LIMIT_RULES: RULES, GATEWAY_RATE_LIMIT_RETRY_JITTER_SECONDS: '0' }),
      stores: await redisStores({ clock }),
      clock
    })
  })
  afterAll(async () => { await gateway.close() })

  it('admits exactly the burst of 50 concurrent requests from one device', async () => {
    const headers = applicant()
    const answers = await Promise.all(Array.from({ length: 50 }, () => gateway.inject({ url: '/v1/schedule', headers })))
    const statuses = answers.map((a) => a.statusCode)
    expect(statuses.filter((s) => s === 200)).toHaveLength(5)
    expect(statuses.filter((s) => s === 429)).toHaveLength(45)
  })

  it('sends exact RateLimit-Policy and RateLimit headers, and a localized 429 with Retry-After', async () => {
    const headers = { ...applicant(), 'accept-language': 'ht' }
    const first = await gateway.inject({ url: '/v1/schedule', headers })
    expect(first.statusCode).toBe(200)
    expect(first.headers['ratelimit-policy']).toBe('"device";q=5;w=5, "ip";q=1000;w=1')
    expect(first.headers.ratelimit).toBe('"device";r=4;t=1')
    for (let i = 0; i < 4; i++) await gateway.inject({ url: '/v1/schedule', headers })
    const refused = await gateway.inject({ url: '/v1/schedule', headers })
    expect(refused.statusCode).toBe(429)
    expect(refused.headers['retry-after']).toBe('1')
    expect(refused.headers.ratelimit).toBe('"device";r=0;t=5')
    expect(refused.json()).toEqual({ code: 'GW_ERR_RATE_LIMITED', message: ERRORS.GW_ERR_RATE_LIMITED.messages.ht, retryAfterSeconds: 1 })
  })

  it('refills by the injected clock', async () => {
    const headers = applicant()
    for (let i = 0; i < 5; i++) expect((await gateway.inject({ url: '/v1/schedule', headers })).statusCode).toBe(200)
    expect((await gateway.inject({ url: '/v1/schedule', headers })).statusCode).toBe(429)
    clock.advance(999)
    expect((await gateway.inject({ url: '/v1/schedule', headers })).statusCode).toBe(429)
    clock.advance(1)
    const again = await gateway.inject({ url: '/v1/schedule', headers })
    expect(again.statusCode).toBe(200)
    expect(again.headers.ratelimit).toBe('"device";r=0;t=5')
    expect((await gateway.inject({ url: '/v1/schedule', headers })).statusCode).toBe(429)
  })

  it('counts every decision by rule, outcome and source', async () => {
    const text = (await gateway.inject('/metrics')).body
    expect(Number(metric(text, 'gateway_rate_limit_decisions_total{rule="device",outcome="allowed",source="store"}'))).toBeGreaterThanOrEqual(16)
    expect(Number(metric(text, 'gateway_rate_limit_decisions_total{rule="device",outcome="limited",source="cache"}'))).toBeGreaterThan(0)
    expect(metric(text, 'gateway_rate_limit_fallback_active')).toBe('0')
  })
})

describe('rate limits while Redis is away', () => {
  it('keeps fail-open routes answering on in-process buckets, fails closed routes with 503, and recovers', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'gateway-redis-outage-'))
    let redis = await startRedis(dir)
    const stores = await redisStores({ url: `redis://127.0.0.1:${redis.port}`, commandTimeoutMs: 200 })
    const gateway = await buildApp({
      config: testConfig({ GATEWAY_RATE_LIMIT_RULES: RULES, GATEWAY_RATE_LIMIT_FALLBACK_PROBE_MS: '100', GATEWAY_RATE_LIMIT_RETRY_JITTER_SECONDS: '0' }),
      stores,
      routes: (f) => { f.get('/v1/test/closed', { config: { roles: ['applicant'] } }, async () => ({ ok: true })) }
    })
    try {
      const headers = applicant()
      expect((await gateway.inject({ url: '/v1/schedule', headers })).statusCode).toBe(200)
      expect((await gateway.inject({ url: '/v1/test/closed', headers })).statusCode).toBe(200)

      await stopRedis(redis.child)
      // Every answer below arrives while Redis is still down: nothing waits for it to come back.
      const open = await gateway.inject({ url: '/v1/schedule', headers })
      expect(open.statusCode).toBe(200)
      const closed = await gateway.inject({ url: '/v1/test/closed', headers: { ...headers, 'accept-language': 'ru' } })
      expect(closed.statusCode).toBe(503)
      expect(closed.headers['retry-after']).toBe('5')
      expect(closed.json()).toEqual({ code: 'GW_ERR_STORE_UNAVAILABLE', message: ERRORS.GW_ERR_STORE_UNAVAILABLE.messages.ru, retryAfterSeconds: 5 })
      // The in-process buckets still enforce the limits.
      const other = applicant()
      const burst = await Promise.all(Array.from({ length: 8 }, () => gateway.inject({ url: '/v1/schedule', headers: other })))
      expect(burst.map((r) => r.statusCode).sort()).toEqual([200, 200, 200, 200, 200, 429, 429, 429])
      expect(metric((await gateway.inject('/metrics')).body, 'gateway_rate_limit_fallback_active')).toBe('1')

      redis = await startRedis(dir, redis.port)
      let ready = false
      for (let i = 0; i < 100 && !ready; i++) {
        ready = (await gateway.inject('/readyz')).statusCode === 200
        if (!ready) await sleep(50)
      }
      expect(ready).toBe(true)
      await sleep(150)
      expect((await gateway.inject({ url: '/v1/test/closed', headers: applicant() })).statusCode).toBe(200)
      expect(metric((await gateway.inject('/metrics')).body, 'gateway_rate_limit_fallback_active')).toBe('0')
    } finally {
      await gateway.close()
      await stopRedis(redis.child)
    }
  })
})

describe('rate limits on a Redis that refuses writes', () => {
  it('treats out-of-memory refusals as an outage: open routes serve, closed ones 503, /readyz not ready', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'gateway-redis-oom-'))
    const redis = await startRedis(dir, undefined, ['--maxmemory', '1', '--maxmemory-policy', 'noeviction'])
    const gateway = await buildApp({
      config: testConfig({ GATEWAY_RATE_LIMIT_RULES: RULES }),
      stores: await redisStores({ url: `redis://127.0.0.1:${redis.port}` }),
      routes: (f) => { f.get('/v1/test/closed', { config: { roles: ['applicant'] } }, async () => ({ ok: true })) }
    })
    try {
      const headers = applicant()
      expect((await gateway.inject({ url: '/v1/schedule', headers })).statusCode).toBe(200)
      const closed = await gateway.inject({ url: '/v1/test/closed', headers })
      expect(closed.statusCode).toBe(503)
      expect(closed.json().code).toBe('GW_ERR_STORE_UNAVAILABLE')
      expect((await gateway.inject('/readyz')).statusCode).toBe(503)
    } finally {
      await gateway.close()
      await stopRedis(redis.child)
    }
  })
})

describe('Retry-After jitter', () => {
  it('spreads refused clients over the jitter window, and the body says the same as the header', async () => {
    const gateway = await buildApp({ config: testConfig({ GATEWAY_RATE_LIMIT_RULES: RULES, GATEWAY_RATE_LIMIT_RETRY_JITTER_SECONDS: '3' }) })
    try {
      const seen = new Set<string>()
      for (let i = 0; i < 30; i++) {
        const headers = { ...applicant(), 'x-device-id': randomUUID() }
        for (let j = 0; j < 5; j++) await gateway.inject({ url: '/v1/schedule', headers })
        const refused = await gateway.inject({ url: '/v1/schedule', headers })
        const retryAfter = refused.headers['retry-after'] as string
        expect(['1', '2', '3', '4']).toContain(retryAfter)
        expect(refused.json().retryAfterSeconds).toBe(Number(retryAfter))
        seen.add(retryAfter)
      }
      expect(seen.size).toBeGreaterThan(1)
    } finally {
      await gateway.close()
    }
  })
})

describe('subject scope', () => {
  it('holds a client that invents a new device id for every request', async () => {
    const rules = JSON.stringify([{ name: 'subject', scope: 'subject', ratePerSecond: 1, burst: 3 }, { name: 'device', scope: 'device', ratePerSecond: 1, burst: 3 }])
    const gateway = await buildApp({ config: testConfig({ GATEWAY_RATE_LIMIT_RULES: rules }) })
    try {
      const statuses: number[] = []
      for (let i = 0; i < 6; i++) statuses.push((await gateway.inject({ url: '/v1/schedule', headers: applicant(randomUUID(), { sub: 'one-account' }) })).statusCode)
      expect(statuses).toEqual([200, 200, 200, 429, 429, 429])
      // Another account on the same devices is not affected.
      expect((await gateway.inject({ url: '/v1/schedule', headers: applicant(randomUUID(), { sub: 'another-account' }) })).statusCode).toBe(200)
    } finally {
      await gateway.close()
    }
  })
})

describe('client IP for the ip scope', () => {
  const rules = JSON.stringify([{ name: 'ip', scope: 'ip', ratePerSecond: 1, burst: 1 }])

  it('believes X-Forwarded-For only from a configured proxy', async () => {
    const trusting = await buildApp({ config: testConfig({ GATEWAY_RATE_LIMIT_RULES: rules, GATEWAY_TRUSTED_PROXIES: '["127.0.0.1"]' }) })
    const distrusting = await buildApp({ config: testConfig({ GATEWAY_RATE_LIMIT_RULES: rules }) })
    try {
      const from = (ip: string) => ({ ...applicant(), 'x-forwarded-for': ip })
      // Behind the trusted proxy, two clients have a bucket each.
      expect((await trusting.inject({ url: '/v1/schedule', headers: from('203.0.113.7'), remoteAddress: '127.0.0.1' })).statusCode).toBe(200)
      expect((await trusting.inject({ url: '/v1/schedule', headers: from('203.0.113.8'), remoteAddress: '127.0.0.1' })).statusCode).toBe(200)
      expect((await trusting.inject({ url: '/v1/schedule', headers: from('203.0.113.7'), remoteAddress: '127.0.0.1' })).statusCode).toBe(429)
      // Without a trusted proxy a forged header changes nothing: the peer address is the client.
      expect((await distrusting.inject({ url: '/v1/schedule', headers: from('203.0.113.7'), remoteAddress: '198.51.100.1' })).statusCode).toBe(200)
      expect((await distrusting.inject({ url: '/v1/schedule', headers: from('203.0.113.9'), remoteAddress: '198.51.100.1' })).statusCode).toBe(429)
    } finally {
      await trusting.close()
      await distrusting.close()
    }
  })
})
