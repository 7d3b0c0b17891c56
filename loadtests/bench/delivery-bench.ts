// npm run bench:delivery: the outbox end to end, as the backend services see it. Gateway
// processes (dist/gateway/server.js) share one private redis-server and deliver to the backend
// simulator, itself a process of its own (servers/backend-instance.ts), all on 127.0.0.1.
//   1. Produce: a burst of writes over real HTTP, through the real producers, as fast as the
//      gateways take them (a bounded number in flight, spread over the instances): POST
//      /v1/registrations, each from its own account, device and client address, and every 10th
//      write a DELETE of one of them on another instance than the one that created it, so that
//      registration.created and registration.withdrawn both flow. Each accepted write (2xx) is
//      one event, whose id the bench computes with eventId() from the answer.
//   2. Drain: wait, at most produced / rate x 2 + 60 s, until the simulator has recorded every
//      expected id (it records by Idempotency-Key and counts every arrival at its own clock).
// Reported: both phases; in the same run, the burst's rate over the configured rate (how much
// delivery smooths), delivered/s over it (pacing efficiency: GATEWAY_DELIVERY_PACING, less 50 ms
// of jitter headroom, puts it a little under 1) and the busiest second over it (never above 1);
// and checks: gateway_outbox_appended_total over the instances equals the events expected, the
// simulator recorded no id outside them, retries against the simulator's 503s.
// Options: --events N (accepted writes to aim for, 3000), --rate R (GATEWAY_DELIVERY_RATE_PER_SECOND,
// 200), --instances N (2), --fail-share S (share of deliveries the simulator answers 503, so they
// are retried; 0), --concurrency N (writes in flight, 64).
// Last line: delivery-bench: produced=<n> delivered=<n> lost=<n> max_per_s=<n> configured_per_s=<rate>
// Exit 0 when lost=0 and max_per_s <= configured_per_s; 1 otherwise (and when no write was accepted,
// since then nothing was measured).
import { randomUUID } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { cpus, loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { createSigner } from 'fast-jwt'
import { Agent, request } from 'undici'
import { defaults } from '../../config/defaults.js'
import { eventId } from '../../gateway/domain/events.js'
import { pacedRate } from '../../gateway/vendor/contract-limiter.js'
import { askBackend, startBackendProcess, stopBackendProcess } from '../lib/backend-process.js'
import { startChildServer, type ChildServer } from '../lib/child-server.js'
import { cleanupSteps, runBench } from '../lib/run-bench.js'
import { gatewayKeys } from '../lib/gateway-env.js'
import { startRedis, stopRedis } from '../lib/redis-server.js'

const here = (path: string): string => fileURLToPath(new URL(path, import.meta.url))
const now = (): number => performance.timeOrigin + performance.now()
const say = (line: string): void => { process.stderr.write(`delivery-bench: ${line}\n`) }

const WITHDRAW_EVERY = 10
// The simulator's default: a backend that answers quickly, so the pace is what limits delivery.
const BACKEND_LATENCY_MS = 5
const POLL_MS = 250
const PROGRESS_EVERY_MS = 5_000

class OptionError extends Error {}

function integer (name: string, raw: string | undefined, fallback: number, max: number): number {
  if (raw === undefined) return fallback
  const n = Number(raw)
  if (raw.trim() === '' || !Number.isInteger(n) || n < 1) throw new OptionError(`${name} must be a positive integer, got "${raw}"`)
  // Bounded load: the machine is shared, and the run must end by itself.
  if (n > max) throw new OptionError(`${name} must be at most ${max}, got "${raw}"`)
  return n
}

function options (): { events: number, rate: number, instances: number, failShare: number, concurrency: number } {
  const { values } = parseArgs({
    options: {
      events: { type: 'string' },
      rate: { type: 'string' },
      instances: { type: 'string' },
      'fail-share': { type: 'string' },
      concurrency: { type: 'string' }
    }
  })
  const rate = Number(values.rate ?? 200)
  // The bounds of GATEWAY_DELIVERY_RATE_PER_SECOND.
  if (values.rate?.trim() === '' || !(rate > 0 && rate <= 100_000)) throw new OptionError(`--rate must be a number greater than 0 and at most 100000, got "${values.rate ?? ''}"`)
  const failShare = Number(values['fail-share'] ?? 0)
  // At 1 nothing is ever delivered: every event would end in the dead letters.
  if (values['fail-share']?.trim() === '' || !(failShare >= 0 && failShare < 1)) throw new OptionError(`--fail-share must be a number from 0 to below 1, got "${values['fail-share'] ?? ''}"`)
  return {
    events: integer('--events', values.events, 3_000, 100_000),
    rate,
    instances: integer('--instances', values.instances, 2, 8),
    failShare,
    concurrency: integer('--concurrency', values.concurrency, 64, 1_024)
  }
}

/** One applicant's registration, and whether it is withdrawn afterwards. */
interface Job {
  headers: Record<string, string>
  body: string
  withdraw: boolean
}

/** The writes, built before the clock starts: signing thousands of tokens is not the gateways' time. */
function plan (events: number, privateKeyPem: string): Job[] {
  const sign = createSigner({ key: privateKeyPem, algorithm: 'ES256', expiresIn: 3_600_000 })
  const withdrawals = Math.floor(events / WITHDRAW_EVERY)
  // One registration in every WITHDRAW_EVERY - 1 is withdrawn: one write in every WITHDRAW_EVERY.
  const group = WITHDRAW_EVERY - 1
  return Array.from({ length: events - withdrawals }, (_, j) => ({
    headers: {
      authorization: `Bearer ${sign({ sub: `delivery-bench-${j}`, role: 'applicant', iss: defaults.auth.issuer, aud: defaults.auth.audience })}`,
      'x-device-id': randomUUID(),
      // The gateways trust 127.0.0.1 as a proxy, so each applicant comes from its own address
      // and the per-network registration window sees many people, not one.
      'x-forwarded-for': `10.${(j >> 16) & 255}.${(j >> 8) & 255}.${j & 255}`
    },
    body: JSON.stringify({
      members: [{ firstName: `Bench${j}`, lastName: 'Delivery', dateOfBirth: `19${50 + (j % 50)}-0${1 + (j % 9)}-1${j % 10}`, nationality: 'HTI', usAddress: { line1: `${j} Main St`, city: 'El Paso', state: 'TX', zip: '79901' } }],
      preferredLanguage: 'ht'
    }),
    withdraw: j % group === group - 1 && j < withdrawals * group
  }))
}

interface Produced {
  writes: number
  expected: string[]
  statuses: Record<string, number>
  seconds: number
}

async function produce (jobs: readonly Job[], urls: readonly string[], concurrency: number): Promise<Produced> {
  const agent = new Agent({ connections: concurrency })
  const statuses: Record<string, number> = {}
  const expected: string[] = []
  let writes = 0
  const tally = (key: string): void => { statuses[key] = (statuses[key] ?? 0) + 1 }
  /** One write with a fresh Idempotency-Key; status 0 when it got no answer. */
  const call = async (url: string, method: 'POST' | 'DELETE', headers: Record<string, string>, body?: string): Promise<{ status: number, text: string }> => {
    writes++
    try {
      const res = await request(url, { method, headers: { ...headers, 'idempotency-key': randomUUID(), ...(body === undefined ? {} : { 'content-type': 'application/json' }) }, body, dispatcher: agent })
      const text = await res.body.text()
      tally(`${method} ${res.statusCode}`)
      return { status: res.statusCode, text }
    } catch (err) {
      tally(`${method} ${(err as { code?: string }).code ?? (err as Error).name}`)
      return { status: 0, text: '' }
    }
  }
  let next = 0
  const started = now()
  try {
    await Promise.all(Array.from({ length: Math.min(concurrency, jobs.length) }, async () => {
      for (let j = next++; j < jobs.length; j = next++) {
        const job = jobs[j] as Job
        const created = await call(`${urls[j % urls.length] as string}/v1/registrations`, 'POST', job.headers, job.body)
        if (created.status !== 201) continue
        const id = (JSON.parse(created.text) as { registrationId: string }).registrationId
        expected.push(eventId('registration.created', id))
        if (!job.withdraw) continue
        // On another instance, when there is one: the registration is shared state, not local.
        const withdrawn = await call(`${urls[(j + 1) % urls.length] as string}/v1/registrations/${id}`, 'DELETE', job.headers)
        if (withdrawn.status === 200) expected.push(eventId('registration.withdrawn', id))
      }
    }))
    return { writes, expected, statuses, seconds: (now() - started) / 1000 }
  } finally {
    await agent.close()
  }
}

/** Sends the simulator process one question and resolves with its answer. */

/** Sum of every series of each named counter on one instance's /metrics. */
async function counters (url: string, names: readonly string[]): Promise<Record<string, number>> {
  const res = await request(`${url}/metrics`)
  const text = await res.body.text()
  if (res.statusCode !== 200) throw new Error(`GET ${url}/metrics answered ${res.statusCode}`)
  const sums: Record<string, number> = Object.fromEntries(names.map((n) => [n, 0]))
  for (const line of text.split('\n')) {
    const match = /^([a-z_]+)(?:\{[^}]*\})? ([0-9.e+-]+)$/.exec(line)
    if (match !== null && (match[1] as string) in sums) sums[match[1] as string] = (sums[match[1] as string] as number) + Number(match[2])
  }
  return sums
}

// Stopped in reverse order of starting, once, whether the run ends, fails or is interrupted.
const { cleanups, cleanUp } = cleanupSteps(say)

async function main (): Promise<number> {
  const { events, rate, instances, failShare, concurrency } = options()
  const dir = await mkdtemp(join(tmpdir(), 'delivery-bench-'))
  cleanups.push(async () => rm(dir, { recursive: true, force: true }))
  const redis = await startRedis(dir)
  cleanups.push(async () => stopRedis(redis.child))
  const simulator = await startBackendProcess({ latencyMs: BACKEND_LATENCY_MS, failShare })
  cleanups.push(async () => stopBackendProcess(simulator.child))

  const keys = await gatewayKeys(dir)
  const env = {
    ...keys.env,
    REDIS_URL: `redis://127.0.0.1:${redis.port}`,
    // The load comes from 127.0.0.1 on behalf of many client addresses (X-Forwarded-For).
    GATEWAY_TRUSTED_PROXIES: '["127.0.0.1"]',
    // The buckets and shedding belong to bench:edge; here every write should be taken, since the
    // burst is what delivery must smooth. Each applicant has its own account, device and address,
    // so the registration windows (per device, account, network) never refuse one either.
    GATEWAY_RATE_LIMIT_RULES: '[]',
    GATEWAY_SHED_MAX_EVENT_LOOP_DELAY_MS: '0',
    // Only the bench's writes make events: no draw or lapse sweep adds its own.
    GATEWAY_ALLOCATION_AUTO_DRAW: 'false',
    GATEWAY_DELIVERY_URL: `${simulator.url}/events`,
    GATEWAY_DELIVERY_RATE_PER_SECOND: String(rate)
  }
  const gateways: ChildServer[] = []
  cleanups.push(async () => { await Promise.all(gateways.map(async (g) => g.stop())) })
  const started = await Promise.allSettled(Array.from({ length: instances }, async () => startChildServer(here('../../gateway/server.js'), env)))
  for (const s of started) if (s.status === 'fulfilled') gateways.push(s.value)
  const failed = started.find((s) => s.status === 'rejected')
  if (failed !== undefined) throw failed.reason
  const urls = gateways.map((g) => `http://127.0.0.1:${g.port}`)
  say(`${instances} gateway instance(s) (${urls.join(', ')}) on redis-server :${redis.port}, delivering at ${rate}/s to the backend simulator at ${simulator.url} (latency ${BACKEND_LATENCY_MS} ms, fail share ${failShare})`)

  const jobs = plan(events, keys.privateKeyPem)
  say(`producing ${events} writes (${jobs.length} registrations, ${events - jobs.length} withdrawals), ${concurrency} in flight`)
  const produced = await produce(jobs, urls, concurrency)
  const refused = Object.entries(produced.statuses).filter(([k]) => !/^(POST 201|DELETE 200)$/.test(k))
  if (refused.length > 0) say(`writes not accepted: ${JSON.stringify(Object.fromEntries(refused))}`)
  const expected = produced.expected

  // Drain: until every expected id has arrived, or the bound.
  let answer = await askBackend(simulator.child, { kind: 'expect', ids: expected })
  const drainStarted = now()
  const deadline = drainStarted + (expected.length / rate * 2 + 60) * 1000
  let lastProgress = now()
  while (answer.arrived < expected.length && now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, POLL_MS))
    answer = await askBackend(simulator.child, { kind: 'progress' })
    if (now() - lastProgress >= PROGRESS_EVERY_MS) {
      lastProgress = now()
      say(`${answer.arrived} of ${expected.length} events at the backend`)
    }
  }
  if (answer.arrived < expected.length) say(`gave up waiting after ${((now() - drainStarted) / 1000).toFixed(0)} s; missing, for example: ${answer.missingSample.join(', ')}`)

  const names = ['gateway_outbox_appended_total', 'gateway_delivery_retries_total', 'gateway_delivery_dead_letters_total'] as const
  const perInstance = await Promise.all(urls.map(async (url) => counters(url, names)))
  const metric = (name: typeof names[number]): number => perInstance.reduce((sum, c) => sum + (c[name] as number), 0)
  // Stopped before the simulator's last word, so anything they still sent is in its counts.
  await Promise.all(gateways.map(async (g) => g.stop()))
  const final = await askBackend(simulator.child, { kind: 'progress' })

  const delivered = final.arrived
  const lost = expected.length - delivered
  const maxPerSecond = final.stats.maxInAnyOneSecond
  const firstAt = final.firstRecordedAt ?? 0
  const lastAt = final.lastRecordedAt ?? 0
  const expectedAt = final.expectedAt as number
  const perSecond = (count: number, seconds: number): number => seconds > 0 ? count / seconds : 0
  const burst = { count: expected.length, seconds: produced.seconds }
  // Delivery times are all the simulator's clock: the writes ended when it was told what to expect.
  const during = { count: final.recordedBeforeExpect, seconds: Math.max(0, expectedAt - firstAt) / 1000 }
  const drain = { count: delivered - final.recordedBeforeExpect, seconds: Math.max(0, lastAt - expectedAt) / 1000 }
  const whole = { count: delivered, seconds: Math.max(0, lastAt - firstAt) / 1000 }
  const paced = pacedRate(rate * defaults.delivery.pacing) / rate
  const appended = metric('gateway_outbox_appended_total')
  const ok = (good: boolean): string => good ? 'ok' : 'FAILED'
  const row = (phase: string, span: string, writes: string, p: { count: number, seconds: number }): string =>
    `| ${phase} | ${span} | ${writes} | ${p.count} | ${p.seconds.toFixed(2)} | ${perSecond(p.count, p.seconds).toFixed(1)} |\n`
  const ratio = (name: string, value: number, digits: number, says: string): string => `| ${name} | ${value.toFixed(digits)} | ${says} |\n`

  process.stdout.write(`machine: ${cpus().length} x ${cpus()[0]?.model ?? 'cpu'}, load average ${loadavg().map((l) => l.toFixed(2)).join(' ')}, node ${process.version}; ${instances} gateway process(es), one redis-server, the backend simulator in its own process (latency ${BACKEND_LATENCY_MS} ms, fail share ${failShare}), all on 127.0.0.1\n`)
  process.stdout.write('| phase | from → to | writes | events | seconds | events/s |\n| --- | --- | --- | --- | --- | --- |\n')
  process.stdout.write(row('produce', 'first write sent → last answered', String(produced.writes), burst))
  process.stdout.write(row('deliver during the burst', 'first event recorded → last write answered', '-', during))
  process.stdout.write(row('drain', 'last write answered → last event recorded', '-', drain))
  process.stdout.write(row('deliver, all', 'first event recorded → last', '-', whole))
  process.stdout.write('| measured in this run | value | what it says |\n| --- | --- | --- |\n')
  process.stdout.write(ratio('burst ÷ configured', perSecond(burst.count, burst.seconds) / rate, 2, 'how much faster events were made than backends take them: what delivery smooths'))
  process.stdout.write(ratio('drain events/s ÷ configured', perSecond(drain.count, drain.seconds) / rate, 3, `pacing efficiency; paced at ${paced.toFixed(3)} (GATEWAY_DELIVERY_PACING ${defaults.delivery.pacing}, less 50 ms of jitter headroom)${failShare > 0 ? ', less the slots the 503s took and the backoff of the last retries' : ''}`))
  process.stdout.write(ratio('during the burst ÷ configured', perSecond(during.count, during.seconds) / rate, 3, 'the same while the gateways were also taking the writes'))
  process.stdout.write(ratio('max_per_s ÷ configured', maxPerSecond / rate, 3, `busiest sliding second at the backend; ${ok(maxPerSecond <= rate)} when at most 1`))
  process.stdout.write(`| duplicates at the backend | ${final.stats.duplicates} | deliveries of an id already recorded |\n`)
  process.stdout.write(`checks: gateway_outbox_appended_total over the instances ${appended}, events expected ${expected.length}: ${ok(appended === expected.length)}; ids recorded outside them ${final.unexpected}${final.unexpected > 0 ? ` (${final.unexpectedSample.join(', ')})` : ''}: ${ok(final.unexpected === 0)}; gateway_delivery_retries_total ${metric('gateway_delivery_retries_total')}, 503s from the simulator ${final.stats.failed}; dead letters ${metric('gateway_delivery_dead_letters_total')}\n`)
  process.stdout.write(`delivery-bench: produced=${expected.length} delivered=${delivered} lost=${lost} max_per_s=${maxPerSecond} configured_per_s=${rate}\n`)
  if (expected.length === 0) say('no write was accepted: nothing was measured')
  return lost === 0 && maxPerSecond <= rate && expected.length > 0 ? 0 : 1
}

await runBench(main, { say, cleanUp, isUsageError: (err) => err instanceof OptionError })
