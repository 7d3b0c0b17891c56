// The liveness vendor simulator speaks real HTTP on loopback: the network is what it simulates.
// Rate and window tests move an injected clock, so every arrival time is exact.
import { spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { request } from 'undici'
import { afterEach, describe, expect, it } from 'vitest'
import { ManualClock } from '../../gateway/store/clock.js'
import { startLivenessVendor, type LivenessVendorOptions, type LivenessVendorSimulator } from '../../loadtests/simulators/liveness-vendor.js'

const JPEG = Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0x00, 0x10]).toString('base64')
const CLI = fileURLToPath(new URL('../../dist/loadtests/simulators/liveness-vendor.js', import.meta.url))

interface Reply {
  status: number
  headers: Record<string, string | string[] | undefined>
  body: Record<string, unknown>
}

let vendor: LivenessVendorSimulator | undefined
let keySeq = 0

afterEach(async () => {
  await vendor?.close()
  vendor = undefined
})

async function start (options: Partial<LivenessVendorOptions> = {}): Promise<LivenessVendorSimulator> {
  vendor = await startLivenessVendor({ ratePerSecond: 100, totalScans: 1000, latencyMs: 0, ...options })
  return vendor
}

async function scan (v: LivenessVendorSimulator, options: { key?: string | null, body?: unknown, path?: string } = {}): Promise<Reply> {
  const key = options.key === undefined ? `key-${++keySeq}` : options.key
  const res = await request(`${v.url}${options.path ?? '/v1/scans'}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(key === null ? {} : { 'idempotency-key': key }) },
    body: JSON.stringify(options.body ?? { reference: 'reg-1', photo: JPEG })
  })
  return { status: res.statusCode, headers: res.headers, body: await res.body.json() as Record<string, unknown> }
}

describe('liveness vendor simulator: protocol', () => {
  it('accepts a scan with 200, a scan id and a result', async () => {
    const v = await start()
    const reply = await scan(v)
    expect(reply.status).toBe(200)
    expect(reply.headers['content-type']).toBe('application/json')
    expect(reply.body).toEqual({ scanId: 'scan-1', result: 'pass' })
    expect(v.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/)
  })

  it('answers 400 without an Idempotency-Key or with a body that is not a reference and a JPEG, 404 elsewhere', async () => {
    const v = await start()
    expect(await scan(v, { key: null })).toMatchObject({ status: 400, body: { error: 'idempotency_key_required' } })
    expect(await scan(v, { body: { reference: 'reg-1', photo: Buffer.from('GIF89a').toString('base64') } })).toMatchObject({ status: 400, body: { error: 'invalid_request' } })
    expect(await scan(v, { body: { reference: '', photo: JPEG } })).toMatchObject({ status: 400, body: { error: 'invalid_request' } })
    expect(await scan(v, { body: { photo: JPEG } })).toMatchObject({ status: 400, body: { error: 'invalid_request' } })
    expect(await scan(v, { path: '/v1/other' })).toMatchObject({ status: 404, body: { error: 'not_found' } })
    expect(v.stats()).toMatchObject({ received: 5, accepted: 0, invalid: 5 })
  })

  it('answers the same key with the same answer, without a second scan or any rate spent', async () => {
    const clock = new ManualClock(0)
    const v = await start({ ratePerSecond: 1, failShare: 1, now: () => clock.now() })
    const first = await scan(v, { key: 'same' })
    const again = await scan(v, { key: 'same' })
    expect(first).toMatchObject({ status: 200, body: { scanId: 'scan-1', result: 'fail' } })
    expect(again.status).toBe(200)
    expect(again.body).toEqual(first.body)
    // The one request of this second was the first scan; a new key is over the rate.
    expect((await scan(v, { key: 'other' })).status).toBe(429)
    expect(v.stats()).toMatchObject({ received: 3, accepted: 1, replayed: 1, rejected429: 1, distinctKeys: 2 })
  })

  it('gives a key sent again while its scan is in flight the same answer', async () => {
    const v = await start({ latencyMs: 100 })
    const [a, b] = await Promise.all([scan(v, { key: 'twice' }), scan(v, { key: 'twice' })])
    expect(a.body).toEqual({ scanId: 'scan-1', result: 'pass' })
    expect(b.body).toEqual(a.body)
    expect(v.stats()).toMatchObject({ accepted: 1, replayed: 1 })
  })

  it('answers a scan no sooner than latencyMs', async () => {
    const v = await start({ latencyMs: 150 })
    const t = performance.now()
    expect((await scan(v)).status).toBe(200)
    expect(performance.now() - t).toBeGreaterThanOrEqual(149)
    v.set({ latencyMs: 0 })
    expect((await scan(v)).status).toBe(200)
  })
})

describe('liveness vendor simulator: contract', () => {
  it('answers 429 with Retry-After beyond ratePerSecond in the sliding second, and counts only what passed', async () => {
    const clock = new ManualClock(0)
    const v = await start({ ratePerSecond: 2, now: () => clock.now() })
    clock.set(10_000)
    expect((await scan(v)).status).toBe(200)
    clock.set(10_400)
    expect((await scan(v)).status).toBe(200)
    const refused = await scan(v)
    expect(refused.status).toBe(429)
    expect(refused.headers['retry-after']).toBe('1')
    expect(refused.body).toEqual({ error: 'rate_limited', retryAfterMs: 600 })
    // The first request leaves the window exactly one second after it arrived.
    clock.set(10_999)
    expect(await scan(v)).toMatchObject({ status: 429, body: { retryAfterMs: 1 } })
    clock.set(11_000)
    expect((await scan(v)).status).toBe(200)
    expect((await scan(v)).status).toBe(429)
    clock.set(11_400)
    expect((await scan(v)).status).toBe(200)
    expect(v.stats()).toMatchObject({ received: 7, accepted: 4, rejected429: 3 })
  })

  it('applies a new rate from set() to later arrivals', async () => {
    const clock = new ManualClock(0)
    const v = await start({ ratePerSecond: 1, now: () => clock.now() })
    expect((await scan(v)).status).toBe(200)
    expect((await scan(v)).status).toBe(429)
    v.set({ ratePerSecond: 3 })
    expect((await scan(v)).status).toBe(200)
    expect((await scan(v)).status).toBe(200)
    expect((await scan(v)).status).toBe(429)
  })

  it('answers 402 once totalScans scans were accepted, and a 500 spends no budget', async () => {
    const v = await start({ totalScans: 2 })
    v.set({ errorShare: 0.5 })
    // Candidates 1 and 3 pass, 2 and 4 answer 500.
    expect((await scan(v)).status).toBe(200)
    expect(await scan(v)).toMatchObject({ status: 500, body: { error: 'internal_error' } })
    expect((await scan(v)).status).toBe(200)
    expect(await scan(v)).toMatchObject({ status: 402, body: { error: 'budget_exhausted' } })
    expect(v.stats()).toMatchObject({ accepted: 2, errors500: 1, rejected402: 1, budgetRemaining: 0 })
    v.set({ totalScans: 3, errorShare: 0 })
    expect((await scan(v)).status).toBe(200)
  })

  it('answers fail for exactly failShare of the scans, in a fixed pattern', async () => {
    const v = await start({ failShare: 0.25 })
    const results: unknown[] = []
    for (let i = 0; i < 8; i++) results.push((await scan(v)).body.result)
    expect(results).toEqual(['pass', 'pass', 'pass', 'fail', 'pass', 'pass', 'pass', 'fail'])
    expect(v.stats()).toMatchObject({ accepted: 8, passed: 6, failed: 2 })
  })

  it('resets the connection while down, and answers again once up', async () => {
    const v = await start()
    v.set({ down: true })
    await expect(scan(v)).rejects.toMatchObject({ code: 'ECONNRESET' })
    v.set({ down: false })
    expect((await scan(v)).status).toBe(200)
    expect(v.stats()).toMatchObject({ received: 2, resets: 1, accepted: 1 })
  })
})

describe('liveness vendor simulator: stats', () => {
  it('gives the exact most arrivals in any window [t, t + 1 s), refusals and resets included', async () => {
    const clock = new ManualClock(0)
    const v = await start({ ratePerSecond: 3, now: () => clock.now() })
    // Calendar seconds hold 3 and 3; [300, 1300) holds 4 (a reset among them), and the arrival at
    // 1300 falls just outside. No scan went over the rate of 3 in (t - 1 s, t].
    for (const t of [0, 300, 700, 1000]) {
      clock.set(t)
      await scan(v)
    }
    clock.set(1299.9)
    v.set({ down: true })
    await scan(v).catch(() => {})
    v.set({ down: false })
    clock.set(1300)
    await scan(v)
    expect(v.stats()).toMatchObject({ received: 6, accepted: 5, rejected429: 0, resets: 1, maxInAnyOneSecond: 4 })
  })
})

describe('liveness vendor simulator: options', () => {
  it.each([
    [{ ratePerSecond: 1.5 }, 'ratePerSecond must be a positive integer'],
    [{ ratePerSecond: 0 }, 'ratePerSecond must be a positive integer'],
    [{ totalScans: -1 }, 'totalScans must be a non-negative integer'],
    [{ latencyMs: -1 }, 'latencyMs must be a non-negative number'],
    [{ failShare: 1.5 }, 'failShare must be a number from 0 to 1'],
    [{ host: '0.0.0.0' as '127.0.0.1' }, 'host must be 127.0.0.1 or ::1'],
    [{ port: 70000 }, 'port must be an integer from 0 to 65535']
  ])('refuses %o', async (options, message) => {
    await expect(startLivenessVendor({ ratePerSecond: 1, totalScans: 1, ...options })).rejects.toThrow(message)
  })

  it('refuses a behaviour out of range in set()', async () => {
    const v = await start()
    expect(() => v.set({ errorShare: -0.1 })).toThrow('errorShare must be a number from 0 to 1')
    expect(() => v.set({ ratePerSecond: 2.5 })).toThrow('ratePerSecond must be a positive integer')
  })
})

describe('liveness vendor simulator: CLI', () => {
  it('prints its URL, serves scans, and prints its stats on SIGTERM', async () => {
    if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run the suite with npm test, which builds first`)
    const child = spawn(process.execPath, [CLI, '--rate', '3', '--total', '10', '--latency', '0', '--port', '0'], { stdio: ['ignore', 'pipe', 'inherit'] })
    try {
      let out = ''
      child.stdout.setEncoding('utf8').on('data', (chunk: string) => { out += chunk })
      const url = await new Promise<string>((resolve, reject) => {
        child.stdout.on('data', () => {
          const match = /liveness vendor listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(out)
          if (match !== null) resolve(match[1] as string)
        })
        child.once('exit', (code) => reject(new Error(`exited (${code}) before listening`)))
      })
      const res = await request(`${url}/v1/scans`, { method: 'POST', headers: { 'idempotency-key': 'cli-1' }, body: JSON.stringify({ reference: 'r', photo: JPEG }) })
      expect(res.statusCode).toBe(200)
      await res.body.dump()
      const exited = new Promise<number | null>((resolve) => child.once('exit', resolve))
      child.kill('SIGTERM')
      expect(await exited).toBe(0)
      const stats = JSON.parse(out.trim().split('\n').at(-1) as string) as Record<string, unknown>
      expect(stats).toMatchObject({ received: 1, accepted: 1, budgetRemaining: 9, maxInAnyOneSecond: 1 })
    } finally {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
    }
  })
})
