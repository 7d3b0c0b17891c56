// The backend simulator speaks real HTTP on loopback: the network is what it simulates.
// Window tests move an injected clock, so every arrival time is exact.
import { spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { Readable } from 'node:stream'
import { fileURLToPath } from 'node:url'
import { request } from 'undici'
import { afterEach, describe, expect, it } from 'vitest'
import { ManualClock } from '../../gateway/store/clock.js'
import { startBackend, type BackendOptions, type BackendSimulator } from '../../loadtests/simulators/backend.js'

const CLI = fileURLToPath(new URL('../../dist/loadtests/simulators/backend.js', import.meta.url))
const MIB = 1024 * 1024

interface Reply {
  status: number
  headers: Record<string, string | string[] | undefined>
  body: Record<string, unknown>
}

interface Delivery {
  /** The Idempotency-Key; null sends none. Default: a fresh key, also the event id. */
  key?: string | null
  body?: unknown
  path?: string
  method?: 'POST' | 'PUT'
}

let backend: BackendSimulator | undefined
let keySeq = 0

afterEach(async () => {
  await backend?.close()
  backend = undefined
})

async function start (options: BackendOptions = {}): Promise<BackendSimulator> {
  backend = await startBackend({ latencyMs: 0, ...options })
  return backend
}

function event (id: string, type = 'registration.created'): Record<string, unknown> {
  return { id, type, time: '2026-11-24T12:00:00.000Z', payload: { registrationId: `reg-${id}` } }
}

async function deliver (b: BackendSimulator, options: Delivery = {}): Promise<Reply> {
  const key = options.key === undefined ? `evt-${++keySeq}` : options.key
  const body = typeof options.body === 'string' ? options.body : JSON.stringify(options.body ?? event(key ?? 'no-key'))
  const res = await request(`${b.url}${options.path ?? '/events'}`, {
    method: options.method ?? 'POST',
    headers: { 'content-type': 'application/json', ...(key === null ? {} : { 'idempotency-key': key }) },
    body
  })
  return { status: res.statusCode, headers: res.headers, body: await res.body.json() as Record<string, unknown> }
}

describe('backend simulator: recording', () => {
  it('accepts an event on any path with 200 { accepted: true } and records it by key', async () => {
    const b = await start()
    expect(b.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/)
    const reply = await deliver(b, { key: 'evt-a', path: '/registrations/events' })
    expect(reply.status).toBe(200)
    expect(reply.headers['content-type']).toBe('application/json')
    expect(reply.body).toEqual({ accepted: true })
    expect([...b.received()]).toEqual([['evt-a', { type: 'registration.created', count: 1 }]])
  })

  it('records the same key once: the second delivery is a duplicate', async () => {
    const b = await start()
    expect(await deliver(b, { key: 'same', body: event('same', 'appointment.confirmed') })).toMatchObject({ status: 200, body: { accepted: true } })
    expect(await deliver(b, { key: 'same', body: event('same', 'appointment.confirmed') })).toMatchObject({ status: 200, body: { duplicate: true } })
    expect(b.received().get('same')).toEqual({ type: 'appointment.confirmed', count: 2 })
    expect(b.stats()).toMatchObject({ received: 2, accepted: 1, duplicates: 1, distinctKeys: 1, byType: { 'appointment.confirmed': 1 } })
  })

  it('counts a key sent again while its first answer is on its way as a duplicate', async () => {
    const b = await start({ latencyMs: 100 })
    const replies = await Promise.all([deliver(b, { key: 'twice' }), deliver(b, { key: 'twice' })])
    expect(replies.map((r) => r.body).sort((x, y) => JSON.stringify(x).localeCompare(JSON.stringify(y)))).toEqual([{ accepted: true }, { duplicate: true }])
    expect(b.stats()).toMatchObject({ accepted: 1, duplicates: 1 })
  })

  it('counts events by type, and gives a snapshot that later deliveries do not change', async () => {
    const b = await start()
    await deliver(b, { key: 'a', body: event('a', 'x') })
    await deliver(b, { key: 'b', body: event('b', 'y') })
    const snapshot = b.received()
    await deliver(b, { key: 'c', body: event('c', 'x') })
    await deliver(b, { key: 'a', body: event('a', 'x') })
    expect(snapshot.size).toBe(2)
    expect(snapshot.get('a')).toEqual({ type: 'x', count: 1 })
    expect(b.received().get('a')).toEqual({ type: 'x', count: 2 })
    expect(b.stats().byType).toEqual({ x: 2, y: 1 })
  })

  it('accepts 200 distinct events sent at once', async () => {
    const b = await start({ latencyMs: 20 })
    const replies = await Promise.all(Array.from({ length: 200 }, (_, i) => deliver(b, { key: `par-${i}` })))
    expect(replies.every((r) => r.status === 200 && r.body.accepted === true)).toBe(true)
    expect(b.received().size).toBe(200)
    expect(b.stats()).toMatchObject({ received: 200, accepted: 200, duplicates: 0, failed: 0, rejected: 0, distinctKeys: 200 })
  })
})

describe('backend simulator: protocol', () => {
  it('answers 400 without a valid Idempotency-Key or with a body that is not an event', async () => {
    const b = await start()
    expect(await deliver(b, { key: null })).toMatchObject({ status: 400, body: { error: 'idempotency_key_required' } })
    expect(await deliver(b, { key: 'has space' })).toMatchObject({ status: 400, body: { error: 'idempotency_key_required' } })
    expect(await deliver(b, { key: 'k'.repeat(256) })).toMatchObject({ status: 400, body: { error: 'idempotency_key_required' } })
    expect(await deliver(b, { key: 'k1', body: 'not json' })).toMatchObject({ status: 400, body: { error: 'invalid_event' } })
    expect(await deliver(b, { key: 'k2', body: { type: 't' } })).toMatchObject({ status: 400, body: { error: 'invalid_event' } })
    expect(await deliver(b, { key: 'k3', body: { id: 'k3', type: 7 } })).toMatchObject({ status: 400, body: { error: 'invalid_event' } })
    expect(await deliver(b, { key: 'k4', body: [event('k4')] })).toMatchObject({ status: 400, body: { error: 'invalid_event' } })
    expect(await deliver(b, { key: 'k'.repeat(255) })).toMatchObject({ status: 200, body: { accepted: true } })
    expect(b.stats()).toMatchObject({ received: 8, accepted: 1, rejected: 7, distinctKeys: 5 })
    expect(b.received().has('k1')).toBe(false)
  })

  it('answers 405 with Allow: POST to another method', async () => {
    const b = await start()
    const reply = await deliver(b, { method: 'PUT' })
    expect(reply).toMatchObject({ status: 405, body: { error: 'method_not_allowed' } })
    expect(reply.headers.allow).toBe('POST')
  })

  it('accepts a body of exactly 1 MiB and answers 413 to one byte more, with or without Content-Length', async () => {
    const b = await start()
    const sized = (id: string, bytes: number): string => {
      const bare = JSON.stringify({ ...event(id), pad: '' })
      return JSON.stringify({ ...event(id), pad: 'x'.repeat(bytes - bare.length) })
    }
    expect(Buffer.byteLength(sized('fits', MIB))).toBe(MIB)
    expect(await deliver(b, { key: 'fits', body: sized('fits', MIB) })).toMatchObject({ status: 200, body: { accepted: true } })
    expect(await deliver(b, { key: 'big', body: sized('big', MIB + 1) })).toMatchObject({ status: 413, body: { error: 'payload_too_large' } })
    // Chunked: the size is only known as the body arrives.
    const res = await request(`${b.url}/events`, {
      method: 'POST',
      headers: { 'idempotency-key': 'chunked' },
      body: Readable.from([Buffer.from(sized('chunked', MIB + 1))])
    })
    expect(res.statusCode).toBe(413)
    expect(await res.body.json()).toEqual({ error: 'payload_too_large' })
    expect(b.stats()).toMatchObject({ received: 3, accepted: 1, rejected: 2 })
    expect([...b.received().keys()]).toEqual(['fits'])
  })

  it('answers an event no sooner than latencyMs, and a new latency from set() applies', async () => {
    const b = await start({ latencyMs: 150 })
    let t = performance.now()
    expect((await deliver(b)).status).toBe(200)
    expect(performance.now() - t).toBeGreaterThanOrEqual(149)
    b.set({ latencyMs: 0 })
    t = performance.now()
    expect((await deliver(b)).status).toBe(200)
    expect(performance.now() - t).toBeLessThan(150)
  })
})

describe('backend simulator: failures', () => {
  it('answers 503 to exactly failShare of valid requests, in a fixed pattern, recording none of them', async () => {
    const b = await start({ failShare: 0.25 })
    const statuses: number[] = []
    for (let i = 1; i <= 8; i++) statuses.push((await deliver(b, { key: `f-${i}` })).status)
    expect(statuses).toEqual([200, 200, 200, 503, 200, 200, 200, 503])
    expect(await deliver(b, { key: 'f-9' })).toMatchObject({ status: 200 })
    expect(b.received().has('f-4')).toBe(false)
    // A key answered 503 was not recorded: sent again, it is a new event.
    expect(await deliver(b, { key: 'f-4' })).toMatchObject({ status: 200, body: { accepted: true } })
    expect(b.stats()).toMatchObject({ received: 10, accepted: 8, failed: 2, duplicates: 0 })
  })

  it('gives the same pattern on every run', async () => {
    const run = async (): Promise<number[]> => {
      const b = await startBackend({ latencyMs: 0, failShare: 0.1 })
      try {
        const statuses: number[] = []
        for (let i = 0; i < 30; i++) statuses.push((await deliver(b)).status)
        return statuses
      } finally {
        await b.close()
      }
    }
    const first = await run()
    expect(first.flatMap((s, i) => s === 503 ? [i + 1] : [])).toEqual([10, 20, 30])
    expect(await run()).toEqual(first)
  })

  it('answers every request with an overriding status, 429 with Retry-After: 1, recording nothing', async () => {
    const b = await start()
    b.set({ status: 429 })
    const limited = await deliver(b, { key: 'o-1' })
    expect(limited).toMatchObject({ status: 429, body: { error: 'rate_limited', status: 429 } })
    expect(limited.headers['retry-after']).toBe('1')
    b.set({ status: 500 })
    const broken = await deliver(b, { key: 'o-1' })
    expect(broken).toMatchObject({ status: 500, body: { error: 'forced_status', status: 500 } })
    expect(broken.headers['retry-after']).toBeUndefined()
    // Before any check: even a request without a key gets the override.
    expect((await deliver(b, { key: null })).status).toBe(500)
    b.set({ latencyMs: 0 })
    expect((await deliver(b, { key: 'o-2' })).status).toBe(500)
    b.set({ status: undefined })
    expect(await deliver(b, { key: 'o-1' })).toMatchObject({ status: 200, body: { accepted: true } })
    expect(b.stats()).toMatchObject({ received: 5, accepted: 1, rejected: 4, duplicates: 0 })
  })

  it('resets the connection while down, and records again once up', async () => {
    const b = await start()
    b.set({ down: true })
    await expect(deliver(b, { key: 'd-1' })).rejects.toMatchObject({ code: 'ECONNRESET' })
    await expect(deliver(b, { key: 'd-1' })).rejects.toMatchObject({ code: 'ECONNRESET' })
    b.set({ down: false })
    expect(await deliver(b, { key: 'd-1' })).toMatchObject({ status: 200, body: { accepted: true } })
    expect(b.stats()).toMatchObject({ received: 3, resets: 2, accepted: 1, duplicates: 0 })
  })
})

describe('backend simulator: stats', () => {
  it('gives the exact most arrivals in any window [t, t + 1 s), refusals, failures and resets included', async () => {
    const clock = new ManualClock(0)
    const b = await start({ now: () => clock.now() })
    // Calendar seconds hold 3 and 3; [300, 1300) holds 4 (a reset, an override and a 400 among
    // them), and the arrival at 1300 falls just outside.
    for (const t of [0, 300, 700]) {
      clock.set(t)
      await deliver(b)
    }
    clock.set(1000)
    b.set({ status: 429 })
    await deliver(b)
    b.set({ status: undefined })
    clock.set(1299.9)
    b.set({ down: true })
    await deliver(b).catch(() => {})
    b.set({ down: false })
    clock.set(1300)
    await deliver(b, { key: null })
    expect(b.stats()).toMatchObject({ received: 6, accepted: 3, rejected: 2, resets: 1, maxInAnyOneSecond: 4 })
  })

  it('counts a burst at one instant in one window', async () => {
    const clock = new ManualClock(0)
    const b = await start({ now: () => clock.now() })
    clock.set(5_000)
    await Promise.all(Array.from({ length: 50 }, () => deliver(b)))
    clock.set(6_000)
    await deliver(b)
    expect(b.stats().maxInAnyOneSecond).toBe(50)
  })
})

describe('backend simulator: options', () => {
  it.each([
    [{ latencyMs: -1 }, 'latencyMs must be a non-negative number'],
    [{ latencyMs: Number.NaN }, 'latencyMs must be a non-negative number'],
    [{ failShare: 1.5 }, 'failShare must be a number from 0 to 1'],
    [{ failShare: -0.1 }, 'failShare must be a number from 0 to 1'],
    [{ host: '0.0.0.0' as '127.0.0.1' }, 'host must be 127.0.0.1 or ::1'],
    [{ port: 70000 }, 'port must be an integer from 0 to 65535']
  ])('refuses %o', async (options, message) => {
    await expect(startBackend(options)).rejects.toThrow(message)
  })

  it('refuses a behaviour out of range in set()', async () => {
    const b = await start()
    expect(() => b.set({ failShare: 2 })).toThrow('failShare must be a number from 0 to 1')
    expect(() => b.set({ status: 99 })).toThrow('status must be an integer from 200 to 599, or undefined')
    expect(() => b.set({ status: 429.5 })).toThrow('status must be an integer from 200 to 599, or undefined')
    expect(() => b.set({ down: 'yes' as unknown as boolean })).toThrow('down must be true or false')
  })
})

describe('backend simulator: CLI', () => {
  it('prints its URL, records events, and prints its stats on SIGTERM', async () => {
    if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run the suite with npm test, which builds first`)
    const child = spawn(process.execPath, [CLI, '--latency', '0', '--port', '0'], { stdio: ['ignore', 'pipe', 'inherit'] })
    try {
      let out = ''
      child.stdout.setEncoding('utf8').on('data', (chunk: string) => { out += chunk })
      const url = await new Promise<string>((resolve, reject) => {
        child.stdout.on('data', () => {
          const match = /backend simulator listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(out)
          if (match !== null) resolve(match[1] as string)
        })
        child.once('exit', (code) => reject(new Error(`exited (${code}) before listening`)))
      })
      for (let i = 0; i < 2; i++) {
        const res = await request(`${url}/events`, { method: 'POST', headers: { 'idempotency-key': 'cli-1' }, body: JSON.stringify(event('cli-1', 'cli.test')) })
        expect(res.statusCode).toBe(200)
        await res.body.dump()
      }
      const exited = new Promise<number | null>((resolve) => child.once('exit', resolve))
      child.kill('SIGTERM')
      expect(await exited).toBe(0)
      const stats = JSON.parse(out.trim().split('\n').at(-1) as string) as Record<string, unknown>
      expect(stats).toEqual({
        received: 2,
        accepted: 1,
        duplicates: 1,
        failed: 0,
        rejected: 0,
        resets: 0,
        maxInAnyOneSecond: 2,
        byType: { 'cli.test': 1 },
        distinctKeys: 1
      })
    } finally {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
    }
  })
})
