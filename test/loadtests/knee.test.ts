// The knee search: which rate comes next, when it stops, what it calls the knee, and the page it
// writes. The search is run here against a synthetic capacity (a step passes below it): the
// end-to-end run is in rehearsal.test.ts and the figures come from `npm run rehearsal -- --find-knee`.
import { describe, expect, it } from 'vitest'
import { loadProfile, constantRate } from '../../loadtests/profiles/index.js'
import { renderKnee, type KneeStep, type KneeSummary } from '../../loadtests/report/knee.js'
import { KNEE_MAX_PER_SECOND, atRate, bracket, nextRate, type KneeBounds, type KneeProbe } from '../../loadtests/rehearsal/knee.js'

/** Runs the search against a machine whose SLOs break above `capacity` arrivals a second. */
function search (capacity: number, bounds: KneeBounds): KneeProbe[] {
  const probes: KneeProbe[] = []
  for (let rate = nextRate(probes, bounds); rate !== null; rate = nextRate(probes, bounds)) probes.push({ ratePerSecond: rate, pass: rate <= capacity })
  return probes
}

const rates = (probes: KneeProbe[]): number[] => probes.map((p) => Number(p.ratePerSecond.toFixed(1)))

describe('nextRate', () => {
  it('starts at the start, rises by half while steps pass, then halves the gap (by ratio) until it is within 5%', () => {
    const probes = search(400, { start: 133.3, maxSteps: 20, maxRate: KNEE_MAX_PER_SECOND })
    // 133.3, 200, 300, 449.9 (fails), then the geometric middle of 300 and 449.9, and so on.
    expect(rates(probes)).toEqual([133.3, 200, 299.9, 449.9, 367.3, 406.5, 386.4, 396.3])
    const { pass, fail } = bracket(probes)
    expect(pass?.ratePerSecond).toBeCloseTo(396.3, 1)
    expect(fail?.ratePerSecond).toBeCloseTo(406.5, 1)
    expect((fail as KneeProbe).ratePerSecond / (pass as KneeProbe).ratePerSecond).toBeLessThanOrEqual(1.05)
  })

  it('goes down when even the first step fails, and stops a sixteenth below the start', () => {
    expect(rates(search(50, { start: 133.3, maxSteps: 20, maxRate: 5000 }))).toEqual([133.3, 88.9, 59.2, 39.5, 48.4, 53.5, 50.9, 49.6])
    const none = search(1, { start: 133.3, maxSteps: 20, maxRate: 5000 })
    expect(none.every((p) => !p.pass)).toBe(true)
    expect(Math.min(...none.map((p) => p.ratePerSecond))).toBeGreaterThanOrEqual(133.3 / 16)
    expect(bracket(none).pass).toBe(undefined)
  })

  it('stops at the step limit and at the rate bound, leaving the knee unbracketed', () => {
    const limited = search(10_000, { start: 100, maxSteps: 3, maxRate: 5000 })
    expect(rates(limited)).toEqual([100, 150, 225])
    expect(bracket(limited).fail).toBe(undefined)
    const bounded = search(10_000, { start: 2000, maxSteps: 20, maxRate: 5000 })
    expect(rates(bounded)).toEqual([2000, 3000, 4500, 5000])
  })

  it('takes the highest pass below the lowest failure when noise makes the results not monotone', () => {
    const probes: KneeProbe[] = [
      { ratePerSecond: 200, pass: true },
      { ratePerSecond: 300, pass: false },
      { ratePerSecond: 245, pass: true },
      { ratePerSecond: 271, pass: false },
      { ratePerSecond: 320, pass: true }
    ]
    expect(bracket(probes)).toEqual({ pass: probes[2], fail: probes[3] })
    expect(nextRate(probes, { start: 200, maxSteps: 10, maxRate: 5000 })).toBeCloseTo(Math.sqrt(245 * 271), 6)
  })
})

describe('atRate', () => {
  it('sets a constant profile to a rate a second in its own time unit, and refuses a surge', () => {
    const steady = loadProfile('steady-480k')
    const faster = atRate(steady, 400)
    expect(faster.arrival).toMatchObject({ kind: 'constant', rate: 1_440_000, timeUnit: '1h' })
    expect(constantRate(faster, 1) / 3600).toBe(400)
    expect(faster.mix).toEqual(steady.mix)
    expect(faster.slo).toEqual(steady.slo)
    expect(steady.arrival).toMatchObject({ rate: 480_000 })
    expect(() => atRate(loadProfile('surge-9am'), 10)).toThrow('surge-9am is not a constant-rate profile')
  })
})

function step (arrivals: number, verdict: 'PASS' | 'FAIL', extra: Partial<KneeStep> = {}): KneeStep {
  return {
    arrivalsPerSecond: arrivals,
    txPerSecond: arrivals,
    txPerHour: arrivals * 3600,
    p99Ms: verdict === 'PASS' ? 40 : 2400,
    errors5xx: 0,
    lost: 0,
    gatewayCpuMicrosPerRequest: 1800,
    generatorCpuMicrosPerRequest: 400,
    generatorBehind: false,
    failed: verdict === 'PASS' ? [] : ['registration p99 2400 ms (<1500 ms)'],
    verdict,
    report: `step-${arrivals}/report.html`,
    ...extra
  }
}

describe('renderKnee', () => {
  const base: KneeSummary = {
    profile: 'steady-480k',
    client: 'polite',
    stepSeconds: 30,
    startedAt: '2026-11-24T10:00:00.000Z',
    machine: '2 x AMD EPYC, node v20.20.2',
    target: 'http://127.0.0.1:41234',
    steps: [step(133.3, 'PASS'), step(200, 'PASS'), step(300, 'FAIL')],
    knee: step(200, 'PASS'),
    firstFailing: step(300, 'FAIL'),
    limitedBy: 'gateway'
  }

  it('states the knee as a multiple of 480k an hour, one row per step linking its report', () => {
    const html = renderKnee(base)
    expect(html).toContain('<p id="knee" class="knee" data-found="true" data-tx-per-s="200">Knee: 200 transactions/s, 720,000 an hour, 1.50 x 480k/h, 1,800 µs of gateway CPU a request</p>')
    expect([...html.matchAll(/<tr data-step="(\d+)" data-verdict="(PASS|FAIL)">/g)].map((m) => `${m[1]}:${m[2]}`)).toEqual(['1:PASS', '2:PASS', '3:FAIL'])
    expect(html).toContain('<a href="step-300/report.html">report</a>')
    expect(html).toContain('registration p99 2400 ms (&lt;1500 ms)')
    expect(html).not.toContain('class="note"')
  })

  it('says when the generator set the knee, and when no step passed or none failed', () => {
    expect(renderKnee({ ...base, limitedBy: 'generator' })).toContain('the generator, not necessarily the gateway, set the knee')
    expect(renderKnee({ ...base, steps: [step(133.3, 'FAIL')], knee: null, firstFailing: step(133.3, 'FAIL'), limitedBy: 'not-found' }))
      .toContain('<p id="knee" class="knee" data-found="false">No step passed: the knee is below the first rate tried.</p>')
    expect(renderKnee({ ...base, steps: [step(133.3, 'PASS')], knee: step(133.3, 'PASS'), firstFailing: null, limitedBy: 'not-found' }))
      .toContain('<p id="knee" class="knee" data-found="false">No step failed: the knee is above 133.3 transactions/s (1.00 x 480k/h).</p>')
  })
})
