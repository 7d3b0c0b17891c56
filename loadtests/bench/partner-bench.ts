// npm run bench:partner: can a partner tell, by timing POST /v1/partner/validations, an unknown
// confirmation number from a real one with the wrong date of birth? The issue asks for no
// measurable difference. On a private redis-server this builds the real gateway, makes a few real
// selected appointments (register, request, draw), then times three kinds of query drawn in one
// random order, so that drift (GC, CPU frequency, a neighbour's load) falls on every kind alike:
//   valid      a real number with one of its holders' dates of birth,
//   wrong_dob  a real number with a date of birth none of its holders has,
//   unknown    a fresh random number in the same alphabet and length, with a plausible date.
// (a) at the service level, fastify.partnerValidation.validate() against Redis, where a
//     difference in code path shows most; (b) end to end, over keep-alive HTTP on 127.0.0.1.
// Knobs: --samples N or PARTNER_BENCH_SAMPLES (per kind, service level, 20000);
// --http-samples N or PARTNER_BENCH_HTTP_SAMPLES (per kind over HTTP, 5000 or --samples if fewer).
// A benchmark reports: it exits 0 whatever the verdict, and 1 only if an answer is wrong.
import { generateKeyPairSync, randomBytes, randomInt, randomUUID } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { cpus, loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import Fastify, { type FastifyInstance } from 'fastify'
import { createSigner } from 'fast-jwt'
import { loadConfig } from '../../config/load.js'
import app from '../../gateway/app.js'
import { confirmationNumber } from '../../gateway/domain/allocations.js'
import { scheduleAt } from '../../gateway/domain/schedule.js'
import { serverOptions } from '../../gateway/server-options.js'
import { ManualClock } from '../../gateway/store/clock.js'
import { createRedisStores } from '../../gateway/store/redis/index.js'
import { startRedis, stopRedis } from '../lib/redis-server.js'
import { mannWhitney, quantile } from '../lib/stats.js'

const KINDS = ['valid', 'wrong_dob', 'unknown'] as const
type Kind = typeof KINDS[number]
interface Query { kind: Kind, number: string, dateOfBirth: string, body: string }
interface Holder { number: string, dates: string[] }
interface Comparison { samples: number, unknownUs: number, wrongDobUs: number, ratio: number, z: number, distinguishable: boolean }

const APPOINTMENTS = 8
// "Measurable" needs both: a rank test far beyond chance, and a shift big enough to matter. With
// 20,000 samples a kind the test alone would flag a few nanoseconds of cache luck.
const Z_LIMIT = 3
const SHIFT_LIMIT = 0.02

function count (flag: string | undefined, env: string | undefined, fallback: number, name: string): number {
  const raw = flag ?? env
  if (raw === undefined || raw === '') return fallback
  const n = Number(raw)
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`partner-bench: ${name} must be a positive integer, got "${raw}"`)
  return n
}

const { values: args } = parseArgs({ options: { samples: { type: 'string' }, 'http-samples': { type: 'string' } } })
const samples = count(args.samples, process.env.PARTNER_BENCH_SAMPLES, 20_000, '--samples')
const httpSamples = count(args['http-samples'], process.env.PARTNER_BENCH_HTTP_SAMPLES, Math.min(5_000, samples), '--http-samples')

/** A date of birth between 1940 and 2007, as an applicant might have. */
function plausibleDate (): string {
  return new Date(Date.UTC(1940, 0, 1) + randomInt(0, 68 * 365) * 86_400_000).toISOString().slice(0, 10)
}

function shuffle<T> (items: T[]): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = randomInt(0, i + 1)
    ;[items[i], items[j]] = [items[j] as T, items[i] as T]
  }
  return items
}

/** `perKind` queries of each kind, in one random order, built before any timing starts. */
function plan (holders: readonly Holder[], perKind: number): Query[] {
  const queries: Query[] = []
  const add = (kind: Kind, number: string, dateOfBirth: string): void => {
    queries.push({ kind, number, dateOfBirth, body: JSON.stringify({ confirmationNumber: number, dateOfBirth }) })
  }
  for (let i = 0; i < perKind; i++) {
    const holder = holders[randomInt(0, holders.length)] as Holder
    add('valid', holder.number, holder.dates[randomInt(0, holder.dates.length)] as string)
    let wrong = plausibleDate()
    while (holder.dates.includes(wrong)) wrong = plausibleDate()
    add('wrong_dob', holder.number, wrong)
    add('unknown', confirmationNumber(), plausibleDate())
  }
  return shuffle(queries)
}

/** Runs every query once, in order, one at a time; microseconds per kind. */
async function time (queries: readonly Query[], ask: (q: Query) => Promise<boolean>): Promise<Record<Kind, number[]>> {
  const us: Record<Kind, number[]> = { valid: [], wrong_dob: [], unknown: [] }
  for (const q of queries) {
    const started = process.hrtime.bigint()
    const valid = await ask(q)
    const elapsed = Number(process.hrtime.bigint() - started) / 1000
    if (valid !== (q.kind === 'valid')) throw new Error(`partner-bench: a ${q.kind} query answered valid=${valid}`)
    us[q.kind].push(elapsed)
  }
  return us
}

function report (level: string, us: Record<Kind, number[]>): Comparison {
  const sorted = Object.fromEntries(KINDS.map((k) => [k, [...us[k]].sort((a, b) => a - b)])) as Record<Kind, number[]>
  for (const k of KINDS) {
    const s = sorted[k]
    process.stdout.write(`| ${level} | ${k} | ${s.length} | ${quantile(s, 0.5).toFixed(1)} | ${quantile(s, 0.9).toFixed(1)} | ${quantile(s, 0.99).toFixed(1)} |\n`)
  }
  const unknownUs = quantile(sorted.unknown, 0.5)
  const wrongDobUs = quantile(sorted.wrong_dob, 0.5)
  const ratio = unknownUs / wrongDobUs
  // Mann–Whitney rather than Welch's t: latencies are skewed with a long tail (GC pauses, the
  // scheduler), which dominates a mean and its variance even after trimming, while a rank test
  // ignores how far out the tail lies and asks the question the medians ask, whether one kind
  // tends to take longer than the other.
  const { z } = mannWhitney(us.unknown, us.wrong_dob)
  return { samples: us.unknown.length, unknownUs, wrongDobUs, ratio, z, distinguishable: Math.abs(z) > Z_LIMIT && Math.abs(ratio - 1) > SHIFT_LIMIT }
}

const line = (name: string, c: Comparison): string =>
  `${name}: samples=${c.samples} unknown_us=${c.unknownUs.toFixed(1)} wrong_dob_us=${c.wrongDobUs.toFixed(1)} ratio=${c.ratio.toFixed(3)} z=${c.z.toFixed(2)} distinguishable=${c.distinguishable ? 'yes' : 'no'}\n`

/** Registers `count` applicants, requests an appointment for each and runs the draw that selects them. */
async function appointments (fastify: FastifyInstance, clock: ManualClock, sign: (claims: object) => string, count: number): Promise<Holder[]> {
  let schedule = scheduleAt(clock.now(), fastify.config.schedule)
  if (!schedule.requestWindow.open) {
    clock.set(Date.parse(schedule.requestWindow.nextChangeAt) + 60_000)
    schedule = scheduleAt(clock.now(), fastify.config.schedule)
  }
  const expect = (what: string, res: { statusCode: number, body: string }, status: number): void => {
    if (res.statusCode !== status) throw new Error(`partner-bench: ${what} answered ${res.statusCode}: ${res.body}`)
  }
  const made: Array<{ who: Record<string, string>, requestId: string, dates: string[] }> = []
  for (let i = 0; i < count; i++) {
    const who = { authorization: `Bearer ${sign({ sub: `holder-${i}`, role: 'applicant' })}`, 'x-device-id': randomUUID() }
    // Groups of one to three, so that the real dates fill a varying share of the compared slots.
    const dates = Array.from({ length: 1 + (i % 3) }, () => plausibleDate())
    const members = dates.map((dateOfBirth, m) => ({ firstName: `Bench${i}x${m}`, lastName: `Holder${randomBytes(4).toString('hex')}`, dateOfBirth, nationality: 'HTI', usAddress: { line1: '1 A St', city: 'Miami', state: 'FL', zip: '33101' } }))
    const registered = await fastify.inject({ method: 'POST', url: '/v1/registrations', headers: { ...who, 'idempotency-key': randomUUID() }, payload: { members, preferredLanguage: 'ht' } })
    expect('POST /v1/registrations', registered, 201)
    const requested = await fastify.inject({ method: 'POST', url: '/v1/appointment-requests', headers: { ...who, 'idempotency-key': randomUUID() }, payload: { registrationId: registered.json().registrationId, poe: 'nogales', location: { latitude: 31.3, longitude: -110.9, accuracyMeters: 10 } } })
    expect('POST /v1/appointment-requests', requested, 202)
    made.push({ who, requestId: requested.json().requestId, dates })
  }
  // The draw runs once the window has closed and its seal grace has passed.
  clock.set(Math.max(Date.parse(schedule.nextAllocationAt), fastify.allocations.sealableAt(schedule.poolDate)))
  const drawn = await fastify.inject({ method: 'POST', url: '/v1/ops/allocations', headers: { authorization: `Bearer ${sign({ sub: 'ops-1', role: 'ops' })}`, 'idempotency-key': randomUUID() }, payload: { date: schedule.poolDate } })
  expect('POST /v1/ops/allocations', drawn, 200)
  return Promise.all(made.map(async ({ who, requestId, dates }) => {
    const res = await fastify.inject({ url: `/v1/appointment-requests/${requestId}`, headers: who })
    expect('GET /v1/appointment-requests/:id', res, 200)
    const number = res.json().appointment?.confirmationNumber as string | undefined
    if (number === undefined) throw new Error(`partner-bench: request ${requestId} was not selected: ${res.body}`)
    return { number, dates }
  }))
}

async function main (): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'partner-bench-'))
  const redis = await startRedis(dir)
  let fastify: FastifyInstance | undefined
  try {
    const config = loadConfig({
      env: {
        GATEWAY_LOG_LEVEL: 'silent',
        // The partner bucket (1/s) would refuse the benchmark after its burst.
        GATEWAY_RATE_LIMIT_RULES: '[]',
        // One client asking back to back keeps the loop busy by design; do not shed it.
        GATEWAY_SHED_MAX_EVENT_LOOP_DELAY_MS: '0',
        GATEWAY_SHED_MAX_EVENT_LOOP_UTILIZATION: '0',
        // The benchmark runs its one draw itself, on its own clock.
        GATEWAY_ALLOCATION_AUTO_DRAW: 'false'
      }
    })
    // Starts at the real time, never behind it: the gateway refuses tokens whose exp lies further
    // ahead of its clock than the maximum token lifetime.
    const clock = new ManualClock(Date.now())
    const stores = await createRedisStores({ url: `redis://127.0.0.1:${redis.port}`, keyPrefix: config.store.keyPrefix, commandTimeoutMs: config.store.commandTimeoutMs, connectTimeoutMs: config.store.connectTimeoutMs, autoPipelining: config.store.autoPipelining, clock })
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' })
    const signer = createSigner({ key: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), algorithm: 'ES256', expiresIn: 3_600_000 })
    const sign = (claims: object): string => signer({ ...claims, iss: config.auth.issuer, aud: config.auth.audience })
    fastify = Fastify(serverOptions(config))
    await fastify.register(app, { config, stores, keys: { kind: 'pem', pem: publicKey.export({ type: 'spki', format: 'pem' }).toString() }, identityKey: randomBytes(32), clock })
    await fastify.ready()

    const holders = await appointments(fastify, clock, sign, APPOINTMENTS)
    const service = fastify.partnerValidation
    const validate = async (q: Query): Promise<boolean> => service.validate(q.number, q.dateOfBirth)
    const warmup = (n: number): number => Math.min(2_000, n)
    process.stderr.write(`partner-bench: ${holders.length} appointments; service level, ${warmup(samples)} + ${samples} queries of each kind\n`)
    await time(plan(holders, warmup(samples)), validate)
    const serviceUs = await time(plan(holders, samples), validate)

    await fastify.listen({ host: '127.0.0.1', port: 0 })
    const { port } = fastify.server.address() as { port: number }
    const url = `http://127.0.0.1:${port}/v1/partner/validations`
    const headers = { authorization: `Bearer ${sign({ sub: 'partner-agency-1', role: 'partner' })}`, 'content-type': 'application/json' }
    // Node's fetch keeps the connection alive between requests (undici's global agent).
    const overHttp = async (q: Query): Promise<boolean> => {
      const res = await fetch(url, { method: 'POST', headers, body: q.body })
      const text = await res.text()
      if (res.status !== 200) throw new Error(`partner-bench: HTTP ${res.status}: ${text}`)
      return (JSON.parse(text) as { valid: boolean }).valid
    }
    process.stderr.write(`partner-bench: HTTP on 127.0.0.1:${port}, ${warmup(httpSamples)} + ${httpSamples} queries of each kind\n`)
    await time(plan(holders, warmup(httpSamples)), overHttp)
    const httpUs = await time(plan(holders, httpSamples), overHttp)

    process.stdout.write(`machine: ${cpus().length} x ${cpus()[0]?.model ?? 'cpu'}, load average ${loadavg().map((l) => l.toFixed(2)).join(' ')}, node ${process.version}; kinds interleaved at random, one query at a time\n`)
    process.stdout.write('| level | kind | samples | median µs | p90 µs | p99 µs |\n| --- | --- | --- | --- | --- | --- |\n')
    const serviceResult = report('service', serviceUs)
    const httpResult = report('http', httpUs)
    process.stdout.write(`measurable: |z| > ${Z_LIMIT} (Mann–Whitney, unknown vs wrong_dob) and medians more than ${SHIFT_LIMIT * 100}% apart\n`)
    process.stdout.write(line('partner-bench http', httpResult))
    process.stdout.write(line('partner-bench', serviceResult))
  } finally {
    await fastify?.close()
    await stopRedis(redis.child)
    await rm(dir, { recursive: true, force: true })
  }
}

await main()
