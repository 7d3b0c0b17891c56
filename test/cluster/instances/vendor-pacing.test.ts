// The liveness vendor's contract holds across instances: photos uploaded through three gateway
// processes (start:cluster's entry) on one Redis reach the vendor simulator at no more than the
// contract rate in any rolling second, and never more scans than the contract's total.
import { randomUUID } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { defaults } from '../../../config/defaults.js'
import { LATE_MS, pacedRate } from '../../../gateway/vendor/contract-limiter.js'
import { portraitJpeg, PORTRAITS } from '../../../loadtests/lib/photos.js'
import { startLivenessVendor, type LivenessVendorSimulator } from '../../../loadtests/simulators/liveness-vendor.js'
import { call, metric, register, startBench, startCluster, stopCluster, waitFor, type Answer, type Bench, type ClusterProcess, type InstanceInfo } from './fixture.js'

const INSTANCES = 3
// The contract: 2 scans a second, 12 scans in all. The simulator enforces both as the vendor's
// edge would (429 past the rate in any rolling second, 402 past the total).
const CONTRACT_RATE = 2
const TOTAL_SCANS = 12
// More uploads than scans: the last ones must be refused by the gateway, not sent.
const UPLOADS = 16
// The jitter pacedRate leaves room for: a start reaches the vendor up to this much after its slot.
const JITTER_MS = 50

describe('vendor pacing across three instances on one Redis', () => {
  let bench: Bench
  let vendor: LivenessVendorSimulator
  let cluster: ClusterProcess | undefined
  let instances: InstanceInfo[]
  beforeAll(async () => {
    bench = await startBench()
    vendor = await startLivenessVendor({ ratePerSecond: CONTRACT_RATE, totalScans: TOTAL_SCANS, latencyMs: 50 })
    cluster = startCluster(INSTANCES, {
      ...bench.env,
      GATEWAY_RATE_LIMIT_RULES: '[]',
      GATEWAY_REGISTRATION_MIN_INTERVAL_SECONDS: '0',
      GATEWAY_VENDOR_URL: vendor.url,
      GATEWAY_VENDOR_RATE_PER_SECOND: String(CONTRACT_RATE),
      GATEWAY_VENDOR_TOTAL_SCANS: String(TOTAL_SCANS),
      // One check in hand per instance (claimed, waiting for its slot, or with the vendor), so
      // that every instance scans, not one taking the whole queue: see the end of the test.
      GATEWAY_VENDOR_MAX_CONCURRENT: '1',
      GATEWAY_REDIS_COMMAND_TIMEOUT_MS: '2000'
    })
    instances = await cluster.listening
  })
  afterAll(async () => {
    await stopCluster(cluster)
    await vendor?.close()
    await bench.close()
  })

  it(`${UPLOADS} uploads spread over the instances: the vendor sees ${TOTAL_SCANS} scans, at most ${CONTRACT_RATE} in any second, no 429, no 402`, async () => {
    const photo = (await portraitJpeg({ ...PORTRAITS['medium-well-lit'], width: 640, height: 640 })).toString('base64')
    // One registration per upload, each made and uploaded through instance i % 3, all at once.
    const uploads = await Promise.all(Array.from({ length: UPLOADS }, async (_, i) => {
      const url = (instances[i % INSTANCES] as InstanceInfo).url
      const who = bench.applicant()
      const made = await register(url, who, 300 + i)
      expect(made.status, JSON.stringify(made.body)).toBe(201)
      const answer: Answer = await call(`${url}/v1/liveness`, {
        method: 'POST',
        headers: { ...who, 'idempotency-key': randomUUID() },
        body: { registrationId: made.body.registrationId, memberIndex: 0, photo }
      })
      return { i, who, answer }
    }))
    const accepted = uploads.filter((u) => u.answer.status === 202)
    const refused = uploads.filter((u) => u.answer.status !== 202)
    // The budget is reserved at upload in the shared store: the instances together accept exactly
    // the contract's total, and refuse the rest with what to do next.
    expect(accepted).toHaveLength(TOTAL_SCANS)
    expect(refused.map((u) => [u.answer.status, u.answer.body.code])).toEqual(Array.from({ length: UPLOADS - TOTAL_SCANS }, () => [503, 'GW_ERR_LIVENESS_BUDGET']))

    // Every accepted check decided, read through another instance than the one it came in by.
    await waitFor(async () => {
      const views = await Promise.all(accepted.map(async (u) => call(`${(instances[(u.i + 1) % INSTANCES] as InstanceInfo).url}/v1/liveness/${u.answer.body.livenessId as string}`, { headers: u.who })))
      return views.every((v) => v.body.status === 'passed')
    }, 30_000, () => JSON.stringify(vendor.stats()))

    const stats = vendor.stats()
    // Exactly the contract's scans, each once (distinct Idempotency-Keys), none refused.
    expect(stats.accepted).toBe(TOTAL_SCANS)
    expect(stats.distinctKeys).toBe(TOTAL_SCANS)
    expect(stats.received).toBe(TOTAL_SCANS)
    expect(stats.rejected402).toBe(0)
    expect(stats.rejected429).toBe(0)
    // The rate, from the simulator's own record of arrivals (the busiest window [t, t + 1 s)).
    // The instances share one limiter in Redis: slots 1 / pacedRate(2 × 0.9) = 583 ms apart
    // (GCRA with a burst of one); a start is never more than LATE_MS after its slot and reaches
    // the vendor within JITTER_MS more, so the arrivals in any second started within
    // 1 + (LATE_MS + JITTER_MS) / 1000 s: at most 1.71 × 1.07 + 1 = 2.8, so 2, the contract rate.
    // Three limiters of their own would put up to 3 × that in one second (and draw 429s).
    const paced = pacedRate(CONTRACT_RATE * defaults.vendor.pacing)
    const bound = Math.floor(paced * (1 + (LATE_MS + JITTER_MS) / 1000) + 1)
    expect(bound).toBe(CONTRACT_RATE)
    expect(stats.maxInAnyOneSecond).toBeLessThanOrEqual(bound)
    // The budget every instance reports is the shared one: all used.
    for (const { url } of instances) {
      expect(await metric(url, 'gateway_vendor_budget_used')).toBe(TOTAL_SCANS)
      expect(await metric(url, 'gateway_vendor_budget_remaining')).toBe(0)
    }
    // Every instance called the vendor, so the pace held above is one they shared, not one
    // instance's own (the queue is shared: one instance taking every scan would hide a limiter
    // per instance). It holds by the set-up: with GATEWAY_VENDOR_MAX_CONCURRENT=1 the other two
    // hold at most 2 checks at any time, and an accepted upload wakes the dispatcher of the
    // instance it came in by right after queueing it, which then claims an unheld one of the
    // first 4 in the queue (its own among them); each instance had at least one upload accepted
    // (16 uploads, 5 or 6 through each, 4 refused). An idle dispatcher also looks again at least
    // every 2.5 s (10 × 250 ms), and the shared pace spreads the 12 scans over more than 6 s.
    const perInstance = await Promise.all(instances.map(async ({ url }) => metric(url, 'gateway_vendor_calls_total').catch(() => 0)))
    for (const [i, calls] of perInstance.entries()) expect(calls, `instance ${i}: ${perInstance.join(', ')}`).toBeGreaterThan(0)
    const passes = await Promise.all(instances.map(async ({ url }) => metric(url, 'gateway_vendor_calls_total', 'outcome="pass"').catch(() => 0)))
    expect(passes.reduce((a, b) => a + b, 0)).toBe(TOTAL_SCANS)
  })
})
