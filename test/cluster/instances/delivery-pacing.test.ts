// Delivery pacing holds across instances: events made through three gateway processes
// (start:cluster's entry) on one Redis reach the backend simulator at no more than the configured
// delivery rate in any rolling second, all of them, each exactly once.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { defaults } from '../../../config/defaults.js'
import { LATE_MS, pacedRate } from '../../../gateway/vendor/contract-limiter.js'
import { startBackend, type BackendSimulator } from '../../../loadtests/simulators/backend.js'
import { metric, pool, register, startBench, startCluster, stopCluster, waitFor, type Bench, type ClusterProcess, type InstanceInfo } from './fixture.js'

const INSTANCES = 3
// Events a second to the backends, across instances (GATEWAY_DELIVERY_RATE_PER_SECOND).
const RATE = 20
// 30 registrations through each instance: 90 registration.created events, made in about a
// second, delivered over about five.
const EVENTS = 90
// The jitter pacedRate leaves room for: a start reaches the backend up to this much after its slot.
const JITTER_MS = 50

describe('delivery pacing across three instances on one Redis', () => {
  let bench: Bench
  let backend: BackendSimulator
  let cluster: ClusterProcess | undefined
  let instances: InstanceInfo[]
  beforeAll(async () => {
    bench = await startBench()
    backend = await startBackend({ latencyMs: 5, keepBodies: true })
    cluster = startCluster(INSTANCES, {
      ...bench.env,
      GATEWAY_RATE_LIMIT_RULES: '[]',
      GATEWAY_REGISTRATION_MIN_INTERVAL_SECONDS: '0',
      GATEWAY_DELIVERY_URL: `${backend.url}/events`,
      GATEWAY_DELIVERY_RATE_PER_SECOND: String(RATE),
      GATEWAY_REDIS_COMMAND_TIMEOUT_MS: '2000'
    })
    instances = await cluster.listening
  })
  afterAll(async () => {
    await stopCluster(cluster)
    await backend?.close()
    await bench.close()
  })

  it(`${EVENTS} events made on all three instances arrive at most ${RATE} in any second, each exactly once`, async () => {
    const ids: string[] = []
    await pool(Array.from({ length: EVENTS }, (_, i) => i), 15, async (i) => {
      const made = await register((instances[i % INSTANCES] as InstanceInfo).url, bench.applicant(), 500 + i)
      expect(made.status, JSON.stringify(made.body)).toBe(201)
      ids.push(made.body.registrationId as string)
    })
    // Made faster than they may be delivered: a backlog the shared pace has to work through (were
    // the events trickling in below the rate, the rate bound below would say nothing).
    expect(backend.stats().accepted).toBeLessThan(EVENTS)

    await waitFor(() => backend.stats().accepted >= EVENTS, 30_000, () => JSON.stringify(backend.stats()))
    await waitFor(async () => await metric((instances[0] as InstanceInfo).url, 'gateway_outbox_depth') === 0, 10_000)

    const stats = backend.stats()
    // Every event once: one per registration, by its Idempotency-Key (the event id), no repeat.
    expect(stats.accepted).toBe(EVENTS)
    expect(stats.distinctKeys).toBe(EVENTS)
    expect(stats.duplicates).toBe(0)
    expect(stats.byType).toEqual({ 'registration.created': EVENTS })
    const delivered = [...backend.received().values()].map((e) => (e.body?.payload as { registrationId: string }).registrationId)
    expect(delivered.sort()).toEqual([...ids].sort())
    // The rate, from the simulator's own record of arrivals (the busiest window [t, t + 1 s)).
    // One limiter in Redis for all instances paces at pacedRate(20 × 0.95) = 18.1/s (GCRA, a
    // burst of one); a start is never more than LATE_MS after its slot and reaches the backend
    // within JITTER_MS more, so the arrivals in any second started within 1 + (LATE_MS +
    // JITTER_MS) / 1000 s: at most 18.1 × 1.07 + 1 = 20.4, so 20, the configured rate. Three
    // limiters of their own would each pace at 18.1/s: up to 55 in a second.
    const paced = pacedRate(RATE * defaults.delivery.pacing)
    const bound = Math.floor(paced * (1 + (LATE_MS + JITTER_MS) / 1000) + 1)
    expect(bound).toBe(RATE)
    expect(stats.maxInAnyOneSecond).toBeLessThanOrEqual(bound)
    // All three instances delivered (the pace they share is one, their work is spread), and
    // together exactly the events made.
    const perInstance = await Promise.all(instances.map(async ({ url }) => metric(url, 'gateway_delivery_events_total', 'type="registration.created"')))
    for (const n of perInstance) expect(n).toBeGreaterThan(0)
    expect(perInstance.reduce((a, b) => a + b, 0)).toBe(EVENTS)
  })
})
