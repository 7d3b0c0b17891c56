// A small run of npm run bench:trends: the officers' report over the synthetic population finds
// every planted cluster with its truth's counts at both sizes and keeps its last line (the
// timing itself is the benchmark's business).
import { spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'

const BENCH = fileURLToPath(new URL('../../dist/loadtests/bench/trends-bench.js', import.meta.url))

describe('npm run bench:trends', () => {
  it('records two populations on a private Redis, finds the seven planted addresses exactly in both, and ends with its line', () => {
    const run = spawnSync(process.execPath, [BENCH, '--sizes', '1500,4000', '--queries', '5'], { encoding: 'utf8', timeout: 90_000 })
    expect(run.status, run.stderr).toBe(0)
    const lines = run.stdout.trim().split('\n')
    expect(lines.at(-1)).toMatch(/^trends-bench: small=1500 large=4000 p50_ms_small=\d+\.\d\d p50_ms_large=\d+\.\d\d large_vs_small=\d+\.\d\d clusters_found=7\/7 redis_mb_large=\d+$/)
    expect(lines.filter((l) => /^\| (1500|4000) \| /.test(l)).map((l) => l.split(' | ')[3])).toEqual(['7/7', '7/7'])
  }, 100_000)

  it('refuses sizes it cannot compare', () => {
    const run = spawnSync(process.execPath, [BENCH, '--sizes', '4000,1500'], { encoding: 'utf8', timeout: 15_000 })
    expect(run.status).toBe(2)
    expect(run.stderr).toBe('trends-bench: --sizes must be two whole numbers from 1200 to 2000000, smaller first, such as 100000,1000000; got "4000,1500"\n')
  })
})
