// Limits hold across instances: three gateway processes (start:cluster's entry, --instances 3) on
// one Redis admit what one would, the configured global numbers, not three times them.
import { randomUUID } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { call, pool, register, startBench, startCluster, stopCluster, type Answer, type Bench, type ClusterProcess, type InstanceInfo } from './fixture.js'

const INSTANCES = 3
// One token bucket for the whole edge on GET /v1/schedule: a burst of 30, refilled at 2 a second.
const BURST = 30
const RATE = 2
// Four bursts' worth: three instances each keeping a bucket of their own would admit 3 × 30 = 90.
const REQUESTS = 4 * BURST
// The registration limit per device (GATEWAY_REGISTRATION_PER_DEVICE_MAX), and three times as many tries.
const PER_DEVICE = 3

describe('limits across three instances on one Redis', () => {
  let bench: Bench
  let cluster: ClusterProcess | undefined
  let instances: InstanceInfo[]
  beforeAll(async () => {
    bench = await startBench()
    cluster = startCluster(INSTANCES, {
      ...bench.env,
      GATEWAY_RATE_LIMIT_RULES: JSON.stringify([{ name: 'schedule', scope: 'route', ratePerSecond: RATE, burst: BURST, routes: ['/v1/schedule'] }]),
      // Closed: were Redis slow to answer, an instance would say 503 rather than fall back on a
      // bucket of its own (the default for /v1/schedule is open), so a local decision cannot
      // pass for a shared one: the test counts only 200 and 429 below.
      GATEWAY_RATE_LIMIT_ROUTE_FAILURE_POLICIES: '{}',
      GATEWAY_RATE_LIMIT_FAILURE_POLICY: 'closed',
      GATEWAY_REDIS_COMMAND_TIMEOUT_MS: '2000',
      GATEWAY_REGISTRATION_PER_DEVICE_MAX: String(PER_DEVICE),
      // Only the count per device is under test, not the seconds between two registrations.
      GATEWAY_REGISTRATION_MIN_INTERVAL_SECONDS: '0'
    })
    instances = await cluster.listening
  })
  afterAll(async () => {
    await stopCluster(cluster)
    await bench.close()
  })

  it('a token bucket with a burst of 30 admits 30 plus its refill over the run, not 3 × 30, to requests spread round-robin', async () => {
    // Every request from an account and device of its own: only the route's bucket applies.
    const who = Array.from({ length: REQUESTS }, () => bench.applicant())
    const answers: Array<{ instance: number, answer: Answer }> = []
    const from = Date.now()
    await pool(who, 12, async (headers, i) => {
      const instance = i % INSTANCES
      answers.push({ instance, answer: await call(`${(instances[instance] as InstanceInfo).url}/v1/schedule`, { headers }) })
    })
    const to = Date.now()

    const statuses = answers.map((a) => a.answer.status)
    expect(statuses.filter((s) => s !== 200 && s !== 429)).toEqual([])
    for (const a of answers) if (a.answer.status === 429) expect(a.answer.body.code).toBe('GW_ERR_RATE_LIMITED')
    const admitted = statuses.filter((s) => s === 200).length
    // GCRA on one shared bucket: a full bucket admits BURST at once, then RATE a second. Every
    // decision was taken between `from` and `to` (the instances read this machine's clock), so at
    // most BURST + floor(RATE × (to − from)) were admitted, and at least BURST (the bucket starts
    // full, and more than BURST asked). The run takes about a second or two, so the bound is near
    // 30 to 34, against 90 for three separate buckets.
    const refill = Math.floor(RATE * (to - from) / 1000)
    expect(admitted).toBeGreaterThanOrEqual(BURST)
    expect(admitted).toBeLessThanOrEqual(BURST + refill)
    expect(admitted).toBeLessThan(INSTANCES * BURST)
    // Each instance took its third of the requests and admitted some of them: the bucket they
    // drew from was one.
    for (let i = 0; i < INSTANCES; i++) {
      const mine = answers.filter((a) => a.instance === i)
      expect(mine).toHaveLength(REQUESTS / INSTANCES)
      expect(mine.filter((a) => a.answer.status === 200).length).toBeGreaterThan(0)
    }
  })

  it('a device gets its 3 registrations in all, whichever instances its 9 concurrent tries reach', async () => {
    const device = randomUUID()
    // Nine accounts on one phone, three through each instance, all at once.
    const answers = await Promise.all(Array.from({ length: PER_DEVICE * INSTANCES }, async (_, i) =>
      register((instances[i % INSTANCES] as InstanceInfo).url, bench.applicant({ device }), 100 + i)))
    const created = answers.filter((a) => a.status === 201)
    const refused = answers.filter((a) => a.status === 429)
    expect(created).toHaveLength(PER_DEVICE)
    expect(refused).toHaveLength(PER_DEVICE * (INSTANCES - 1))
    for (const r of refused) expect(r.body.code).toBe('GW_ERR_REG_DEVICE_LIMIT')
    // And later tries, through each instance in turn, are refused too.
    for (const { url } of instances) {
      const again = await register(url, bench.applicant({ device }), 200 + instances.findIndex((i) => i.url === url))
      expect(again.status).toBe(429)
      expect(again.body.code).toBe('GW_ERR_REG_DEVICE_LIMIT')
    }
  })
})
