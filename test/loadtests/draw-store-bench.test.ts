// A small run of npm run bench:draw-store keeps its last line (timing is the benchmark's business).
import { spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'

const BENCH = fileURLToPath(new URL('../../dist/loadtests/bench/draw-store-bench.js', import.meta.url))

describe('npm run bench:draw-store', () => {
  it('seals and draws a pool on a private Redis and ends with its line', () => {
    const run = spawnSync(process.execPath, [BENCH, '--entries', '3000'], { encoding: 'utf8', timeout: 60_000 })
    expect(run.status, run.stderr).toBe(0)
    const lines = run.stdout.trim().split('\n')
    expect(lines.at(-1)).toMatch(/^draw-store-bench: n=3000 seal_ms=\d+ run_ms=\d+$/)
    expect(lines.at(-2)).toMatch(/^\| 3000 \| \d+ \| 1 \| \d+ \| -?\d+ \| \d+ \|$/)
  }, 60_000)

  it('refuses a pool size it cannot take', () => {
    expect(spawnSync(process.execPath, [BENCH, '--entries', '0'], { encoding: 'utf8' }).status).toBe(2)
  })
})
