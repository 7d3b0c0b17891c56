// The waiting-room benchmark keeps running at the scale and keeps its last line: 5,000
// WebSocket clients on one gateway process, 50 of them not reading (the figures themselves come
// from `npm run bench:waiting-room`). What it checks is asserted: every client, slow ones
// included, gets its admission; the gateway counted them all; its RSS stays under 512 MB.
import { spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'

const BENCH = fileURLToPath(new URL('../../dist/loadtests/bench/waiting-room-bench.js', import.meta.url))
const run = (args: string[], timeout: number) => spawnSync(process.execPath, [BENCH, ...args], { env: { PATH: process.env.PATH ?? '' }, encoding: 'utf8', timeout })

describe('npm run bench:waiting-room', () => {
  it('admits 5,000 WebSocket clients, slow ones included, and ends with the waiting-room-bench line', () => {
    // About 30 s here: 20 s until the opening (the tickets and subscriptions took 5 to 9 s alone;
    // the lead leaves room for the rest of the suite running beside it), then the admissions at
    // the admitter's pace (650 to 900 a second measured).
    const result = run(['--clients', '5000', '--lead-seconds', '20'], 100_000)
    expect(result.status, `${result.stdout}\n${result.stderr}`).toBe(0)
    const last = result.stdout.trim().split('\n').at(-1) as string
    const match = /^waiting-room-bench: clients=(\d+) admitted_per_s=(\d+) push_p99_ms=(\d+(?:\.\d)?) rss_mb=(\d+)$/.exec(last)
    expect(match, last).not.toBeNull()
    const [clients, admittedPerSecond, , rssMb] = (match as RegExpExecArray).slice(1).map(Number)
    expect(clients).toBe(5000)
    expect(admittedPerSecond).toBeGreaterThan(0)
    expect(admittedPerSecond).toBeLessThanOrEqual(1000)
    expect(rssMb).toBeLessThan(512)
    expect(result.stdout).toMatch(/^\| tickets \| first GET \/v1\/schedule → last ticket \| 5000 \| /m)
    expect(result.stdout).toMatch(/^\| reading clients \| 4950 \| /m)
    expect(result.stdout).toMatch(/reading again, 50 of 50 found their admission \(\d+ by reconnecting with their ticket\): ok$/m)
    expect(result.stdout).toContain('gateway_ws_connections 5000, gateway_waiting_room_admitted_total 5000, gateway_waiting_room_joined_total 5000, ')
    expect(result.stdout).toMatch(/^checks: every client admitted 5000 of 5000: ok; push p99 [\d.]+ ms <= 1000: ok; rss \d+ MB < 512: ok; subscribed before the opening: ok; /m)
  }, 120_000)

  it.each([
    [['--clients', '0'], '--clients must be a positive integer, got "0"'],
    [['--clients', '20001'], '--clients must be at most 20000, got "20001"'],
    [['--rate', '0'], '--rate must be a number greater than 0 and at most 100000, got "0"'],
    [['--clients', '100', '--slow', '100'], '--slow must be less than --clients (100), got "100"'],
    [['--slow', '1.5'], '--slow must be a non-negative integer, got "1.5"'],
    [['--clients', '20000', '--rate', '10'], '--clients ÷ --rate must be at most 600 s of admissions, got 20000 ÷ 10']
  ])('refuses %j with its message, before starting anything', (args, message) => {
    const result = run(args, 15_000)
    expect(result.status).toBe(1)
    expect(result.stderr).toBe(`waiting-room-bench: ${message}\n`)
    expect(result.stdout).toBe('')
  })
})
