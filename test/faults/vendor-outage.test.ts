// Fault: the liveness vendor gone for 60 s (its listener closed: every connection refused) while
// photo uploads go on at a bounded rate.
// Injected: the vendor simulator closed OUTAGE_MS after the uploads start and started again on
// the same port OUTAGE_MS later; uploads at UPLOADS_PER_SECOND the whole time, through real HTTP
// to one gateway process on its own redis-server, with a small queue bound
// (GATEWAY_LIVENESS_VENDOR_QUEUE_MAX = QUEUE_MAX) so the outage fills it.
// Counted:
//   - every upload's answer: 202 (accepted: checked and queued for the vendor) or 503
//     GW_ERR_LIVENESS_BUSY with Retry-After (the queue is full), each within the bound; nothing
//     else (no 500, no hang);
//   - the queue depth as /metrics reports it (gateway_liveness_queue_depth), sampled every
//     second: never above QUEUE_MAX;
//   - after the vendor is back, each accepted check's verdict read back over the API (passed or
//     failed) and its liveness.decided event at the backend simulator: lost = accepted - decided,
//     asserted 0, within DRAIN_BOUND_MS.
import { randomUUID } from 'node:crypto'
import type { ChildProcess } from 'node:child_process'
import { Agent } from 'undici'
import { afterAll, expect, it } from 'vitest'
import { eventId } from '../../gateway/domain/events.js'
import { startRedis, stopRedis } from '../../loadtests/lib/redis-server.js'
import { startBackend, type BackendSimulator } from '../../loadtests/simulators/backend.js'
import { startLivenessVendor, type LivenessVendorSimulator } from '../../loadtests/simulators/liveness-vendor.js'
import { PORTRAITS, portraitJpeg } from '../fixtures/photos.js'
import { applicants, call, gateway, metric, outcome, personalDataInLogs, scratch, sleep, tally, tearDown, until, type Answer, type NamedGateway, type Scratch } from './harness.js'

const OUTAGE_MS = 60_000
const BEFORE_MS = 5_000
const AFTER_MS = 5_000
const UPLOADS_PER_SECOND = 2
const QUEUE_MAX = 30
const VENDOR_RATE = 10
const APPLICANTS = 40
// Above the check's own bound (GATEWAY_LIVENESS_CHECK_TIMEOUT_MS, 20 s): any answer, even a busy one, comes before it.
const ANSWER_BOUND_MS = 25_000
const DRAIN_BOUND_MS = 60_000

let s: Scratch | undefined
let redis: { child: ChildProcess, port: number } | undefined
let vendor: LivenessVendorSimulator | undefined
let backend: BackendSimulator | undefined
let gw: NamedGateway | undefined
const agent = new Agent({ connections: 32 })

afterAll(async () => {
  await tearDown(s, [gw], async () => { if (redis !== undefined) await stopRedis(redis.child) }, async () => vendor?.close(), async () => backend?.close(), async () => agent.close())
})

interface Upload { at: number, who: number, answer: Answer }

it('the liveness vendor down for 60 s: the queue stays within its bound, uploads get 202 or 503 + Retry-After, and every accepted check is decided once it is back', async () => {
  const started = performance.now()
  s = await scratch('vendor')
  redis = await startRedis(s.dir)
  vendor = await startLivenessVendor({ ratePerSecond: VENDOR_RATE, totalScans: 100_000, latencyMs: 20 })
  const vendorPort = Number(new URL(vendor.url).port)
  backend = await startBackend({ latencyMs: 2 })
  gw = await gateway(s, 'gateway', {
    REDIS_URL: `redis://127.0.0.1:${redis.port}`,
    GATEWAY_VENDOR_URL: vendor.url,
    GATEWAY_VENDOR_RATE_PER_SECOND: String(VENDOR_RATE),
    // One call through soon after the vendor is back, rather than 30 s later.
    GATEWAY_VENDOR_BREAKER_RESET_MS: '5000',
    GATEWAY_LIVENESS_VENDOR_QUEUE_MAX: String(QUEUE_MAX),
    GATEWAY_DELIVERY_URL: `${backend.url}/events`
  })
  const people = applicants(s, APPLICANTS, 'vendor')
  const registrationId: string[] = []
  for (const p of people) {
    const res = await call(agent, `${gw.url}/v1/registrations`, 'POST', { ...p.headers, 'idempotency-key': randomUUID() }, p.body)
    expect(res.status, res.text).toBe(201)
    registrationId.push((JSON.parse(res.text) as { registrationId: string }).registrationId)
  }
  const photo = (await portraitJpeg({ ...PORTRAITS['medium-well-lit'], width: 640, height: 640 })).toString('base64')
  // A face is personal data: a piece of the photo from past its generic JPEG header.
  s.sent.add(photo.slice(2_000, 2_064))

  const uploads: Upload[] = []
  const depths: Array<{ at: number, depth: number }> = []
  const t0 = performance.now()
  const total = Math.floor((BEFORE_MS + OUTAGE_MS + AFTER_MS) / 1000 * UPLOADS_PER_SECOND)
  const sampler = new AbortController()
  const sampling = (async () => {
    while (!sampler.signal.aborted) {
      const res = await call(agent, `${gw!.url}/metrics`, 'GET', {}, undefined, 5_000)
      const depth = metric(res.text, 'gateway_liveness_queue_depth')
      if (depth !== undefined) depths.push({ at: performance.now() - t0, depth })
      await sleep(1_000)
    }
  })()
  const load = (async () => {
    const running: Array<Promise<void>> = []
    for (let i = 0; i < total; i++) {
      const wait = t0 + i * 1000 / UPLOADS_PER_SECOND - performance.now()
      if (wait > 0) await sleep(wait)
      const who = i % APPLICANTS
      running.push((async () => {
        const at = performance.now() - t0
        const answer = await call(agent, `${gw!.url}/v1/liveness`, 'POST', { ...people[who]!.headers, 'idempotency-key': randomUUID() }, { registrationId: registrationId[who], memberIndex: 0, photo }, ANSWER_BOUND_MS)
        uploads.push({ at, who, answer })
      })())
    }
    await Promise.all(running)
  })()
  await sleep(BEFORE_MS)
  await vendor.close()
  const downAt = performance.now() - t0
  await sleep(OUTAGE_MS)
  vendor = await startLivenessVendor({ ratePerSecond: VENDOR_RATE, totalScans: 100_000, latencyMs: 20, port: vendorPort })
  const backAt = performance.now() - t0
  await load
  const loadEnded = performance.now() - t0

  // Drain: every accepted check decided, read back over the API, and its event at the backend.
  const accepted = uploads.filter((u) => u.answer.status === 202).map((u) => ({ who: u.who, livenessId: (JSON.parse(u.answer.text) as { livenessId: string }).livenessId }))
  const verdicts = new Map<string, string>()
  const drained = await until(async () => {
    for (const { who, livenessId } of accepted) {
      if (verdicts.has(livenessId)) continue
      const res = await call(agent, `${gw!.url}/v1/liveness/${livenessId}`, 'GET', people[who]!.headers)
      const status = res.status === 200 ? (JSON.parse(res.text) as { status: string }).status : `HTTP ${res.status}`
      if (status === 'passed' || status === 'failed') verdicts.set(livenessId, status)
    }
    const got = backend!.received()
    return verdicts.size === accepted.length && accepted.every((c) => got.has(eventId('liveness.decided', c.livenessId)))
  }, DRAIN_BOUND_MS, 1_000)
  const drainedAt = performance.now() - t0
  sampler.abort()
  await sampling
  const received = backend.received()

  const offPolicy = uploads.filter((u) => {
    const { status, headers, text } = u.answer
    if (status === 202) return false
    return !(status === 503 && /^\d+$/.test(String(headers['retry-after'])) && JSON.parse(text).code === 'GW_ERR_LIVENESS_BUSY')
  })
  const maxDepth = Math.max(...depths.map((d) => d.depth))
  const duringOutage = uploads.filter((u) => u.at >= downAt && u.at < backAt)
  const counts = {
    uploads: uploads.length,
    accepted: accepted.length,
    acceptedDuringOutage: duringOutage.filter((u) => u.answer.status === 202).length,
    busyDuringOutage: duringOutage.filter((u) => u.answer.status === 503).length,
    decided: verdicts.size,
    verdicts: tally(verdicts.values()),
    eventsAtBackend: accepted.filter((c) => received.has(eventId('liveness.decided', c.livenessId))).length,
    lost: accepted.length - Math.min(verdicts.size, accepted.filter((c) => received.has(eventId('liveness.decided', c.livenessId))).length),
    maxQueueDepth: maxDepth,
    queueBound: QUEUE_MAX
  }
  const pii = await personalDataInLogs(s, [gw])
  process.stdout.write(`vendor-outage: injected vendor closed at ${(downAt / 1000).toFixed(1)} s, back at ${(backAt / 1000).toFixed(1)} s; uploads ended ${(loadEnded / 1000).toFixed(1)} s, drained=${drained} at ${(drainedAt / 1000).toFixed(1)} s (${((drainedAt - backAt) / 1000).toFixed(1)} s after the vendor came back)\n` +
    `vendor-outage: answers ${JSON.stringify(tally(uploads.map((u) => outcome(u.answer))))}; slowest ${Math.max(...uploads.map((u) => u.answer.ms)).toFixed(0)} ms; queue depth samples ${depths.map((d) => d.depth).join(' ')}\n` +
    `vendor-outage: counts ${JSON.stringify(counts)}\n` +
    `vendor-outage: logs ${pii.lines} lines, personal values sent ${s.sent.size}, found ${pii.found.length} (control: ${pii.control} found when planted in a copy of a real log); took ${((performance.now() - started) / 1000).toFixed(1)} s\n`)

  expect(uploads.length).toBe(total)
  expect(offPolicy.map((u) => `${outcome(u.answer)} retry-after=${String(u.answer.headers['retry-after'])}`)).toEqual([])
  // The fault was felt: the queue filled while the vendor was away and uploads were turned back.
  expect(counts.busyDuringOutage).toBeGreaterThan(0)
  expect(maxDepth).toBeLessThanOrEqual(QUEUE_MAX)
  expect(drained).toBe(true)
  expect(counts.lost).toBe(0)
  expect(pii.control).toBe(s.sent.size)
  expect(pii.found).toEqual([])
}, 200_000)
