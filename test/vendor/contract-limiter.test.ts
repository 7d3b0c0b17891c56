// The contract limiter: one behaviour suite over both adapters (bottleneck in-process, our GCRA
// reservation on the suite's Redis), then what only the shared one does: two instances through
// the real vendor simulator, its Redis key, and Redis going away (a private redis-server).
import { once } from 'node:events'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import Bottleneck from 'bottleneck'
import { Cluster, Redis } from 'ioredis'
import { request } from 'undici'
import { afterAll, describe, expect, inject, it } from 'vitest'
import { StoreUnavailableError } from '../../gateway/store/errors.js'
import { createRedisClient, type ScriptedRedis } from '../../gateway/store/redis/client.js'
import { ContractLimiterClosedError, createContractLimiter, pacedRate, type ContractLimiter, type ContractLimiterOptions } from '../../gateway/vendor/contract-limiter.js'
import { startRedis, stopRedis } from '../../loadtests/lib/redis-server.js'
import { maxInAnyWindow } from '../../loadtests/lib/sliding-window.js'
import { startLivenessVendor } from '../../loadtests/simulators/liveness-vendor.js'
import { suiteRedis, suiteRedisName, uniquePrefix } from '../helpers/app.js'

const JPEG = Buffer.from([0xff, 0xd8, 0xff, 0xe0]).toString('base64')
const clients: ScriptedRedis[] = []

afterAll(() => {
  for (const client of clients) client.disconnect()
})

// The suite's Redis (a Cluster in npm run test:cluster), or the one at `url`.
async function redisClient (url?: string, keyPrefix = uniquePrefix(), commandTimeoutMs = 1_000): Promise<ScriptedRedis> {
  const client = createRedisClient({ ...(url === undefined ? suiteRedis() : { url }), keyPrefix, commandTimeoutMs, connectTimeoutMs: 1_000 })
  client.on('error', () => {})
  clients.push(client)
  await client.connect()
  return client
}

/** A job that reports its start and holds its slot until released. */
function heldJob (): { started: Promise<void>, release: () => void, run: () => Promise<string> } {
  let started!: () => void
  let release!: () => void
  const startedP = new Promise<void>((resolve) => { started = resolve })
  const released = new Promise<void>((resolve) => { release = resolve })
  return { started: startedP, release, run: async () => { started(); await released; return 'held' } }
}

type Make = (options: Omit<ContractLimiterOptions, 'id' | 'redis'>) => Promise<ContractLimiter>

function limiterContract (name: string, make: Make): void {
  describe(`contract limiter (${name})`, () => {
    it('spaces starts so that no one-second window holds more than the contract', async () => {
      const limiter = await make({ ratePerSecond: pacedRate(10, 100), maxConcurrent: 4 })
      const starts: number[] = []
      await Promise.all(Array.from({ length: 14 }, async () => limiter.schedule(async () => { starts.push(performance.now()) })))
      expect(starts).toHaveLength(14)
      expect(maxInAnyWindow(starts)).toBeLessThanOrEqual(10)
      await limiter.close()
    })

    it('runs at most maxConcurrent jobs at once', async () => {
      const limiter = await make({ ratePerSecond: 1000, maxConcurrent: 2 })
      let running = 0
      let most = 0
      await Promise.all(Array.from({ length: 6 }, async () => limiter.schedule(async () => {
        most = Math.max(most, ++running)
        await sleep(30)
        running--
      })))
      expect(most).toBe(2)
      await limiter.close()
    })

    it("passes fn's result and error through, and keeps going after an error", async () => {
      const limiter = await make({ ratePerSecond: 1000, maxConcurrent: 1 })
      await expect(limiter.schedule(async () => { throw new Error('vendor said no') })).rejects.toThrow('vendor said no')
      await expect(limiter.schedule(async () => 42)).resolves.toBe(42)
      await limiter.close()
    })

    it('counts the jobs waiting in this instance', async () => {
      const limiter = await make({ ratePerSecond: 5, maxConcurrent: 4 })
      const first = heldJob()
      const jobs = [limiter.schedule(first.run), limiter.schedule(async () => 'b'), limiter.schedule(async () => 'c')]
      await first.started
      expect(limiter.queued()).toBe(2)
      first.release()
      expect(await Promise.all(jobs)).toEqual(['held', 'b', 'c'])
      expect(limiter.queued()).toBe(0)
      await limiter.close()
    })

    it('on close refuses new jobs, rejects waiting ones and resolves once running ones settle', async () => {
      const limiter = await make({ ratePerSecond: 2, maxConcurrent: 4 })
      const first = heldJob()
      const running = limiter.schedule(first.run)
      const ran: string[] = []
      const waiting = ['b', 'c'].map(async (name) => limiter.schedule(async () => { ran.push(name) }).catch((err: unknown) => err))
      await first.started
      let closed = false
      const closing = limiter.close().then(() => { closed = true })
      for (const outcome of await Promise.all(waiting)) expect(outcome).toBeInstanceOf(ContractLimiterClosedError)
      await expect(limiter.schedule(async () => 'late')).rejects.toBeInstanceOf(ContractLimiterClosedError)
      await sleep(20)
      expect(closed).toBe(false)
      first.release()
      await closing
      await expect(running).resolves.toBe('held')
      expect(ran).toEqual([])
    })
  })
}

limiterContract('local, bottleneck', async (options) => createContractLimiter({ id: 'liveness', ...options }))
limiterContract(`shared, ${suiteRedisName()}`, async (options) => createContractLimiter({ id: 'liveness', ...options, redis: { client: await redisClient() } }))

describe('shared contract limiter across instances', () => {
  it('keeps two instances (two connections) to one rate: 100 scans reach a 5/s vendor, never more than 5 in any second', async () => {
    const vendor = await startLivenessVendor({ ratePerSecond: 5, totalScans: 400_000, latencyMs: 50 })
    const prefix = uniquePrefix()
    // 100 ms of headroom (4.55/s), twice the usual: test files share two cores, and an event loop
    // held up past the headroom lets two calls reach the vendor closer than 200 ms apart.
    const ratePerSecond = pacedRate(5, 100)
    const instances = [
      createContractLimiter({ id: 'liveness', ratePerSecond, maxConcurrent: 4, redis: { client: await redisClient(undefined, prefix) } }),
      createContractLimiter({ id: 'liveness', ratePerSecond, maxConcurrent: 4, redis: { client: await redisClient(undefined, prefix) } })
    ]
    try {
      const scan = async (n: number): Promise<number> => {
        const res = await request(`${vendor.url}/v1/scans`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'idempotency-key': `${prefix}-${n}` },
          body: JSON.stringify({ reference: `reg-${n}`, photo: JPEG })
        })
        await res.body.dump()
        return res.statusCode
      }
      const statuses = await Promise.all(Array.from({ length: 100 }, async (_, n) => (instances[n % 2] as ContractLimiter).schedule(async () => scan(n))))
      expect(statuses.filter((s) => s === 200)).toHaveLength(100)
      const stats = vendor.stats()
      expect(stats.maxInAnyOneSecond).toBeLessThanOrEqual(5)
      expect(stats).toMatchObject({ received: 100, accepted: 100, rejected429: 0, distinctKeys: 100 })
    } finally {
      await Promise.all(instances.map(async (l) => l.close()))
      await vendor.close()
    }
  }, 60_000)

  it('gives up a slot it wakes too late for: an event-loop stall never bunches the starts after it', async () => {
    // 50/s: slots 20 ms apart, 8 booked ahead (160 ms). A 100 ms stall wakes the jobs whose slots
    // fell inside it all at once; kept, they would start together, followed on time by the rest.
    const limiter = createContractLimiter({ id: 'stall', ratePerSecond: 50, maxConcurrent: 8, redis: { client: await redisClient() } })
    try {
      const starts: number[] = []
      const all = Promise.all(Array.from({ length: 60 }, async () => limiter.schedule(async () => { starts.push(performance.now()) })))
      for (let stall = 0; stall < 3; stall++) {
        await sleep(200)
        const until = performance.now() + 100
        while (performance.now() < until) { /* the stall */ }
      }
      await all
      expect(starts).toHaveLength(60)
      // Any 200 ms holds at most 10 slots, plus one at the edge, plus one started up to LATE_MS after its slot.
      expect(maxInAnyWindow(starts, 200)).toBeLessThanOrEqual(12)
    } finally {
      await limiter.close()
    }
  }, 20_000)

  it('keeps its state in one hash-tagged key under the client prefix, expiring, and never closes the client', async () => {
    const prefix = uniquePrefix()
    const client = await redisClient(undefined, prefix)
    const limiter = createContractLimiter({ id: 'liveness.eu', ratePerSecond: 1, maxConcurrent: 1, redis: { client } })
    await limiter.schedule(async () => {})
    const target = suiteRedis()
    const raw = 'url' in target ? new Redis(target.url) : new Cluster(target.clusterNodes)
    try {
      // KEYS answers for one node: on a Cluster, ask every master (known once it is ready).
      if (raw instanceof Cluster && raw.status !== 'ready') await once(raw, 'ready')
      const masters = raw instanceof Cluster ? raw.nodes('master') : [raw]
      const keys = (await Promise.all(masters.map(async (node) => node.keys(`${prefix}:*`)))).flat()
      expect(keys).toEqual([`${prefix}:{contract.liveness.eu}:tat`])
      const ttl = await raw.pttl(`${prefix}:{contract.liveness.eu}:tat`)
      expect(ttl).toBeGreaterThan(0)
      expect(ttl).toBeLessThanOrEqual(2_000)
    } finally {
      raw.disconnect()
    }
    await limiter.close()
    expect(client.status).toBe('ready')
    expect(await client.ping()).toBe('PONG')
  })
})

describe('shared contract limiter while Redis is away', () => {
  it('rejects queued and new jobs with StoreUnavailableError at once, lets a job holding its slot finish, and recovers', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'gateway-contract-outage-'))
    let redis = await startRedis(dir)
    try {
      const client = await redisClient(`redis://127.0.0.1:${redis.port}`)
      const limiter = createContractLimiter({ id: 'liveness', ratePerSecond: 5, maxConcurrent: 1, redis: { client } })
      expect(await limiter.schedule(async () => 'warm')).toBe('warm')
      const first = heldJob()
      const holding = limiter.schedule(first.run)
      let called = 0
      const queued = Array.from({ length: 3 }, async () => limiter.schedule(async () => { called++ }).catch((err: unknown) => err))
      await first.started

      await stopRedis(redis.child, 'SIGKILL')
      // Every rejection below settles while Redis is still down: nothing waits for it to return.
      for (const outcome of await Promise.all(queued)) expect(outcome).toBeInstanceOf(StoreUnavailableError)
      await expect(limiter.schedule(async () => { called++ })).rejects.toBeInstanceOf(StoreUnavailableError)
      expect(limiter.queued()).toBe(0)
      first.release()
      await expect(holding).resolves.toBe('held')
      expect(called).toBe(0)

      // Back empty: no key, no script cache (EVALSHA falls back to EVAL).
      redis = await startRedis(dir, redis.port)
      for (let i = 0; i < 100 && client.status !== 'ready'; i++) await sleep(50)
      await expect(limiter.schedule(async () => 'again')).resolves.toBe('again')
      await limiter.close()
    } finally {
      await stopRedis(redis.child)
      await rm(dir, { recursive: true, force: true })
    }
  })

  it('rejects within redis.timeoutMs when Redis hangs without closing the connection', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'gateway-contract-hang-'))
    const redis = await startRedis(dir)
    try {
      // The client would wait 5 s; the limiter's own timeout answers first.
      const client = await redisClient(`redis://127.0.0.1:${redis.port}`, uniquePrefix(), 5_000)
      const limiter = createContractLimiter({ id: 'liveness', ratePerSecond: 5, maxConcurrent: 1, redis: { client, timeoutMs: 200 } })
      redis.child.kill('SIGSTOP')
      const refused = limiter.schedule(async () => 'never')
      await expect(refused).rejects.toBeInstanceOf(StoreUnavailableError)
      await expect(refused).rejects.toMatchObject({ cause: { message: 'no answer from Redis within 200 ms' } })
      redis.child.kill('SIGCONT')
      await expect(limiter.schedule(async () => 'again')).resolves.toBe('again')
      await limiter.close()
    } finally {
      redis.child.kill('SIGCONT')
      await stopRedis(redis.child)
      await rm(dir, { recursive: true, force: true })
    }
  })
})

// Why the shared adapter is not bottleneck's clustering: a canary that says when that changes.
describe('bottleneck 2.19.5 clustering on this Redis', () => {
  it('never recovers once its keys are gone: Redis 7 prefixes its script errors with "ERR "', async () => {
    const raw = new Redis(inject('redisUrl'))
    const limiter = new Bottleneck({ id: uniquePrefix(), datastore: 'ioredis', connection: new Bottleneck.IORedisConnection({ client: raw }), minTime: 10, timeout: 300 })
    try {
      const major = Number(/redis_version:(\d+)/.exec(await raw.info('server'))?.[1])
      await expect(limiter.schedule(async () => 'ok')).resolves.toBe('ok')
      // `timeout` expires the limiter's keys after 300 ms idle; bottleneck means to re-create them.
      await sleep(600)
      const again = limiter.schedule(async () => 'ok')
      if (major >= 7) await expect(again).rejects.toThrow('ERR SETTINGS_KEY_NOT_FOUND')
      else await expect(again).resolves.toBe('ok')
    } finally {
      await limiter.disconnect()
    }
  })
})

describe('contract limiter options', () => {
  it.each([
    [{ id: '' }, 'id must be 1 to 64 letters, digits, dots, dashes or underscores'],
    [{ id: 'a{b}' }, 'id must be 1 to 64 letters, digits, dots, dashes or underscores'],
    [{ ratePerSecond: 0 }, 'ratePerSecond must be a number greater than 0 and at most 10000'],
    [{ ratePerSecond: Number.NaN }, 'ratePerSecond must be a number greater than 0 and at most 10000'],
    [{ maxConcurrent: 1.5 }, 'maxConcurrent must be a positive integer'],
    [{ maxConcurrent: 0 }, 'maxConcurrent must be a positive integer']
  ])('refuses %o', (options, message) => {
    expect(() => createContractLimiter({ id: 'liveness', ratePerSecond: 1, maxConcurrent: 1, ...options })).toThrow(message)
  })

  it('refuses a redis.timeoutMs that is not a positive integer', async () => {
    const client = await redisClient()
    expect(() => createContractLimiter({ id: 'liveness', ratePerSecond: 1, maxConcurrent: 1, redis: { client, timeoutMs: 0 } })).toThrow('redis.timeoutMs must be a positive integer')
  })

  it('derives a rate with headroom for jitter from the contract', () => {
    expect(pacedRate(1)).toBeCloseTo(1000 / 1050, 12)
    expect(pacedRate(5, 0)).toBe(5)
    expect(pacedRate(5, 250)).toBe(4)
    expect(() => pacedRate(0)).toThrow('contractPerSecond must be a positive number')
    expect(() => pacedRate(1, -1)).toThrow('jitterMs must be a non-negative number')
  })
})
