// The partner-validation benchmark keeps running and keeps its last line (a few hundred queries;
// the figures themselves come from `npm run bench:partner`). Timing is not asserted here.
import { spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'

const BENCH = fileURLToPath(new URL('../../dist/loadtests/bench/partner-bench.js', import.meta.url))

describe('npm run bench:partner', () => {
  it('times the three kinds of query and ends with the HTTP and the partner-bench lines', () => {
    const run = spawnSync(process.execPath, [BENCH, '--samples', '200', '--http-samples', '50'], { env: { PATH: process.env.PATH ?? '' }, encoding: 'utf8', timeout: 15_000 })
    expect(run.status, run.stderr).toBe(0)
    const lines = run.stdout.trim().split('\n')
    const figures = 'unknown_us=\\d+\\.\\d wrong_dob_us=\\d+\\.\\d ratio=\\d+\\.\\d{3} z=-?\\d+\\.\\d{2} distinguishable=(yes|no)'
    expect(lines.at(-2)).toMatch(new RegExp(`^partner-bench http: samples=50 ${figures}$`))
    expect(lines.at(-1)).toMatch(new RegExp(`^partner-bench: samples=200 ${figures}$`))
    for (const kind of ['valid', 'wrong_dob', 'unknown']) {
      expect(run.stdout).toMatch(new RegExp(`^\\| service \\| ${kind} \\| 200 \\| [\\d.]+ \\| [\\d.]+ \\| [\\d.]+ \\|$`, 'm'))
      expect(run.stdout).toMatch(new RegExp(`^\\| http \\| ${kind} \\| 50 \\| [\\d.]+ \\| [\\d.]+ \\| [\\d.]+ \\|$`, 'm'))
    }
  })

  it('refuses a sample count that is not a positive integer', () => {
    const run = spawnSync(process.execPath, [BENCH, '--samples', '0'], { env: { PATH: process.env.PATH ?? '' }, encoding: 'utf8', timeout: 15_000 })
    expect(run.status).toBe(1)
    expect(run.stderr).toContain('partner-bench: --samples must be a positive integer, got "0"')
  })
})
