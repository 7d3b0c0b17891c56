// The Node rehearsal runner keeps running end to end and keeps its last line: steady-480k at
// 5% for 10 s against its own loopback stack (the figures themselves come from
// `npm run rehearsal`). What is asserted is the outcome, not timing: no 5xx, nothing lost, PASS,
// and the report files where the runner says it wrote them.
import { spawnSync } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, describe, expect, it } from 'vitest'

const RUNNER = fileURLToPath(new URL('../../dist/loadtests/rehearsal/run.js', import.meta.url))
// The runner writes rehearsal-report/ under its working directory: a temporary one here.
const cwd = mkdtempSync(join(tmpdir(), 'rehearsal-test-'))

afterAll(() => { rmSync(cwd, { recursive: true, force: true }) })

describe('npm run rehearsal', () => {
  it('drives steady-480k at scale 0.05 for 10 s with no 5xx and nothing lost, writes the report and ends with the rehearsal line', () => {
    const run = spawnSync(process.execPath, [RUNNER, '--profile', 'steady-480k', '--scale', '0.05', '--duration', '10s'], { cwd, env: { PATH: process.env.PATH ?? '' }, encoding: 'utf8', timeout: 90_000 })
    const last = run.stdout.trim().split('\n').at(-1) as string
    expect(last).toMatch(/^rehearsal: profile=steady-480k scale=0\.05 tx=\d+ tx_per_h=\d+ p99_ms=\d+ errors_5xx=0 lost=0 verdict=PASS$/)
    expect(run.status).toBe(0)
    const summary = /^summary: (.+)$/m.exec(run.stdout)?.[1] as string
    expect(summary.startsWith(join(cwd, 'rehearsal-report', 'steady-480k-'))).toBe(true)
    expect(existsSync(join(dirname(summary), 'summary.json'))).toBe(true)
    expect(existsSync(join(dirname(summary), 'report.html'))).toBe(true)
    const written = JSON.parse(readFileSync(summary, 'utf8')) as { totals: { requests: number, retries: number, refusalsWithoutRetryAfter: number }, generator: { cpuMicrosPerRequest: number | null }, series: { requests: number[], retries: number[] } }
    expect(written.totals.refusalsWithoutRetryAfter).toBe(0)
    expect(written.series.requests.reduce((a, b) => a + b, 0)).toBe(written.totals.requests)
    expect(written.series.retries.reduce((a, b) => a + b, 0)).toBe(written.totals.retries)
    expect(written.generator.cpuMicrosPerRequest).toBeGreaterThan(0)
    // The gateway's output was kept, and scanned for the personal data the run sent: none.
    const lines = run.stdout.trim().split('\n')
    const scan = /^pii-scan: no personal data in the gateway's log (.+\.log)$/.exec(lines.at(-2) as string)?.[1] as string
    expect(scan.startsWith(join(cwd, 'rehearsal-report', 'gateway-steady-480k-'))).toBe(true)
    expect(readFileSync(scan, 'utf8')).toContain('gateway listening on http://127.0.0.1:')
  }, 100_000)

  it('steps the rate up in a knee search and ends with the knee line, calling an unbracketed knee a lower bound', () => {
    // Two short steps at 5% and 7.5% of 480k/h both pass here, so no failing step brackets the knee:
    // exit 1, and the line gives the highest passing step.
    const run = spawnSync(process.execPath, [RUNNER, '--find-knee', '--scale', '0.05', '--duration', '3s', '--steps', '2'], { cwd, env: { PATH: process.env.PATH ?? '' }, encoding: 'utf8', timeout: 90_000 })
    const lines = run.stdout.trim().split('\n')
    expect(lines.at(-1)).toMatch(/^knee: tx_per_s=\d+\.\d tx_per_h=\d+ x480k=0\.0\d cpu_us_per_req=\d+$/)
    expect(run.status).toBe(1)
    expect(lines.filter((l) => /^\| [12] \| /.test(l)).map((l) => l.split(' | ').slice(0, 2).join(' | '))).toEqual(['| 1 | 6.7', '| 2 | 10'])
    expect(run.stdout).toContain('no SLO broke in 2 steps up to 10 arrivals/s: the knee is above it (a lower bound; more --steps to go on)')
    const page = /^knee report: (.+)$/m.exec(run.stdout)?.[1] as string
    const knee = JSON.parse(readFileSync(join(dirname(page), 'knee.json'), 'utf8')) as { steps: Array<{ verdict: string, errors5xx: number, lost: number, report: string }>, limitedBy: string }
    expect(knee.steps.map((s) => [s.verdict, s.errors5xx, s.lost])).toEqual([['PASS', 0, 0], ['PASS', 0, 0]])
    expect(knee.limitedBy).toBe('not-found')
    for (const s of knee.steps) expect(existsSync(join(dirname(page), s.report))).toBe(true)
  }, 100_000)

  it('refuses knee options that make no sense', () => {
    const cases: Array<[string[], string]> = [
      [['--profile', 'steady-480k', '--steps', '3'], 'rehearsal: --steps goes with --find-knee'],
      [['--find-knee', '--steps', '1'], 'rehearsal: --steps must be a whole number from 2 to 30, got "1"'],
      [['--find-knee', '--profile', 'surge-9am'], 'rehearsal: --find-knee needs a constant-rate profile (steady-240k, steady-360k, steady-480k or soak), got surge-9am'],
      [[], 'rehearsal: --profile is required, for example --profile steady-480k (or --find-knee)']
    ]
    for (const [args, message] of cases) {
      const run = spawnSync(process.execPath, [RUNNER, ...args], { cwd, env: { PATH: process.env.PATH ?? '' }, encoding: 'utf8', timeout: 15_000 })
      expect(run.status).toBe(2)
      expect(run.stderr).toContain(message)
    }
  })

  it('refuses a scale above 1', () => {
    const run = spawnSync(process.execPath, [RUNNER, '--profile', 'steady-480k', '--scale', '2'], { cwd, env: { PATH: process.env.PATH ?? '' }, encoding: 'utf8', timeout: 15_000 })
    expect(run.status).toBe(2)
    expect(run.stderr).toContain('rehearsal: --scale must be a number greater than 0 and at most 1, got "2"')
    expect(run.stdout).toBe('')
  })

  it('refuses a duration beyond 30 minutes, an unknown client and a target off this machine', () => {
    const cases: Array<[string[], string]> = [
      [['--duration', '31m'], 'rehearsal: --duration must be a whole number of seconds from 1 to 1800 such as 60s, 10m or 90, got "31m"'],
      [['--client', 'rude'], 'rehearsal: --client must be naive or polite, got "rude"'],
      [['--target', 'http://example.com'], 'rehearsal: --target must be http://127.0.0.1, http://localhost or http://[::1] with an optional port (rehearsals stay on this machine), got "http://example.com"']
    ]
    for (const [args, message] of cases) {
      const run = spawnSync(process.execPath, [RUNNER, '--profile', 'steady-480k', ...args], { cwd, env: { PATH: process.env.PATH ?? '' }, encoding: 'utf8', timeout: 15_000 })
      expect(run.status).toBe(2)
      expect(run.stderr).toContain(message)
    }
  })

  it('refuses an unknown profile', () => {
    const run = spawnSync(process.execPath, [RUNNER, '--profile', 'steady-1m'], { cwd, env: { PATH: process.env.PATH ?? '' }, encoding: 'utf8', timeout: 15_000 })
    expect(run.status).toBe(2)
    expect(run.stderr).toMatch(/^rehearsal: no profile steady-1m: steady-1m\.json is not in /m)
  })
})
