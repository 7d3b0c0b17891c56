// The allocation benchmark keeps running and keeps its last line (small pools; the figures
// themselves come from `npm run bench:allocation`).
import { spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'

const BENCH = fileURLToPath(new URL('../../dist/loadtests/bench/allocation-bench.js', import.meta.url))

describe('npm run bench:allocation', () => {
  it('times the draw and ends with the allocation-bench line', () => {
    const run = spawnSync(process.execPath, ['--expose-gc', BENCH], { env: { PATH: process.env.PATH ?? '', ALLOCATION_BENCH_SIZES: '1000,20000' }, encoding: 'utf8' })
    expect(run.status).toBe(0)
    const lines = run.stdout.trim().split('\n')
    expect(lines.at(-1)).toMatch(/^allocation-bench: n=20000 ms=\d+ per_entry_ns=\d+$/)
    // 1,442 of 1,450 places: in the synthetic pool Calexico and Nogales only get even-sized
    // groups, so each of their four odd-sized slots keeps one place no group fits.
    expect(run.stdout).toMatch(/^\| 20000 \| [\d.]+ \| \d+ \| \d+ \| 1442 \|$/m)
  })
})
