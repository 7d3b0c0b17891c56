// Delivery from the outbox to a backend, end to end: real gateways on real Redis, the backend
// simulator (loadtests/simulators/backend.ts) counting what arrives at its own clock.
import { randomUUID } from 'node:crypto'
import { afterEach, describe, expect, it } from 'vitest'
import type { FastifyInstance } from 'fastify'
import type { OutboxEvent } from '../../gateway/store/ports.js'
import { startBackend, type BackendSimulator } from '../../loadtests/simulators/backend.js'
import { buildApp, redisStores, testConfig, uniquePrefix } from '../helpers/app.js'
import { token } from '../helpers/tokens.js'

const event = (i: number, type = 'registration.created'): OutboxEvent => ({ id: `evt_${i}_${randomUUID()}`, type, time: Date.now(), payload: JSON.stringify({ n: i }) })

const waitFor = async (what: () => boolean | Promise<boolean>, ms: number) => {
  const until = Date.now() + ms
  while (Date.now() < until) {
    if (await what()) return
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  throw new Error(`not within ${ms} ms`)
}

describe('delivery to the backend services (real Redis)', () => {
  const closing: Array<{ close: () => Promise<unknown> }> = []
  afterEach(async () => { await Promise.all(closing.splice(0).map(async (c) => c.close())) })

  const gatewaysFor = async (backend: BackendSimulator, instances: number, env: Record<string, string> = {}) => {
    const keyPrefix = uniquePrefix()
    const gateways: FastifyInstance[] = []
    for (let i = 0; i < instances; i++) {
      const gateway = await buildApp({ stores: await redisStores({ keyPrefix }), config: testConfig({ GATEWAY_DELIVERY_URL: `${backend.url}/events`, ...env }) })
      closing.unshift(gateway)
      gateways.push(gateway)
    }
    return gateways
  }

  it('5,000 events in a burst, two instances, 200/s: never more than 200 in any second, each exactly once', async () => {
    const backend = await startBackend({ latencyMs: 5 })
    closing.push(backend)
    const [a, b] = await gatewaysFor(backend, 2, { GATEWAY_DELIVERY_RATE_PER_SECOND: '200' }) as [FastifyInstance, FastifyInstance]
    const started = Date.now()
    const ids: string[] = []
    for (let i = 0; i < 5_000; i += 250) {
      await Promise.all(Array.from({ length: 250 }, async (_, k) => {
        const e = event(i + k, k % 2 === 0 ? 'registration.created' : 'appointment.requested')
        ids.push(e.id)
        await a.stores.outbox.append(e, `reg_${i + k}`)
      }))
    }
    expect(Date.now() - started).toBeLessThan(2_000)
    await waitFor(() => backend.stats().accepted >= 5_000, 60_000)
    const stats = backend.stats()
    expect(stats.maxInAnyOneSecond).toBeLessThanOrEqual(200)
    expect(stats.accepted).toBe(5_000)
    expect(stats.duplicates).toBe(0)
    expect([...backend.received().keys()].sort()).toEqual([...ids].sort())
    await waitFor(async () => (await b.delivery.service.overview(1)).depth === 0, 5_000)
    const metrics = (await b.inject({ url: '/metrics' })).body
    expect(metrics).toContain('gateway_outbox_depth 0')
    expect(metrics).toContain('gateway_delivery_configured_rate 200')
  }, 90_000)

  it('holds everything while the backend is down, and delivers it all once it is back', async () => {
    const backend = await startBackend({ latencyMs: 1 })
    closing.push(backend)
    backend.set({ down: true })
    const [gateway] = await gatewaysFor(backend, 1, { GATEWAY_DELIVERY_RETRY_BASE_MS: '50' }) as [FastifyInstance]
    const ids = []
    for (let i = 0; i < 50; i++) {
      const e = event(i)
      ids.push(e.id)
      await gateway.stores.outbox.append(e, `reg_${i}`)
    }
    await waitFor(() => backend.stats().resets >= 20, 10_000)
    expect(backend.stats().accepted).toBe(0)
    const ops = { authorization: `Bearer ${token({ role: 'ops' })}` }
    expect((await gateway.inject({ url: '/v1/ops/outbox', headers: ops })).json()).toMatchObject({ depth: 50, deadLetters: 0, configuredRatePerSecond: 200 })
    backend.set({ down: false })
    await waitFor(() => backend.stats().accepted >= 50, 20_000)
    expect([...backend.received().keys()].sort()).toEqual(ids.sort())
    await waitFor(async () => (await gateway.inject({ url: '/v1/ops/outbox', headers: ops })).json().depth === 0, 5_000)
  }, 40_000)

  it('dead-letters an event after its attempts, shows it to ops, and delivers it once retried', async () => {
    const backend = await startBackend({ latencyMs: 1 })
    closing.push(backend)
    backend.set({ status: 500 })
    const [gateway] = await gatewaysFor(backend, 1, { GATEWAY_DELIVERY_MAX_ATTEMPTS: '3', GATEWAY_DELIVERY_RETRY_BASE_MS: '20' }) as [FastifyInstance]
    const e = event(1, 'appointment.confirmed')
    await gateway.stores.outbox.append(e, 'reg_1')
    const ops = { authorization: `Bearer ${token({ role: 'ops' })}` }
    await waitFor(async () => (await gateway.inject({ url: '/v1/ops/outbox', headers: ops })).json().deadLetters === 1, 10_000)
    expect(backend.stats().received).toBe(3)
    const view = (await gateway.inject({ url: '/v1/ops/outbox', headers: ops })).json()
    expect(view.deadLetterSample).toEqual([{ id: expect.stringMatching(/^\d+:\d+-\d+$/), eventId: e.id, type: 'appointment.confirmed', time: new Date(e.time).toISOString(), reason: 'no delivery after 3 attempts' }])
    expect(JSON.stringify(view)).not.toContain('"n":1')
    backend.set({ status: undefined })
    const retry = (id: string) => gateway.inject({ method: 'POST', url: `/v1/ops/outbox/dead-letters/${id}/retry`, headers: { ...ops, 'idempotency-key': randomUUID() } })
    expect((await retry('0:1-1')).json().code).toBe('GW_ERR_OUTBOX_DEAD_LETTER_NOT_FOUND')
    expect((await retry('x')).statusCode).toBe(400)
    expect((await retry(view.deadLetterSample[0].id)).json()).toEqual({ retried: true })
    await waitFor(() => backend.stats().accepted === 1, 10_000)
    expect([...backend.received().keys()]).toEqual([e.id])
    expect((await gateway.inject({ url: '/metrics' })).body).toContain('gateway_delivery_dead_letters_total{type="appointment.confirmed"} 1')
  }, 30_000)

  it('keeps one delivery of an event however long its retries last: no claim starts a second one', async () => {
    // Retries spanning several claim-idle times (1 s): the entry is held again at each wait, so
    // neither this instance's claims nor the other instance's take it while it is retried.
    const backend = await startBackend({ latencyMs: 1 })
    closing.push(backend)
    backend.set({ status: 503 })
    const env = { GATEWAY_DELIVERY_CLAIM_IDLE_MS: '1000', GATEWAY_DELIVERY_RETRY_BASE_MS: '400', GATEWAY_DELIVERY_MAX_ATTEMPTS: '10' }
    const [a, b] = await gatewaysFor(backend, 2, env) as [FastifyInstance, FastifyInstance]
    const doomed = event(1)
    await a.stores.outbox.append(doomed, 'reg_doomed')
    await waitFor(async () => (await a.delivery.service.overview(10)).deadLetters >= 1, 20_000)
    // Attempts are counted in the store: the tenth refusal ends it, once.
    await new Promise((resolve) => setTimeout(resolve, 1_500))
    expect((await b.delivery.service.overview(10)).deadLetters).toBe(1)
    expect(backend.stats().received).toBe(10)

    const late = event(2)
    await a.stores.outbox.append(late, 'reg_late')
    await new Promise((resolve) => setTimeout(resolve, 2_500))
    backend.set({ status: undefined })
    await waitFor(() => backend.stats().accepted === 1, 10_000)
    await new Promise((resolve) => setTimeout(resolve, 1_500))
    expect(backend.stats()).toMatchObject({ accepted: 1, duplicates: 0 })
    expect([...backend.received().keys()]).toEqual([late.id])
  }, 40_000)

  it('refuses a 4xx answer at once to the dead letters (the backend will not take it)', async () => {
    const backend = await startBackend({ latencyMs: 1 })
    closing.push(backend)
    backend.set({ status: 422 })
    const [gateway] = await gatewaysFor(backend, 1) as [FastifyInstance]
    await gateway.stores.outbox.append(event(7), 'reg_x')
    await waitFor(async () => (await gateway.delivery.service.overview(10)).deadLetters === 1, 10_000)
    expect((await gateway.delivery.service.overview(10)).deadLetterSample[0]?.reason).toBe('HTTP 422')
    expect(backend.stats().received).toBe(1)
  }, 20_000)
})
