// The synthetic fairness run (loadtests/fairness/): the advantage arithmetic exactly, a property of
// it, and the CLI end to end on a small population: its last line, no group split, no significant
// advantage, the same output for the same seed, and its option errors.
import { spawn, spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { formatStat, multiRegistrantAdvantage } from '../../loadtests/fairness/advantage.js'
import type { SharedAddressReport, SharedAddressRow } from '../../gateway/domain/shared-addresses.js'
import { plantedClustersFound } from '../../loadtests/fairness/clusters.js'

const CLI = fileURLToPath(new URL('../../dist/loadtests/fairness/run.js', import.meta.url))
const LAST_LINE = /^fairness: multi_registrant_advantage=(\d+\.\d{3}) z=(-?\d+\.\d{2}|-inf|inf|n\/a) planted_clusters_found=(n\/a|\d+\/\d+) groups_split=(\d+)$/

describe('the multi-registrant advantage', () => {
  it('is p_multi / p_single with a delta-method standard error and a one-sided z', () => {
    // p_m = 0.2, p_s = 0.1: ratio 2, SE = 2 × sqrt(0.8/20 + 0.9/100) = 2 × sqrt(0.049).
    const a = multiRegistrantAdvantage({ households: 100, winners: 20 }, { households: 1_000, winners: 100 })
    expect(a.ratio).toBeCloseTo(2, 12)
    expect(a.se).toBeCloseTo(2 * Math.sqrt(0.049), 12)
    expect(a.se).toBeCloseTo(0.442718872, 8)
    expect(a.z).toBeCloseTo(2.258769757, 8)
    // Below 1: a negative z.
    const b = multiRegistrantAdvantage({ households: 2_000, winners: 40 }, { households: 40_000, winners: 1_000 })
    expect(b.ratio).toBeCloseTo(0.8, 12)
    expect(b.se).toBeCloseTo(0.8 * Math.sqrt(0.98 / 40 + 0.975 / 1_000), 12)
    expect(b.z).toBeCloseTo(-0.2 / b.se, 12)
  })

  it('says what it cannot compute, and refuses impossible counts', () => {
    expect(multiRegistrantAdvantage({ households: 10, winners: 0 }, { households: 100, winners: 5 })).toEqual({ ratio: 0, se: Infinity, z: -Infinity })
    expect(multiRegistrantAdvantage({ households: 10, winners: 1 }, { households: 100, winners: 0 })).toEqual({ ratio: NaN, se: NaN, z: NaN })
    expect(multiRegistrantAdvantage({ households: 0, winners: 0 }, { households: 100, winners: 5 })).toEqual({ ratio: NaN, se: NaN, z: NaN })
    expect(multiRegistrantAdvantage({ households: 5, winners: 5 }, { households: 7, winners: 7 })).toEqual({ ratio: 1, se: 0, z: 0 })
    expect(() => multiRegistrantAdvantage({ households: 5, winners: 6 }, { households: 7, winners: 1 })).toThrow('multi: winners must be a whole number from 0 to households, got 6 of 5')
    expect(() => multiRegistrantAdvantage({ households: 5, winners: 1 }, { households: 7, winners: -1 })).toThrow('single: winners must be a whole number from 0 to households, got -1 of 7')
    expect([formatStat(NaN, 2), formatStat(Infinity, 2), formatStat(-Infinity, 2), formatStat(1.23456, 3)]).toEqual(['n/a', 'inf', '-inf', '1.235'])
  })

  it('has the sign of (ratio − 1), is symmetric when the groups swap, and grows with the multi-registrants\' wins above 1', () => {
    const counts = fc.integer({ min: 1, max: 5_000 }).chain((n) => fc.record({ households: fc.constant(n), winners: fc.integer({ min: 1, max: n }) }))
    fc.assert(fc.property(counts, counts, (m, s) => {
      const a = multiRegistrantAdvantage(m, s)
      if (a.se > 0) expect(Math.sign(a.z)).toBe(Math.sign(Math.round((a.ratio - 1) * 1e12)))
      const swapped = multiRegistrantAdvantage(s, m)
      expect(swapped.ratio * a.ratio).toBeCloseTo(1, 9)
      // The relative standard error does not depend on which group is on top.
      if (a.se > 0) expect(swapped.se / swapped.ratio).toBeCloseTo(a.se / a.ratio, 9)
      if (m.winners < m.households && a.ratio >= 1) {
        const more = multiRegistrantAdvantage({ ...m, winners: m.winners + 1 }, s)
        expect(more.z).toBeGreaterThan(a.z)
      }
    }), { numRuns: 500 })
  })
})

describe('the planted-cluster count', () => {
  const poes = { a: 3, b: 2 }
  const planted = [
    { claimants: 5, distinctLastNames: 4, poes: 2, address: { line1: '10000 N Elm St', city: 'X', state: 'TX', zip: '78500' }, households: 4, claimantsPerPoe: poes, householdsPerPoe: { a: 2, b: 2 } },
    { claimants: 12, distinctLastNames: 12, poes: 1, address: { line1: '11111 S Oak Ave', city: 'Y', state: 'TX', zip: '78501' }, households: 12, claimantsPerPoe: { a: 12, b: 0 }, householdsPerPoe: { a: 12, b: 0 } }
  ]
  const row = (claimants: number, distinctLastNames: number, registrations: number, perPoe: Record<string, number>): SharedAddressRow =>
    ({ rank: 1, addressKey: 'k', address: null, claimants, distinctLastNames, registrations, perPoe, firstSeen: '', lastSeen: '' })
  const report = (clusters: SharedAddressRow[]): SharedAddressReport => ({ generatedAt: '', filter: { minClaimants: 2, minDistinctLastNames: 1, since: null, limit: 100 }, examined: clusters.length, complete: true, clusters })

  it('counts a planted cluster found only with every count right, and any other listed address as flagged', () => {
    expect(plantedClustersFound({ report: report([row(12, 12, 12, { a: 12, b: 0 }), row(5, 4, 4, poes)]), planted })).toEqual({ found: 2, unplanted: 0, problems: [] })
    expect(plantedClustersFound({ report: report([row(12, 12, 12, { a: 11, b: 1 }), row(5, 4, 4, poes), row(9, 3, 2, { a: 9, b: 0 })]), planted }))
      .toEqual({ found: 1, unplanted: 1, problems: ['planted cluster 2: per port {"a":11,"b":1}, planted {"a":12,"b":0}'] })
    expect(plantedClustersFound({ report: report([row(5, 4, 3, poes)]), planted }))
      .toEqual({ found: 0, unplanted: 0, problems: ['planted cluster 1: 3 registrations, planted 4', 'planted cluster 2 (12 people, 12 family names) is not in the report'] })
  })
})

async function run (args: string[]): Promise<{ status: number | null, stdout: string, stderr: string }> {
  // Asynchronous, so the two seeds' runs share the test's time.
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, ...args], { env: { PATH: process.env.PATH } })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d: Buffer) => { stdout += d.toString() })
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString() })
    child.on('close', (status) => resolve({ status, stdout, stderr }))
  })
}

describe('npm run report:fairness -- --synthetic', () => {
  it('ends with the fairness line: no group split, no significant advantage, the same output for the same seed', async () => {
    const args = ['--synthetic', '--registrants', '3000', '--days', '3', '--seed', 'fairness-test']
    const [first, second] = await Promise.all([run(args), run(args)])
    for (const r of [first, second]) {
      expect(r.stderr).toMatch(/^report:fairness: day 1\/3 \(2026-06-02\): \d+ entries, \d+ won; \d+ registrations so far\n/)
      const lines = r.stdout.trimEnd().split('\n')
      const last = LAST_LINE.exec(lines.at(-1) as string)
      expect(last, lines.at(-1)).not.toBeNull()
      const [, , z, clusters, split] = last as RegExpExecArray
      expect(split).toBe('0')
      // The run keeps the gateway's shared-address index: every planted house found, nothing else.
      expect(clusters).toBe('7/7')
      expect(Number(z)).toBeLessThan(3)
      expect(r.stdout).toContain('shared-address report (at least 10 claimants): 7 of 7 planted clusters found with every count right (7 planted; counts as registered before the last close), 0 other addresses flagged\n')
      expect(r.stdout).toContain('| dimension | value | entrants | winners | selection rate |\n')
      for (const dimension of ['language', 'nationality', 'age', 'group_size']) expect(r.stdout).toMatch(new RegExp(`^\\| ${dimension} \\| \\S+ \\| \\d+ \\| \\d+ \\| \\d+\\.\\d{2}% \\|$`, 'm'))
      expect(r.stdout).toMatch(/^\| tried 10 or more times \| \d+ \| \d+ \| \d+\.\d{2}% \|$/m)
      // 3,000 households, 1,176 of them planted (one try each), 74 multi-registrants (4% of the rest, and one heavy).
      expect(r.stdout).toContain('| tried 10 or more times | 74 |')
      expect(r.stdout).toMatch(/^\| tried once \| 2926 \| \d+ \| \d+\.\d{2}% \|$/m)
      expect(r.stdout).toMatch(/^\| of them at a planted address \| 1176 \| \d+ \| \d+\.\d{2}% \|$/m)
      expect(r.status).toBe(0)
    }
    // Everything but the time it took.
    const untimed = (out: string) => out.replace(/^took .*$/m, '')
    expect(untimed(second.stdout)).toBe(untimed(first.stdout))
  }, 120_000)

  it('refuses bad options with exit 2 and says why', () => {
    const cases: Array<[string[], string]> = [
      [[], '--synthetic is required: the fairness run works on the synthetic population (the gateway\'s own draws publish their figures; see npm run audit:allocation)'],
      [['--synthetic', '--registrants', '500'], '--registrants must be a whole number from 1000 to 1000000, got "500"'],
      [['--synthetic', '--registrants', '5e4'], '--registrants must be a whole number from 1000 to 1000000, got "5e4"'],
      [['--synthetic', '--days', '0'], '--days must be a whole number of days from 1 to 60, got "0"'],
      [['--synthetic', '--seed', 'a b'], '--seed must be 1 to 64 letters, digits, dots, dashes or underscores, got "a b"'],
      [['--synthetic', '--redis-url', 'http://x'], '--redis-url must be a redis:// or rediss:// URL, got "http://x"'],
      [['--synthetic', '--what'], 'Unknown option \'--what\'']
    ]
    for (const [args, message] of cases) {
      const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 15_000, env: { PATH: process.env.PATH } })
      expect(r.stderr).toBe(`report:fairness: ${message}\n`)
      expect(r.stdout).toBe('')
      expect(r.status).toBe(2)
    }
  })
})
