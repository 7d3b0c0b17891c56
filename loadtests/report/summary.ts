// The summary of one rehearsal run: what the Node runner hands to the report, and what the report
// keeps beside it as summary.json. Validated with exact messages, so that a runner bug shows up as
// "summary.series.arrivals must have one value per second (60), got 59" and not as a blank chart.

/** Totals over the whole run. */
export interface RehearsalTotals {
  tx: number
  requests: number
  txPerHour: number
  p99Ms: number
  errors5xx: number
  lost: number
  retries: number
  refusals429: number
  shed503: number
  /** 429 and 503 answers without Retry-After: every refusal must say when to come back, so 0. */
  refusalsWithoutRetryAfter: number
  /** How far the load generator fell behind its arrival schedule at worst, ms (0: on time). */
  behindScheduleMs: number
}

/** Percentiles of one transaction type, ms, one value per second (null: no answer that second). */
export interface LatencySeries {
  p50: Array<number | null>
  p95: Array<number | null>
  p99: Array<number | null>
}

/** Per-second series; every array has durationSeconds values. */
export interface RehearsalSeries {
  /** Seconds since start, one point per second, counting up by 1. */
  t: number[]
  arrivals: number[]
  throughput: number[]
  /** Requests sent per second, retries and waiting-room polls included (null: not counted). */
  requests: number[] | null
  /** Retries sent per second: the retry storm (null: not counted). */
  retries: number[] | null
  /** Responses per second by status class, e.g. '2xx', '429', '503', '5xx', 'other'. */
  status: Record<string, number[]>
  /** Per transaction type. */
  latency: Record<string, LatencySeries>
  vendorCallsPerSecond: number[] | null
  vendorContractPerSecond: number | null
  deliveriesPerSecond: number[] | null
  deliveryConfiguredPerSecond: number | null
  eventLoopLagMs: number[] | null
}

/** One rehearsal run, as the runner reports it. */
export interface RehearsalSummary {
  profile: string
  scale: number
  client: 'naive' | 'polite'
  startedAt: string
  durationSeconds: number
  target: string
  /** e.g. "2 x AMD EPYC, node v20.20.2" */
  machine: string
  totals: RehearsalTotals
  gateway: { cpuMicrosPerRequest: number | null, rssMaxMb: number | null }
  /** The load generator's own cost and punctuality: on a shared machine it competes with the gateway. */
  generator: { cpuMicrosPerRequest: number | null, behindScheduleP99Ms: number | null }
  slos: Array<{ name: string, threshold: string, value: string, pass: boolean }>
  verdict: 'PASS' | 'FAIL'
  series: RehearsalSeries
}

/** A summary that breaks a rule; the message names the field and the rule. */
export class SummaryError extends Error {
  constructor (message: string) {
    super(message)
    this.name = 'SummaryError'
  }
}

type Obj = Record<string, unknown>

const TOTALS = ['tx', 'requests', 'txPerHour', 'p99Ms', 'errors5xx', 'lost', 'retries', 'refusals429', 'shed503', 'refusalsWithoutRetryAfter', 'behindScheduleMs'] as const
const TOP = ['profile', 'scale', 'client', 'startedAt', 'durationSeconds', 'target', 'machine', 'totals', 'gateway', 'generator', 'slos', 'verdict', 'series']
const SERIES = ['t', 'arrivals', 'throughput', 'requests', 'retries', 'status', 'latency', 'vendorCallsPerSecond', 'vendorContractPerSecond', 'deliveriesPerSecond', 'deliveryConfiguredPerSecond', 'eventLoopLagMs']
// ISO 8601 date-time with a zone, as Date.prototype.toISOString writes it (offsets allowed too).
const DATE_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/

function fail (message: string): never {
  throw new SummaryError(message)
}

function isObject (value: unknown): value is Obj {
  return value !== null && typeof value === 'object' && !Array.isArray(value)
}

function object (path: string, value: unknown, allowed: readonly string[]): Obj {
  if (!isObject(value)) fail(`${path} must be an object`)
  for (const key of Object.keys(value)) {
    if (!allowed.includes(key)) fail(`${path}.${key} is not a known field`)
  }
  return value
}

// An object whose keys are data (status classes, transaction types), not field names.
function record (path: string, value: unknown): Obj {
  if (!isObject(value)) fail(`${path} must be an object`)
  return value
}

function text (path: string, value: unknown): string {
  if (typeof value !== 'string' || value.trim() === '') fail(`${path} must be a non-empty string`)
  return value
}

function nonNegative (path: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) fail(`${path} must be a non-negative number`)
  return value
}

// Absent and null mean the same: the runner had no such measurement.
function nonNegativeOrNull (path: string, value: unknown): number | null {
  if (value === undefined || value === null) return null
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) fail(`${path} must be a non-negative number or null`)
  return value
}

function perSecond (path: string, value: unknown, seconds: number, nullable: true): Array<number | null>
function perSecond (path: string, value: unknown, seconds: number, nullable: false): number[]
function perSecond (path: string, value: unknown, seconds: number, nullable: boolean): Array<number | null> {
  if (!Array.isArray(value)) fail(`${path} must be an array`)
  if (value.length !== seconds) fail(`${path} must have one value per second (${seconds}), got ${value.length}`)
  value.forEach((v: unknown, i) => {
    if (nullable && v === null) return
    if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) fail(`${path}[${i}] must be a non-negative number${nullable ? ' or null' : ''}`)
  })
  return [...value] as Array<number | null>
}

// Absent, null and [] all mean "not measured": the chart is left out.
function optionalPerSecond (path: string, value: unknown, seconds: number): number[] | null {
  if (value === undefined || value === null || (Array.isArray(value) && value.length === 0)) return null
  return perSecond(path, value, seconds, false)
}

function validateSeries (value: unknown, seconds: number): RehearsalSeries {
  const s = object('summary.series', value, SERIES)
  const t = perSecond('summary.series.t', s.t, seconds, false)
  t.forEach((v, i) => {
    if (v !== t[0] as number + i) fail(`summary.series.t must count seconds up by 1: t[${i}] is ${v}, expected ${t[0] as number + i}`)
  })
  const status = record('summary.series.status', s.status)
  if (Object.keys(status).length === 0) fail('summary.series.status must have at least one status class')
  const latencyIn = record('summary.series.latency', s.latency)
  const latency: Record<string, LatencySeries> = {}
  for (const [tx, entry] of Object.entries(latencyIn)) {
    const path = `summary.series.latency[${JSON.stringify(tx)}]`
    const l = object(path, entry, ['p50', 'p95', 'p99'])
    latency[tx] = {
      p50: perSecond(`${path}.p50`, l.p50, seconds, true),
      p95: perSecond(`${path}.p95`, l.p95, seconds, true),
      p99: perSecond(`${path}.p99`, l.p99, seconds, true)
    }
  }
  return {
    t,
    arrivals: perSecond('summary.series.arrivals', s.arrivals, seconds, false),
    throughput: perSecond('summary.series.throughput', s.throughput, seconds, false),
    requests: optionalPerSecond('summary.series.requests', s.requests, seconds),
    retries: optionalPerSecond('summary.series.retries', s.retries, seconds),
    status: Object.fromEntries(Object.entries(status).map(([k, v]) => [k, perSecond(`summary.series.status[${JSON.stringify(k)}]`, v, seconds, false)])),
    latency,
    vendorCallsPerSecond: optionalPerSecond('summary.series.vendorCallsPerSecond', s.vendorCallsPerSecond, seconds),
    vendorContractPerSecond: nonNegativeOrNull('summary.series.vendorContractPerSecond', s.vendorContractPerSecond),
    deliveriesPerSecond: optionalPerSecond('summary.series.deliveriesPerSecond', s.deliveriesPerSecond, seconds),
    deliveryConfiguredPerSecond: nonNegativeOrNull('summary.series.deliveryConfiguredPerSecond', s.deliveryConfiguredPerSecond),
    eventLoopLagMs: optionalPerSecond('summary.series.eventLoopLagMs', s.eventLoopLagMs, seconds)
  }
}

/**
 * Checks a parsed summary and returns a normalised copy (absent optional series become null);
 * throws SummaryError with `summary.<field> <rule>`.
 */
export function validateSummary (x: unknown): RehearsalSummary {
  const s = object('summary', x, TOP)
  const profile = text('summary.profile', s.profile)
  if (typeof s.scale !== 'number' || !Number.isFinite(s.scale) || s.scale <= 0) fail('summary.scale must be a positive number')
  if (s.client !== 'naive' && s.client !== 'polite') fail('summary.client must be naive or polite')
  const startedAt = text('summary.startedAt', s.startedAt)
  if (!DATE_TIME.test(startedAt) || Number.isNaN(Date.parse(startedAt))) fail('summary.startedAt must be an ISO 8601 date-time with a zone, e.g. 2026-01-09T08:59:30.000Z')
  const seconds = s.durationSeconds
  if (typeof seconds !== 'number' || !Number.isInteger(seconds) || seconds < 1) fail('summary.durationSeconds must be a positive integer (whole seconds, one per series point)')
  const totalsIn = object('summary.totals', s.totals, TOTALS)
  const totals = Object.fromEntries(TOTALS.map((k) => [k, nonNegative(`summary.totals.${k}`, totalsIn[k])])) as unknown as RehearsalTotals
  const gateway = object('summary.gateway', s.gateway, ['cpuMicrosPerRequest', 'rssMaxMb'])
  // Absent in a summary written before the generator was measured: not measured.
  const generator = s.generator === undefined ? {} : object('summary.generator', s.generator, ['cpuMicrosPerRequest', 'behindScheduleP99Ms'])
  if (!Array.isArray(s.slos)) fail('summary.slos must be an array')
  const slos = s.slos.map((entry: unknown, i) => {
    const path = `summary.slos[${i}]`
    const slo = object(path, entry, ['name', 'threshold', 'value', 'pass'])
    if (typeof slo.threshold !== 'string') fail(`${path}.threshold must be a string`)
    if (typeof slo.value !== 'string') fail(`${path}.value must be a string`)
    if (typeof slo.pass !== 'boolean') fail(`${path}.pass must be true or false`)
    return { name: text(`${path}.name`, slo.name), threshold: slo.threshold, value: slo.value, pass: slo.pass }
  })
  if (s.verdict !== 'PASS' && s.verdict !== 'FAIL') fail('summary.verdict must be PASS or FAIL')
  return {
    profile,
    scale: s.scale,
    client: s.client,
    startedAt,
    durationSeconds: seconds,
    target: text('summary.target', s.target),
    machine: text('summary.machine', s.machine),
    totals,
    gateway: {
      cpuMicrosPerRequest: nonNegativeOrNull('summary.gateway.cpuMicrosPerRequest', gateway.cpuMicrosPerRequest),
      rssMaxMb: nonNegativeOrNull('summary.gateway.rssMaxMb', gateway.rssMaxMb)
    },
    generator: {
      cpuMicrosPerRequest: nonNegativeOrNull('summary.generator.cpuMicrosPerRequest', generator.cpuMicrosPerRequest),
      behindScheduleP99Ms: nonNegativeOrNull('summary.generator.behindScheduleP99Ms', generator.behindScheduleP99Ms)
    },
    slos,
    verdict: s.verdict,
    series: validateSeries(s.series, seconds)
  }
}
