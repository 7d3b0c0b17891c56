// The liveness benchmark keeps running and keeps its last line (two small photos, half a second
// per pool size; the figures themselves come from `npm run bench:liveness`). Timing is not
// asserted here.
import { spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'

const BENCH = fileURLToPath(new URL('../../dist/loadtests/bench/liveness-bench.js', import.meta.url))

describe('npm run bench:liveness', () => {
  it('pushes photos through pools of 1 and 2 threads and ends with the liveness-bench line', () => {
    const env = { PATH: process.env.PATH ?? '', LIVENESS_BENCH_SECONDS: '0.5', LIVENESS_BENCH_PHOTOS: '2', LIVENESS_BENCH_SIZE: '480x640' }
    const run = spawnSync(process.execPath, [BENCH], { env, encoding: 'utf8', timeout: 15_000 })
    expect(run.status, run.stderr).toBe(0)
    const lines = run.stdout.trim().split('\n')
    expect(lines.at(-1)).toMatch(/^liveness-bench: workers=2 photos_per_s=\d+\.\d event_loop_p99_ms=\d+\.\d$/)
    for (const workers of [1, 2]) expect(run.stdout).toMatch(new RegExp(`^\\| ${workers} \\| \\d+ \\| [\\d.]+ \\| [\\d.]+ \\| [\\d.]+ \\| [\\d.]+ \\| [\\d.]+ \\| [\\d.]+ \\| \\d+ \\|$`, 'm'))
  })

  it('refuses a knob that is not a positive number', () => {
    const run = spawnSync(process.execPath, [BENCH], { env: { PATH: process.env.PATH ?? '', LIVENESS_BENCH_SECONDS: '-1' }, encoding: 'utf8', timeout: 15_000 })
    expect(run.status).toBe(1)
    expect(run.stderr).toContain('liveness-bench: LIVENESS_BENCH_SECONDS must be a positive number, got "-1"')
  })
})
