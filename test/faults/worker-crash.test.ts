// Fault: a photo-check worker thread that dies mid-task (process.exit in the thread), and one
// that throws, while other checks run beside them on the pool's other thread.
// Injected: the built gateway, copied into the scratch dir with one file changed: its worker
// dist/workers/liveness.js becomes the real check behind a wrapper (as test/fixtures/
// faulty-liveness-worker.mjs does in-process) that ends its thread for a photo ending in the
// bytes "CRASH" and throws for one ending in "THROW" (a trailer after the image's end, which the
// header check tolerates). Nothing in the gateway's own code changes and nothing reachable over
// HTTP turns a fault on: only this copy has the wrapper. Rounds of concurrent uploads, each
// round (ROUND) four good photos, one CRASH and one THROW, through real HTTP, two threads.
// Counted:
//   - each faulty upload answered 422 GW_ERR_LIVENESS_PHOTO_UNREADABLE (the person is asked to
//     send the photo again; never a 5xx), each good one in the same rounds 202, and good uploads
//     after the rounds 202 too (the pool replaced the thread);
//   - gateway_liveness_uploads_total{outcome="check_error"} = faults injected, {outcome=
//     "accepted"} = good uploads; the gateway process still running;
//   - every accepted check decided by the vendor simulator and its liveness.decided event at the
//     backend simulator: lost = accepted - decided, asserted 0.
import { randomUUID } from 'node:crypto'
import type { ChildProcess } from 'node:child_process'
import { cp, copyFile, rename, symlink, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Agent } from 'undici'
import { afterAll, expect, it } from 'vitest'
import { eventId } from '../../gateway/domain/events.js'
import { startRedis, stopRedis } from '../../loadtests/lib/redis-server.js'
import { startBackend, type BackendSimulator } from '../../loadtests/simulators/backend.js'
import { startLivenessVendor, type LivenessVendorSimulator } from '../../loadtests/simulators/liveness-vendor.js'
import { PORTRAITS, portraitJpeg } from '../fixtures/photos.js'
import { applicants, call, gateway, metric, outcome, personalDataInLogs, scratch, tally, tearDown, until, type Answer, type NamedGateway, type Scratch } from './harness.js'

const ROOT = fileURLToPath(new URL('../../', import.meta.url))
const ROUNDS = 4
// One round, sent at once: good checks on both sides of the two faults.
const ROUND: ReadonlyArray<'good' | 'CRASH' | 'THROW'> = ['good', 'good', 'CRASH', 'good', 'THROW', 'good']
const AFTER = 6
const APPLICANTS = 12
const DRAIN_BOUND_MS = 30_000

const FAULTY_WORKER = `// Written by test/faults/worker-crash.test.ts into its own copy of the build: the real photo
// check (liveness-real.js), except for photos ending in "CRASH" (the thread ends mid-task) or
// "THROW" (the task throws).
import checkPhoto from './liveness-real.js'

const tail = (photo, marker) => Buffer.from(photo.subarray(photo.length - marker.length)).toString('latin1') === marker

export default async function faultyCheck (input) {
  if (tail(input.photo, 'CRASH')) process.exit(1)
  if (tail(input.photo, 'THROW')) throw new Error('injected fault')
  return checkPhoto(input)
}
`

/** A copy of the build whose liveness worker injects faults; returns its server entry. */
async function faultyBuild (dir: string): Promise<string> {
  const app = join(dir, 'app')
  await cp(join(ROOT, 'dist'), join(app, 'dist'), { recursive: true })
  await copyFile(join(ROOT, 'package.json'), join(app, 'package.json'))
  await symlink(join(ROOT, 'node_modules'), join(app, 'node_modules'), 'dir')
  await rename(join(app, 'dist/workers/liveness.js'), join(app, 'dist/workers/liveness-real.js'))
  await writeFile(join(app, 'dist/workers/liveness.js'), FAULTY_WORKER)
  return join(app, 'dist/gateway/server.js')
}

let s: Scratch | undefined
let redis: { child: ChildProcess, port: number } | undefined
let vendor: LivenessVendorSimulator | undefined
let backend: BackendSimulator | undefined
let gw: NamedGateway | undefined
const agent = new Agent({ connections: 32 })

afterAll(async () => {
  await tearDown(s, [gw], async () => { if (redis !== undefined) await stopRedis(redis.child) }, async () => vendor?.close(), async () => backend?.close(), async () => agent.close())
})

interface Upload { round: number, kind: 'good' | 'CRASH' | 'THROW' | 'after', who: number, answer: Answer }

it('a worker thread that dies or throws mid-check fails that upload only (422, never 5xx); the checks beside it and after it succeed; none lost', async () => {
  const started = performance.now()
  s = await scratch('worker')
  const entry = await faultyBuild(s.dir)
  redis = await startRedis(s.dir)
  vendor = await startLivenessVendor({ ratePerSecond: 20, totalScans: 10_000, latencyMs: 20 })
  backend = await startBackend({ latencyMs: 2 })
  gw = await gateway(s, 'gateway', {
    REDIS_URL: `redis://127.0.0.1:${redis.port}`,
    GATEWAY_VENDOR_URL: vendor.url,
    GATEWAY_VENDOR_RATE_PER_SECOND: '20',
    GATEWAY_DELIVERY_URL: `${backend.url}/events`,
    // Two threads: a dying one has a neighbour whose check must not notice.
    GATEWAY_WORKERS_LIVENESS_MAX_THREADS: '2'
  }, entry)
  const people = applicants(s, APPLICANTS, 'worker')
  const registrationId: string[] = []
  for (const p of people) {
    const res = await call(agent, `${gw.url}/v1/registrations`, 'POST', { ...p.headers, 'idempotency-key': randomUUID() }, p.body)
    expect(res.status, res.text).toBe(201)
    registrationId.push((JSON.parse(res.text) as { registrationId: string }).registrationId)
  }
  const good = await portraitJpeg({ ...PORTRAITS['light-well-lit'], width: 640, height: 640 })
  s.sent.add(good.toString('base64').slice(2_000, 2_064))
  const photos = { good, after: good, CRASH: Buffer.concat([good, Buffer.from('CRASH', 'latin1')]), THROW: Buffer.concat([good, Buffer.from('THROW', 'latin1')]) }

  const uploads: Upload[] = []
  let next = 0
  const upload = async (round: number, kind: Upload['kind']): Promise<void> => {
    const who = next++ % APPLICANTS
    const answer = await call(agent, `${gw!.url}/v1/liveness`, 'POST', { ...people[who]!.headers, 'idempotency-key': randomUUID() }, { registrationId: registrationId[who], memberIndex: 0, photo: photos[kind].toString('base64') }, 25_000)
    uploads.push({ round, kind, who, answer })
  }
  // Each round at once: the faults land while good checks are on the other thread or queued.
  for (let round = 0; round < ROUNDS; round++) {
    await Promise.all(ROUND.map(async (kind) => upload(round, kind)))
  }
  for (let i = 0; i < AFTER; i++) await upload(ROUNDS, 'after')

  const metricsText = (await call(agent, `${gw.url}/metrics`, 'GET', {})).text
  const checkErrors = metricsText.match(/^gateway_liveness_uploads_total\{outcome="check_error"\} (\d+)$/m)?.[1] ?? '0'
  const acceptedMetric = metricsText.match(/^gateway_liveness_uploads_total\{outcome="accepted"\} (\d+)$/m)?.[1] ?? '0'
  const threads = metric(metricsText, 'gateway_liveness_pool_threads')
  const health = await call(agent, `${gw.url}/healthz`, 'GET', {})

  const accepted = uploads.filter((u) => u.answer.status === 202).map((u) => ({ who: u.who, livenessId: (JSON.parse(u.answer.text) as { livenessId: string }).livenessId }))
  const verdicts = new Map<string, string>()
  const drained = await until(async () => {
    for (const { who, livenessId } of accepted) {
      if (verdicts.has(livenessId)) continue
      const res = await call(agent, `${gw!.url}/v1/liveness/${livenessId}`, 'GET', people[who]!.headers)
      const status = res.status === 200 ? (JSON.parse(res.text) as { status: string }).status : ''
      if (status === 'passed' || status === 'failed') verdicts.set(livenessId, status)
    }
    const got = backend!.received()
    return verdicts.size === accepted.length && accepted.every((c) => got.has(eventId('liveness.decided', c.livenessId)))
  }, DRAIN_BOUND_MS, 500)
  const received = backend.received()
  const faults = uploads.filter((u) => u.kind === 'CRASH' || u.kind === 'THROW')
  const goods = uploads.filter((u) => u.kind === 'good' || u.kind === 'after')
  const counts = {
    faultsInjected: faults.length,
    faultsAnswered: tally(faults.map((u) => `${u.kind} ${outcome(u.answer)}`)),
    goodUploads: goods.length,
    goodAnswered: tally(goods.map((u) => `${u.kind} ${outcome(u.answer)}`)),
    checkErrorsMetric: Number(checkErrors),
    acceptedMetric: Number(acceptedMetric),
    poolThreadsAfter: threads,
    accepted: accepted.length,
    decided: verdicts.size,
    eventsAtBackend: accepted.filter((c) => received.has(eventId('liveness.decided', c.livenessId))).length,
    lost: accepted.length - Math.min(verdicts.size, accepted.filter((c) => received.has(eventId('liveness.decided', c.livenessId))).length)
  }
  const pii = await personalDataInLogs(s, [gw])
  process.stdout.write(`worker-crash: injected ${faults.filter((u) => u.kind === 'CRASH').length} thread exits and ${faults.filter((u) => u.kind === 'THROW').length} throws over ${ROUNDS} rounds of ${ROUND.length} concurrent uploads (2 threads); drained=${drained}\n` +
    `worker-crash: counts ${JSON.stringify(counts)}\n` +
    `worker-crash: logs ${pii.lines} lines, personal values sent ${s.sent.size}, found ${pii.found.length} (control: ${pii.control} found when planted in a copy of a real log); took ${((performance.now() - started) / 1000).toFixed(1)} s\n`)

  for (const u of faults) {
    expect(u.answer.status, u.answer.text).toBe(422)
    expect(JSON.parse(u.answer.text).code).toBe('GW_ERR_LIVENESS_PHOTO_UNREADABLE')
  }
  expect(goods.map((u) => outcome(u.answer))).toEqual(goods.map(() => '202'))
  expect(counts.checkErrorsMetric).toBe(faults.length)
  expect(counts.acceptedMetric).toBe(goods.length)
  expect(gw.process.child.exitCode).toBe(null)
  // Threads that died were replaced: the pool runs checks on live ones.
  expect(counts.poolThreadsAfter).toBeGreaterThan(0)
  expect(health.status).toBe(200)
  expect(drained).toBe(true)
  expect(counts.lost).toBe(0)
  expect(pii.control).toBe(s.sent.size)
  expect(pii.found).toEqual([])
}, 90_000)
