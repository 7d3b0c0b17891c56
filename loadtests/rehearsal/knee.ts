// The capacity knee: `npm run rehearsal -- --find-knee` runs a constant-rate profile (steady-480k
// by default, its mix and SLOs) step after step against one stack, raising the arrival rate by
// half each time until a step breaks an SLO, then halving the gap between the highest passing
// and the lowest failing rate until they are within 5%. The knee is the highest passing rate.
// Every step is a full rehearsal (its own report, its own lost check, so each step drains the
// outbox before the next one starts). The search itself is a pure function, nextRate().
import { mkdir, writeFile } from 'node:fs/promises'
import { join, relative, resolve } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { timeUnitSeconds, type Behaviour, type Profile } from '../profiles/index.js'
import { renderKnee, type KneeSummary, type KneeStep } from '../report/knee.js'
import { rehearse, type RehearseSettings } from './rehearse.js'

/** Each rate is the last passing one times this, until a step fails. */
export const KNEE_FACTOR = 1.5
/** The search ends when the lowest failing rate is within this share above the highest passing. */
export const KNEE_RESOLUTION = 0.05
/** No step drives more than this (arrivals a second): the run stays bounded whatever the machine. */
export const KNEE_MAX_PER_SECOND = 5_000
/** The 2023 pre-launch test's failing level, 480,000 transactions an hour. */
export const REFERENCE_PER_HOUR = 480_000
/** A pause between steps, so that one step's tail does not weigh on the next. */
const SETTLE_MS = 5_000

export interface KneeProbe {
  /** Arrivals a second the step was driven at. */
  ratePerSecond: number
  pass: boolean
}

export interface KneeBounds {
  start: number
  maxSteps: number
  maxRate: number
  factor?: number
  resolution?: number
}

/** The highest passing rate below the lowest failing one, and that failing rate. */
export function bracket (probes: readonly KneeProbe[]): { pass: KneeProbe | undefined, fail: KneeProbe | undefined } {
  let fail: KneeProbe | undefined
  for (const p of probes) if (!p.pass && (fail === undefined || p.ratePerSecond < fail.ratePerSecond)) fail = p
  let pass: KneeProbe | undefined
  for (const p of probes) {
    if (p.pass && (fail === undefined || p.ratePerSecond < fail.ratePerSecond) && (pass === undefined || p.ratePerSecond > pass.ratePerSecond)) pass = p
  }
  return { pass, fail }
}

/** The next rate to try, or null when the knee is bracketed within the resolution or a bound is reached. */
export function nextRate (probes: readonly KneeProbe[], bounds: KneeBounds): number | null {
  const factor = bounds.factor ?? KNEE_FACTOR
  const resolution = bounds.resolution ?? KNEE_RESOLUTION
  if (probes.length >= bounds.maxSteps) return null
  if (probes.length === 0) return Math.min(bounds.start, bounds.maxRate)
  const { pass, fail } = bracket(probes)
  if (fail === undefined) {
    // Everything passed so far: up by the factor, to the bound at most.
    const last = pass as KneeProbe
    const next = Math.min(last.ratePerSecond * factor, bounds.maxRate)
    return next > last.ratePerSecond ? next : null
  }
  if (pass === undefined) {
    // Even the first step failed: down, to a sixteenth of the start at least.
    const next = fail.ratePerSecond / factor
    return next >= bounds.start / 16 ? next : null
  }
  if (fail.ratePerSecond <= pass.ratePerSecond * (1 + resolution)) return null
  // The geometric middle: rates are searched by ratio, not by difference.
  return Math.sqrt(pass.ratePerSecond * fail.ratePerSecond)
}

/** The profile at `perSecond` arrivals a second, in its own time unit. */
export function atRate (profile: Profile, perSecond: number): Profile {
  if (profile.arrival.kind !== 'constant') throw new Error(`${profile.name} is not a constant-rate profile`)
  return { ...profile, arrival: { ...profile.arrival, rate: Math.max(1, Math.round(perSecond * timeUnitSeconds(profile.arrival.timeUnit))) } }
}

export interface KneeSettings extends Omit<RehearseSettings, 'profile' | 'scale' | 'opensAt' | 'reportDir'> {
  profile: Profile
  behaviour: Behaviour
  /** Arrivals a second of the first step. */
  startPerSecond: number
  maxSteps: number
  machine: string
}

export interface KneeOutcome {
  /** The step table and where the report is. */
  table: string[]
  /** `knee: tx_per_s=… tx_per_h=… x480k=… cpu_us_per_req=…` */
  line: string
  /** A pass with a failing step above it within the resolution, or a bound reached. */
  found: boolean
}

const fixed = (x: number, digits: number): string => x.toFixed(digits)
const grouped = (x: number): string => Math.round(x).toLocaleString('en-US')

/** Steps the rate until the knee is bracketed; writes rehearsal-report/knee-<time>/ (knee.json, index.html, a report per step). */
export async function findKnee (settings: KneeSettings): Promise<KneeOutcome> {
  const { profile, say, interrupted } = settings
  const startedAt = new Date().toISOString()
  const stamp = startedAt.replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z')
  const dir = resolve('rehearsal-report', `knee-${profile.name}-${stamp}`)
  await mkdir(dir, { recursive: true })
  const bounds: KneeBounds = { start: settings.startPerSecond, maxSteps: settings.maxSteps, maxRate: KNEE_MAX_PER_SECOND }
  const probes: KneeProbe[] = []
  const steps: KneeStep[] = []
  for (let rate = nextRate(probes, bounds); rate !== null && !interrupted(); rate = nextRate(probes, bounds)) {
    const n = steps.length + 1
    const shown = fixed(rate, 1)
    say(`knee step ${n}: ${shown} arrivals/s (${grouped(rate * 3600)} an hour, ${fixed(rate * 3600 / REFERENCE_PER_HOUR, 2)} x 480k) for ${settings.seconds} s`)
    const stepDir = join(dir, `step-${String(n).padStart(2, '0')}-${shown.replace('.', '_')}-per-s`)
    const outcome = await rehearse({ ...settings, profile: atRate(profile, rate), scale: 1, opensAt: undefined, reportDir: stepDir })
    const s = outcome.summary
    const pass = s.verdict === 'PASS'
    probes.push({ ratePerSecond: rate, pass })
    const step: KneeStep = {
      arrivalsPerSecond: Number(fixed(rate, 1)),
      txPerSecond: Number(fixed(s.totals.txPerHour / 3600, 1)),
      txPerHour: s.totals.txPerHour,
      p99Ms: s.totals.p99Ms,
      errors5xx: s.totals.errors5xx,
      lost: s.totals.lost,
      gatewayCpuMicrosPerRequest: s.gateway.cpuMicrosPerRequest,
      generatorCpuMicrosPerRequest: s.generator.cpuMicrosPerRequest,
      generatorBehind: outcome.generatorBehind,
      failed: s.slos.filter((x) => !x.pass).map((x) => `${x.name} ${x.value} (${x.threshold})`),
      verdict: s.verdict,
      report: relative(dir, join(stepDir, 'report.html'))
    }
    steps.push(step)
    say(`knee step ${n}: ${s.verdict}, ${step.txPerSecond} tx/s, p99 ${step.p99Ms} ms, gateway ${step.gatewayCpuMicrosPerRequest ?? 'n/a'} µs CPU a request, generator ${step.generatorCpuMicrosPerRequest ?? 'n/a'} µs${step.failed.length > 0 ? `; failed: ${step.failed.join('; ')}` : ''}${step.generatorBehind ? '; the GENERATOR fell behind its schedule' : ''}`)
    if (nextRate(probes, bounds) !== null && !interrupted()) await sleep(SETTLE_MS)
  }

  const { pass, fail } = bracket(probes)
  const passStep = pass === undefined ? undefined : steps[probes.indexOf(pass)]
  const failStep = fail === undefined ? undefined : steps[probes.indexOf(fail)]
  const found = passStep !== undefined && failStep !== undefined && !interrupted()
  let limitedBy: KneeSummary['limitedBy'] = 'not-found'
  if (found) limitedBy = failStep.generatorBehind ? 'generator' : 'gateway'
  const summary: KneeSummary = {
    profile: profile.name,
    client: settings.behaviour,
    stepSeconds: settings.seconds,
    startedAt,
    machine: settings.machine,
    target: settings.baseUrl,
    steps,
    knee: passStep ?? null,
    firstFailing: failStep ?? null,
    limitedBy
  }
  await writeFile(join(dir, 'knee.json'), `${JSON.stringify(summary, null, 2)}\n`)
  await writeFile(join(dir, 'index.html'), renderKnee(summary))

  const table: string[] = []
  table.push(`knee search: ${profile.name} mix and SLOs, ${settings.behaviour} clients, ${settings.seconds} s a step, ${steps.length} steps; ${settings.machine}`)
  table.push('| step | arrivals/s | tx/s | x 480k | p99 ms | 5xx | lost | gateway µs CPU/req | generator µs CPU/req | verdict | failed |')
  table.push('| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |')
  steps.forEach((s, i) => {
    table.push(`| ${i + 1} | ${s.arrivalsPerSecond} | ${s.txPerSecond} | ${fixed(s.txPerHour / REFERENCE_PER_HOUR, 2)} | ${s.p99Ms} | ${s.errors5xx} | ${s.lost} | ${s.gatewayCpuMicrosPerRequest ?? 'n/a'} | ${s.generatorCpuMicrosPerRequest ?? 'n/a'} | ${s.verdict}${s.generatorBehind ? ' (generator behind)' : ''} | ${s.failed.join('; ') || '-'} |`)
  })
  if (passStep === undefined) {
    table.push('no step passed: the knee is below the first rate tried (lower --scale to start lower)')
  } else if (failStep === undefined) {
    table.push(`no SLO broke in ${steps.length} steps up to ${passStep.arrivalsPerSecond} arrivals/s: the knee is above it (a lower bound; more --steps to go on)`)
  } else {
    table.push(`knee: ${passStep.arrivalsPerSecond} arrivals/s passed, ${failStep.arrivalsPerSecond} failed (${failStep.failed.join('; ')})`)
    if (limitedBy === 'generator') table.push('the failing step had the GENERATOR behind its schedule by more than 100 ms: on this machine the load generator, not necessarily the gateway, set the knee; the gateway CPU per request is the fair figure')
  }
  table.push(`knee report: ${join(dir, 'index.html')}`)
  const tx = passStep?.txPerSecond ?? 0
  const perHour = passStep?.txPerHour ?? 0
  const cpu = passStep?.gatewayCpuMicrosPerRequest
  const line = `knee: tx_per_s=${fixed(tx, 1)} tx_per_h=${perHour} x480k=${fixed(perHour / REFERENCE_PER_HOUR, 2)} cpu_us_per_req=${cpu === null || cpu === undefined ? 'n/a' : String(cpu)}`
  return { table, line, found }
}
