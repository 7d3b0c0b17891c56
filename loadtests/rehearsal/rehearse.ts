// One rehearsal run against a gateway that is already up (the runner's own stack or --target):
// mints the accounts' tokens, drives the profile with an open arrival model (driver.ts), samples
// the gateway's /metrics and CPU each second, then checks that nothing acknowledged was lost: a
// sample of the created registrations is read back, and every one's registration.created event
// must reach the backend simulator within a bounded drain. SLO verdict from the profile's `slo`.
// It writes summary.json and report.html and returns the human table and the rehearsal line;
// run.ts prints them, knee.ts steps the rate with it.
import { randomBytes } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import { cpus } from 'node:os'
import { resolve } from 'node:path'
import { performance } from 'node:perf_hooks'
import { setTimeout as sleep } from 'node:timers/promises'
import { request } from 'undici'
import { defaults } from '../../config/defaults.js'
import { mintTokens } from '../k6/prepare-tokens.js'
import { PORTRAITS, portraitJpeg } from '../lib/photos.js'
import { quantile } from '../lib/stats.js'
import {
  TX_TYPES, constantRate, surgeArrivalsBetween, timeUnitSeconds, tokensNeeded,
  type Behaviour, type Profile, type TxType
} from '../profiles/index.js'
import { writeReport, type RehearsalSummary } from '../report/render.js'
import { Driver, MAX_IN_FLIGHT, STATUS_CLASSES, createdEventIds, type Created, type Recorder, type StatusClass } from './driver.js'
import { OptionError } from './options.js'
import type { Stack } from './stack.js'

const now = (): number => performance.timeOrigin + performance.now()

/** Arrivals one run may plan at most (bounded load). */
const MAX_ARRIVALS = 2_000_000
/** Registrations read back after the run, spread over all created. */
const READ_BACK_SAMPLE = 500
/** Lateness at which the generator, not the gateway, is said to have fallen behind. */
const BEHIND_NOTE_MS = 100
const CONNECTIONS = 256

type Series = number[]

/** Everything measured, per second since the first planned arrival. */
class Tally implements Recorder {
  readonly start: number
  arrivals: Series = []
  throughput: Series = []
  status: Record<StatusClass, Series> = Object.fromEntries(STATUS_CLASSES.map((c) => [c, []])) as unknown as Record<StatusClass, Series>
  latency = new Map<string, number[][]>()
  totals: Record<StatusClass, number> = Object.fromEntries(STATUS_CLASSES.map((c) => [c, 0])) as unknown as Record<StatusClass, number>
  requests = 0
  tx = 0
  retries = 0
  retrySeries: Series = []
  requestSeries: Series = []
  bareRefusals = 0
  lastTxAt = 0
  lateMax = 0
  lateSamples: number[] = []
  lastAt = 0

  constructor (start: number) { this.start = start }

  #second (at: number): number { return Math.max(0, Math.floor((at - this.start) / 1000)) }
  #add (series: Series, at: number, n = 1): void {
    const s = this.#second(at)
    while (series.length <= s) series.push(0)
    series[s] = (series[s] as number) + n
  }

  arrival (due: number): void { this.#add(this.arrivals, due) }
  request (tx: TxType | 'waiting-room', status: StatusClass, latencyMs: number, at: number): void {
    this.requests++
    this.totals[status]++
    this.#add(this.status[status], at)
    this.#add(this.requestSeries, at)
    let perSecond = this.latency.get(tx)
    if (perSecond === undefined) this.latency.set(tx, perSecond = [])
    const s = this.#second(at)
    while (perSecond.length <= s) perSecond.push([])
    perSecond[s]?.push(latencyMs)
    this.lastAt = Math.max(this.lastAt, at)
  }

  transaction (_tx: TxType, at: number): void { this.tx++; this.#add(this.throughput, at); this.lastTxAt = Math.max(this.lastTxAt, at) }
  retry (at: number): void { this.retries++; this.#add(this.retrySeries, at) }
  refusalWithoutRetryAfter (): void { this.bareRefusals++ }
  late (ms: number): void {
    this.lateMax = Math.max(this.lateMax, ms)
    if (this.lateSamples.length < 1_000_000) this.lateSamples.push(ms)
  }
}

interface MetricsSample {
  at: number
  vendorCalls: number | null
  deliveries: number | null
  lagSeconds: number | null
  cpuSeconds: number | null
  rssBytes: number | null
}

const METRIC_NAMES = ['gateway_vendor_calls_total', 'gateway_delivery_events_total', 'nodejs_eventloop_lag_seconds', 'process_cpu_seconds_total', 'process_resident_memory_bytes']

/** Sums of every series of the named metrics on /metrics; null for a name that is absent. */
async function scrape (url: string): Promise<Record<string, number | null>> {
  const res = await request(`${url}/metrics`, { headersTimeout: 5_000, bodyTimeout: 5_000 })
  const text = await res.body.text()
  if (res.statusCode !== 200) return Object.fromEntries(METRIC_NAMES.map((n) => [n, null]))
  // A labelled counter has no series before its first increment: absent from an answer is 0.
  const sums: Record<string, number | null> = Object.fromEntries(METRIC_NAMES.map((n) => [n, 0]))
  for (const line of text.split('\n')) {
    const match = /^([a-z_]+)(?:\{[^}]*\})? ([0-9.e+-]+)$/.exec(line)
    if (match !== null && (match[1] as string) in sums) sums[match[1] as string] = (sums[match[1] as string] ?? 0) + Number(match[2])
  }
  return sums
}

/** utime + stime of a process of ours, seconds (Linux /proc; clock ticks are 100 a second there). */
async function procCpuSeconds (pid: number): Promise<number | null> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8')
    // Fields after the command name, which is in parentheses and may hold spaces.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    return (Number(fields[11]) + Number(fields[12])) / 100
  } catch {
    return null
  }
}

async function sample (url: string, pid: number | undefined): Promise<MetricsSample> {
  const at = now()
  const m = await scrape(url).catch(() => null)
  const cpu = pid === undefined ? (m?.process_cpu_seconds_total ?? null) : await procCpuSeconds(pid)
  return {
    at,
    vendorCalls: m?.gateway_vendor_calls_total ?? null,
    deliveries: m?.gateway_delivery_events_total ?? null,
    lagSeconds: m?.nodejs_eventloop_lag_seconds ?? null,
    cpuSeconds: cpu,
    rssBytes: m?.process_resident_memory_bytes ?? null
  }
}

/** The planned arrival times, epoch ms, from `start`, over `seconds`. */
export function plan (profile: Profile, scale: number, seconds: number, start: number): Float64Array {
  const arrival = profile.arrival
  if (arrival.kind === 'constant') {
    const perSecond = constantRate(profile, scale) / timeUnitSeconds(arrival.timeUnit)
    const count = Math.floor(perSecond * seconds)
    if (count > MAX_ARRIVALS) throw new OptionError(`the run would plan ${count} arrivals, more than ${MAX_ARRIVALS}: lower --scale or --duration`)
    return Float64Array.from({ length: count }, (_, i) => start + i / perSecond * 1000)
  }
  const counts: number[] = []
  let before = 0
  for (let s = 0; s < seconds; s++) {
    const upTo = Math.round(surgeArrivalsBetween(profile, scale, 0, s + 1))
    counts.push(upTo - before)
    before = upTo
  }
  if (before > MAX_ARRIVALS) throw new OptionError(`the run would plan ${before} arrivals, more than ${MAX_ARRIVALS}: lower --scale or --duration`)
  const times = new Float64Array(before)
  let i = 0
  counts.forEach((n, s) => { for (let k = 0; k < n; k++) times[i++] = start + (s + k / n) * 1000 })
  return times
}

const pct = (values: number[], q: number): number => values.length === 0 ? 0 : quantile(values, q)
const round = (x: number, digits = 0): number => Number(x.toFixed(digits))

/** Reads back a sample of the created registrations: a 2xx write whose registration is gone is lost. */
async function readBack (url: string, created: readonly Created[]): Promise<{ checked: number, missing: Set<string> }> {
  const missing = new Set<string>()
  const step = Math.max(1, Math.floor(created.length / READ_BACK_SAMPLE))
  let checked = 0
  for (let i = 0; i < created.length; i += step) {
    const c = created[i] as Created
    let status = 0
    for (let attempt = 0; attempt < 5; attempt++) {
      const res = await request(`${url}/v1/registrations/${c.registrationId}`, { headers: c.headers }).catch(() => null)
      status = res?.statusCode ?? 0
      await res?.body.dump()
      if (status !== 429 && status !== 503 && status !== 0) break
      await sleep(1_000)
    }
    checked++
    if (status !== 200) missing.add(c.registrationId)
  }
  return { checked, missing }
}

export interface RehearseSettings {
  profile: Profile
  /** The scale named on the rehearsal line (the profile given is already at the rate to drive). */
  scale: number
  seconds: number
  behaviour: Behaviour
  baseUrl: string
  /** Signs the applicants' tokens: the private half of the gateway's GATEWAY_AUTH_PUBLIC_KEY_FILE. */
  privateKeyPem: string
  /** Our own stack (simulators to ask, the gateway's PID), or undefined with --target. */
  stack: Stack | undefined
  /** Epoch ms the request window opens (a surge against our stack); undefined: start in a second. */
  opensAt: number | undefined
  /** Where summary.json and report.html go; default rehearsal-report/<profile>-<time>/. */
  reportDir?: string
  interrupted: () => boolean
  say: (line: string) => void
}

export interface RehearsalOutcome {
  summary: RehearsalSummary
  /** The human table, report paths included. */
  table: string[]
  /** `rehearsal: profile=… verdict=PASS|FAIL` */
  line: string
  /** The generator, not necessarily the gateway, fell behind its schedule by more than 100 ms. */
  generatorBehind: boolean
  arrivalsPerSecond: number
}

/** Runs one rehearsal to its end (or until interrupted) and writes its report. */
export async function rehearse (settings: RehearseSettings): Promise<RehearsalOutcome> {
  const { profile, scale, seconds, behaviour, baseUrl, privateKeyPem, stack, opensAt, reportDir, interrupted, say } = settings
  const provisional = plan(profile, scale, seconds, 0)
  const count = Math.max(1, Math.min(tokensNeeded(profile, scale), provisional.length))
  const runTag = randomBytes(4).toString('hex')
  say(`minting ${count} applicant tokens`)
  const tokens = mintTokens({
    count,
    privateKeyPem,
    issuer: defaults.auth.issuer,
    audience: defaults.auth.audience,
    roleClaim: defaults.auth.roleClaim,
    expiresInSeconds: 3 * 3600,
    runId: runTag
  })
  const photo = (await portraitJpeg(PORTRAITS['medium-well-lit'])).toString('base64')

  const scheduleRes = await request(`${baseUrl}/v1/schedule`, { headers: { authorization: `Bearer ${tokens[0] as string}`, 'x-device-id': `${runTag}-0000-4000-8000-ffffffffffff`, 'x-forwarded-for': '100.127.255.254' } })
  const scheduleText = await scheduleRes.body.text()
  if (scheduleRes.statusCode !== 200) throw new Error(`GET ${baseUrl}/v1/schedule answered ${scheduleRes.statusCode}: is the gateway up, and does it trust the key the tokens are signed with?`)
  const poes = (JSON.parse(scheduleText) as { poes: Array<{ slug: string }> }).poes.map((p) => p.slug)

  const surge = profile.arrival.kind === 'surge' ? profile.arrival : undefined
  let start = now() + 1_000
  if (opensAt !== undefined && surge !== undefined) start = opensAt - surge.leadSeconds * 1000
  if (start - now() > 1_500) say(`the request window opens at ${new Date(opensAt ?? 0).toISOString()}; the surge starts ${surge?.leadSeconds ?? 0} s before it, in ${((start - now()) / 1000).toFixed(0)} s`)
  const arrivals = plan(profile, scale, seconds, start)
  const tally = new Tally(start)
  const driver = new Driver({ profile, behaviour, baseUrl, tokens, photo, runTag, poes, recorder: tally, connections: CONNECTIONS })
  const pid = stack?.gatewayPid

  // Metrics each second, from one second before the start.
  const samples: MetricsSample[] = []
  const first = await sample(baseUrl, pid)
  const sampling = { on: true }
  const sampler = (async () => {
    let k = 0
    while (sampling.on) {
      // In short steps, so that an interrupted run (or one still waiting for its start) ends at once.
      while (sampling.on && start + k * 1000 - now() > 0) await sleep(Math.min(250, start + k * 1000 - now()))
      if (!sampling.on) break
      samples[k] = await sample(baseUrl, pid)
      if (k > 0 && k % 10 === 0) say(`${k} s: ${tally.arrivals.reduce((a, b) => a + b, 0)} arrivals, ${tally.tx} transactions done, ${tally.requests} requests (${STATUS_CLASSES.map((c) => `${c} ${tally.totals[c]}`).join(', ')})`)
      k++
    }
  })()

  const startedAt = new Date(start).toISOString()
  say(`${profile.name} at scale ${scale}, ${behaviour} clients: ${arrivals.length} arrivals over ${seconds} s, at most ${MAX_IN_FLIGHT} in flight over ${CONNECTIONS} connections, to ${baseUrl}`)
  const cpuBefore = process.cpuUsage()
  const ran = await driver.run(arrivals, interrupted)
  const loadEnd = now()
  const generatorCpu = process.cpuUsage(cpuBefore)
  sampling.on = false
  await sampler
  const last = await sample(baseUrl, pid)
  await driver.close()

  // Lost: read back, then the outbox drain at the backend simulator.
  say(`checking ${driver.created.length} created registrations`)
  const back = await readBack(baseUrl, driver.created)
  const lostIds = new Set(back.missing)
  let eventsNote = 'no backend simulator of ours (--target): events not checked'
  if (stack?.backend !== undefined) {
    const ids = createdEventIds(driver.created)
    const byId = new Map(ids.map((id, i) => [id, (driver.created[i] as Created).registrationId]))
    let answer = await stack.backend({ kind: 'expect', ids })
    const deadline = now() + (ids.length / stack.deliveryConfiguredPerSecond * 2 + 30) * 1000
    let lastSaid = now()
    while (answer.arrived < ids.length && now() < deadline && !interrupted()) {
      await sleep(500)
      answer = await stack.backend({ kind: 'progress' })
      if (now() - lastSaid >= 10_000) {
        lastSaid = now()
        say(`${answer.arrived} of ${ids.length} registration.created events at the backend simulator`)
      }
    }
    eventsNote = `${answer.arrived} of ${ids.length} registration.created events at the backend simulator`
    if (answer.arrived < ids.length) {
      // Name each missing one: the simulator gives a sample; count by difference.
      for (const id of answer.missingSample) lostIds.add(byId.get(id) ?? id)
      const unnamed = ids.length - answer.arrived - answer.missingSample.length
      for (let i = 0; i < unnamed; i++) lostIds.add(`unnamed-${i}`)
    }
  }
  const lost = lostIds.size

  // Aggregates.
  const allLatencies: number[] = []
  const byTx = new Map<string, number[]>()
  for (const [tx, perSecond] of tally.latency) {
    const flat = perSecond.flat().sort((a, b) => a - b)
    byTx.set(tx, flat)
    for (const v of flat) allLatencies.push(v)
  }
  allLatencies.sort((a, b) => a - b)
  const p99 = pct(allLatencies, 0.99)
  const errors5xx = tally.totals['5xx'] + tally.totals.no_answer
  const requests = tally.requests
  const lateSorted = tally.lateSamples.sort((a, b) => a - b)
  const behindP99 = pct(lateSorted, 0.99)
  const cpuStart = first.cpuSeconds
  const cpuEnd = last.cpuSeconds
  const cpuMicros = cpuStart !== null && cpuEnd !== null && requests > 0 ? (cpuEnd - cpuStart) / requests * 1e6 : null
  const rssValues = [first, ...samples, last].map((s) => s?.rssBytes).filter((x): x is number => typeof x === 'number')
  const rssMaxMb = rssValues.length > 0 ? round(Math.max(...rssValues) / 1048576, 1) : null

  // SLOs.
  const slos: RehearsalSummary['slos'] = []
  const rate = (n: number): number => requests === 0 ? 0 : n / requests
  const unexpected = rate(errors5xx)
  slos.push({ name: 'unexpected server errors', threshold: `rate<=${profile.slo.unexpectedServerErrorRate}`, value: unexpected.toFixed(5), pass: unexpected <= profile.slo.unexpectedServerErrorRate })
  if (profile.slo.serverErrorRate !== undefined) {
    const server = rate(errors5xx + tally.totals['503_retry_after'])
    slos.push({ name: 'server errors', threshold: `rate<=${profile.slo.serverErrorRate}`, value: server.toFixed(5), pass: server <= profile.slo.serverErrorRate })
  }
  const dropped = arrivals.length - ran.started
  slos.push({ name: 'dropped iterations', threshold: `count<=${profile.slo.droppedIterations}`, value: String(dropped), pass: dropped <= profile.slo.droppedIterations })
  for (const tx of TX_TYPES) {
    const slo = profile.slo.latencyMs[tx]
    const values = byTx.get(tx)
    if (slo === undefined || values === undefined || values.length === 0) continue
    const p95v = pct(values, 0.95)
    const p99v = pct(values, 0.99)
    slos.push({ name: `${tx} p95`, threshold: `<${slo.p95} ms`, value: `${p95v.toFixed(0)} ms`, pass: p95v < slo.p95 })
    slos.push({ name: `${tx} p99`, threshold: `<${slo.p99} ms`, value: `${p99v.toFixed(0)} ms`, pass: p99v < slo.p99 })
  }
  // Every refusal says when to come back; a bare one invites the at-once retry of 2023.
  slos.push({ name: 'refusals without Retry-After', threshold: 'count=0', value: String(tally.bareRefusals), pass: tally.bareRefusals === 0 })
  slos.push({ name: 'lost acknowledged writes', threshold: '0', value: String(lost), pass: lost === 0 })
  const verdict: 'PASS' | 'FAIL' = slos.every((s) => s.pass) && requests > 0 && !interrupted() ? 'PASS' : 'FAIL'

  // Series, one value a second.
  const length = Math.max(seconds, Math.ceil((Math.max(tally.lastAt, loadEnd) - start) / 1000))
  const fill = (series: Series): Series => Array.from({ length }, (_, i) => series[i] ?? 0)
  const delta = (pick: (s: MetricsSample) => number | null): number[] | null => {
    if (samples.length === 0 || samples.every((s) => s === undefined || pick(s) === null)) return null
    return Array.from({ length }, (_, i) => {
      const a = i === 0 ? first : samples[i - 1]
      const b = samples[i] ?? (i === samples.length ? last : undefined)
      const x = a === undefined ? null : pick(a)
      const y = b === undefined ? null : pick(b)
      return x === null || y === null ? 0 : round(Math.max(0, y - x), 3)
    })
  }
  const latency: RehearsalSummary['series']['latency'] = {}
  for (const [tx, perSecond] of tally.latency) {
    const sorted = Array.from({ length }, (_, i) => (perSecond[i] ?? []).slice().sort((a, b) => a - b))
    latency[tx] = {
      p50: sorted.map((v) => round(pct(v, 0.5), 1)),
      p95: sorted.map((v) => round(pct(v, 0.95), 1)),
      p99: sorted.map((v) => round(pct(v, 0.99), 1))
    }
  }
  const lagSeries = samples.some((s) => s?.lagSeconds !== null && s !== undefined)
    ? Array.from({ length }, (_, i) => round((samples[i]?.lagSeconds ?? 0) * 1000, 2))
    : null
  // A constant-rate profile's transactions each belong to an arrival of the planned seconds: its
  // rate is theirs over those seconds (a straggler answered late does not lower it; the latency
  // objectives judge it). A surge's journeys and retries run on past its arrivals: its rate is over
  // the time they took.
  const elapsed = profile.arrival.kind === 'constant' ? seconds : Math.max(seconds, (tally.lastTxAt - start) / 1000)
  const txPerHour = Math.round(tally.tx / elapsed * 3600)
  const generatorMicros = requests > 0 ? (generatorCpu.user + generatorCpu.system) / requests : null
  const summary: RehearsalSummary = {
    profile: profile.name,
    scale,
    client: behaviour,
    startedAt,
    // The span the series cover: the planned seconds, or more when answers came after them.
    durationSeconds: length,
    target: baseUrl,
    machine: `${cpus().length} x ${cpus()[0]?.model ?? 'cpu'}, node ${process.version}`,
    totals: {
      tx: tally.tx,
      requests,
      txPerHour,
      p99Ms: round(p99, 1),
      errors5xx,
      lost,
      retries: tally.retries,
      refusals429: tally.totals['429'],
      shed503: tally.totals['503_retry_after'],
      refusalsWithoutRetryAfter: tally.bareRefusals,
      behindScheduleMs: round(tally.lateMax, 1)
    },
    gateway: { cpuMicrosPerRequest: cpuMicros === null ? null : round(cpuMicros, 0), rssMaxMb },
    generator: { cpuMicrosPerRequest: generatorMicros === null ? null : round(generatorMicros, 0), behindScheduleP99Ms: round(behindP99, 1) },
    slos,
    verdict,
    series: {
      t: Array.from({ length }, (_, i) => i),
      arrivals: fill(tally.arrivals),
      requests: fill(tally.requestSeries),
      retries: fill(tally.retrySeries),
      throughput: fill(tally.throughput),
      status: Object.fromEntries(STATUS_CLASSES.map((c) => [c, fill(tally.status[c])])),
      latency,
      vendorCallsPerSecond: delta((s) => s.vendorCalls),
      vendorContractPerSecond: stack?.vendorContractPerSecond ?? null,
      deliveriesPerSecond: delta((s) => s.deliveries),
      deliveryConfiguredPerSecond: stack?.deliveryConfiguredPerSecond ?? null,
      eventLoopLagMs: lagSeries
    }
  }

  // The human table.
  const out: string[] = []
  out.push(`machine: ${summary.machine}; gateway ${baseUrl}${pid === undefined ? '' : ` (pid ${pid})`}`)
  out.push(`profile ${profile.name}, scale ${scale}, ${behaviour} clients, ${seconds} s, ${arrivals.length} arrivals planned, ${ran.started} started`)
  out.push('| tx | requests | p50 ms | p95 ms | p99 ms | SLO p95/p99 ms |')
  out.push('| --- | --- | --- | --- | --- | --- |')
  for (const [tx, values] of [...byTx].sort()) {
    const slo = profile.slo.latencyMs[tx as TxType]
    out.push(`| ${tx} | ${values.length} | ${pct(values, 0.5).toFixed(1)} | ${pct(values, 0.95).toFixed(1)} | ${pct(values, 0.99).toFixed(1)} | ${slo === undefined ? '-' : `${slo.p95}/${slo.p99}`} |`)
  }
  out.push(`status: ${STATUS_CLASSES.map((c) => `${c}=${tally.totals[c]}`).join(' ')}; retries=${tally.retries}`)
  out.push(`transactions: ${tally.tx} completed (${txPerHour} an hour); requests ${requests}`)
  out.push(`generator: ${generatorMicros === null ? 'n/a' : `${generatorMicros.toFixed(0)} µs`} of CPU a request; behind schedule p99 ${behindP99.toFixed(1)} ms, max ${tally.lateMax.toFixed(1)} ms${tally.lateMax > BEHIND_NOTE_MS ? ' — the GENERATOR fell behind its schedule (its own event loop or its in-flight bound), not necessarily the gateway; latencies still count from the planned times' : ' (kept its schedule)'}`)
  out.push(`gateway: CPU ${cpuMicros === null ? 'n/a' : `${cpuMicros.toFixed(0)} µs`} a request, RSS max ${rssMaxMb ?? 'n/a'} MB, event-loop lag max ${lagSeries === null ? 'n/a' : `${Math.max(...lagSeries).toFixed(1)} ms`}`)
  const vendorCalls = summary.series.vendorCallsPerSecond
  const deliveries = summary.series.deliveriesPerSecond
  out.push(`vendor calls: ${vendorCalls === null ? 'n/a' : `${vendorCalls.reduce((a, b) => a + b, 0)} (max ${Math.max(...vendorCalls)}/s, contract ${stack?.vendorContractPerSecond ?? '?'}/s)`}; deliveries during the run: ${deliveries === null ? 'n/a' : `${deliveries.reduce((a, b) => a + b, 0)} (max ${Math.max(...deliveries)}/s, configured ${stack?.deliveryConfiguredPerSecond ?? '?'}/s)`}`)
  out.push(`lost: read back ${back.checked} of ${driver.created.length} created registrations (${back.missing.size} missing); ${eventsNote}`)
  out.push('| SLO | threshold | value | pass |')
  out.push('| --- | --- | --- | --- |')
  for (const s of slos) out.push(`| ${s.name} | ${s.threshold} | ${s.value} | ${s.pass ? 'ok' : 'FAILED'} |`)
  if (interrupted()) out.push('interrupted: verdict FAIL (the profile was not run to its end)')

  const stamp = startedAt.replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z')
  const dir = reportDir ?? resolve('rehearsal-report', `${profile.name}-${stamp}`)
  const files = await writeReport(dir, summary)
  out.push(`report: ${files.reportFile}`)
  out.push(`summary: ${files.summaryFile}`)
  const line = `rehearsal: profile=${profile.name} scale=${scale} tx=${tally.tx} tx_per_h=${txPerHour} p99_ms=${Math.round(p99)} errors_5xx=${errors5xx} lost=${lost} verdict=${verdict}`
  return { summary, table: out, line, generatorBehind: tally.lateMax > BEHIND_NOTE_MS, arrivalsPerSecond: arrivals.length / seconds }
}
