// The delivery benchmark keeps running and keeps its last line: 300 writes through two gateway
// processes at 100/s (the figures themselves come from `npm run bench:delivery`). What it checks
// is asserted, not its timing: every event arrives, none beyond the rate in any one second.
import { spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'

const BENCH = fileURLToPath(new URL('../../dist/loadtests/bench/delivery-bench.js', import.meta.url))

describe('npm run bench:delivery', () => {
  it('delivers every event of a burst of writes, never above the rate, and ends with the delivery-bench line', () => {
    const run = spawnSync(process.execPath, [BENCH, '--events', '300', '--rate', '100', '--instances', '2'], { env: { PATH: process.env.PATH ?? '' }, encoding: 'utf8', timeout: 60_000 })
    expect(run.status, `${run.stdout}\n${run.stderr}`).toBe(0)
    const last = run.stdout.trim().split('\n').at(-1) as string
    const match = /^delivery-bench: produced=(\d+) delivered=(\d+) lost=(\d+) max_per_s=(\d+) configured_per_s=(\d+)$/.exec(last)
    expect(match, last).not.toBeNull()
    const [produced, delivered, lost, maxPerSecond, configured] = (match as RegExpExecArray).slice(1).map(Number)
    // 270 registrations and 30 withdrawals, each its own event once accepted. Every write is, as
    // a rule; one the gateway could not finish in time on a loaded machine makes no event.
    expect(produced).toBeGreaterThan(0)
    expect(produced).toBeLessThanOrEqual(300)
    expect(delivered).toBe(produced)
    expect(lost).toBe(0)
    expect(maxPerSecond).toBeLessThanOrEqual(100)
    expect(configured).toBe(100)
    expect(run.stdout).toMatch(new RegExp(`^\\| produce \\| first write sent → last answered \\| \\d+ \\| ${produced} \\| [\\d.]+ \\| [\\d.]+ \\|$`, 'm'))
    expect(run.stdout).toContain(`checks: gateway_outbox_appended_total over the instances ${produced}, events expected ${produced}: ok; ids recorded outside them 0: ok; `)
  }, 90_000)

  it('refuses an event count that is not a positive integer', () => {
    const run = spawnSync(process.execPath, [BENCH, '--events', '0'], { env: { PATH: process.env.PATH ?? '' }, encoding: 'utf8', timeout: 15_000 })
    expect(run.status).toBe(1)
    expect(run.stderr).toContain('delivery-bench: --events must be a positive integer, got "0"')
    expect(run.stdout).toBe('')
  })

  it('refuses a fail share outside 0 to below 1', () => {
    const run = spawnSync(process.execPath, [BENCH, '--fail-share', '1'], { env: { PATH: process.env.PATH ?? '' }, encoding: 'utf8', timeout: 15_000 })
    expect(run.status).toBe(1)
    expect(run.stderr).toContain('delivery-bench: --fail-share must be a number from 0 to below 1, got "1"')
  })
})
