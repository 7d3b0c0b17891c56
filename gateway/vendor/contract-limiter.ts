// Paces calls to a third party to its contract rate (the liveness vendor: 1 scan/s), across every
// gateway instance, queueing callers instead of failing them (DESIGN.md §1: the vendor saw 32/s
// on launch day and throttled).
//
// Two adapters behind one interface:
// - local (no Redis): bottleneck 2.19.5, the owner's choice, with minTime = 1000 / ratePerSecond.
// - shared (Redis): our own reservation script, gateway/store/redis/lua/contract-reserve.lua
//   (GCRA with a burst of one, on Redis' clock), NOT bottleneck's Redis clustering. Tested on
//   Redis 7.0.15 first, as the owner asked: its clustering paces correctly until the limiter's
//   Redis state goes missing, and then never recovers. Redis 7 prefixes "ERR " to a script's
//   redis.error_reply('SETTINGS_KEY_NOT_FOUND'), and bottleneck's RedisDatastore.runScript
//   recovers only on an exact match of "SETTINGS_KEY_NOT_FOUND" / "UNKNOWN_CLIENT", so from then
//   on every schedule() rejects with "ERR SETTINGS_KEY_NOT_FOUND" (after a Redis restart without
//   the keys, or once its `timeout` TTL expired them) or "ERR UNKNOWN_CLIENT" (an instance whose
//   heartbeat paused over 10 s is pruned by the others); test/vendor/contract-limiter.test.ts
//   keeps a canary of the first. Known and unfixed upstream:
//   https://github.com/SGrondin/bottleneck/issues/205, /issues/212, /issues/219.
//
// On a Redis Cluster (REDIS_CLUSTER_NODES) the shared adapter runs unchanged: its state is one key,
// `{contract.<id>}:tat`, so each reservation is one single-slot script (test:cluster runs this
// file's suite on a 6-node Cluster). bottleneck's clustering would not: its keys
// (`b_<id>_settings`, `b_<id>_job_weights`, ...) carry no hash tag, so its multi-key scripts span
// slots (CROSSSLOT) unless the id itself is a {tag}, and the recovery flaw above remains.
//
// Semantics of the shared adapter:
// - Start slots are 1/ratePerSecond apart on Redis' clock (TIME inside the script), so instance
//   clocks and their skew play no part. One script call per job, no pub/sub: the client can be the
//   gateway's own store client (its key prefix applies; the limiter never quits it).
// - maxConcurrent is per instance: jobs holding a slot (reserved, waiting for it, or running) in
//   this process. A job reserves its slot only when it holds a permit, so an instance books at most
//   maxConcurrent slots ahead, and a crash wastes at most those (under-use, never a burst).
// - Redis unreachable: schedule() rejects at once with StoreUnavailableError while the client is
//   not connected; jobs queued without a slot reject as soon as the connection closes, or when a
//   reservation fails (within redis.timeoutMs: a Redis that hangs without closing). Nothing
//   reaches the vendor without a slot; jobs that already hold one still run. Nothing to reset
//   when Redis returns: ioredis reconnects and the next schedule() reserves again. A Redis that
//   lost its data (restart without AOF) forgets the slots booked before, so a new slot can land
//   next to one of those (at most maxConcurrent per instance, within maxConcurrent intervals);
//   production runs with AOF (DESIGN.md §4).
//
// Spacing is not arrival spacing. A start happens when the slot's reply has come back and a timer
// has fired, and the request then crosses the network: each step can be late, never early, by a
// varying amount J. Two starts can therefore reach the vendor up to J closer than 1/rate, and
// ratePerSecond + 1 of them can land inside one second. Callers pass a rate with headroom,
// contract × 1000 / (1000 + J): pacedRate() below. Measured (loadtests/bench/contract-limiter-bench.ts,
// two instances, 100 scans, a 5/s vendor simulator on loopback): at exactly 5/s the vendor saw 6
// in one second and answered 13 to 15 of them 429; at pacedRate(5) = 4.76/s never more than 5, no 429.
// J grows with CPU starvation: with two busy loops on the two cores, 50 ms of headroom let one 429
// through and 100 ms did not. A 429 spends no budget; the vendor client should schedule it again.
//
// A late start gives its slot up. Headroom covers jitter, not a stall: an event loop held up for
// D ms (GC, a burst of requests) wakes every job whose slot fell inside the stall at once, and
// the slots booked after them follow on time, so one second then holds rate × (1 + D) starts
// (two delivery instances at 190/s: 203 in one second after a ~70 ms stall). So a job that
// starts more than LATE_MS after its slot (measured from before its reservation was sent, so a
// late reply counts too) reserves a new one instead, behind everything booked meanwhile; at most
// MAX_RESLOTS times, then it starts anyway (a loop that late is shedding load already). Starts are
// then never more than LATE_MS after their slots: at most rate × (1 + LATE_MS / 1000) + 1 in any
// second. A given-up slot is capacity unused, never a burst.
import { readFileSync } from 'node:fs'
import Bottleneck from 'bottleneck'
import type { Cluster, Redis } from 'ioredis'
import { StoreUnavailableError } from '../store/errors.js'
import { EXPIRY_SLACK_MS } from '../store/gcra.js'
import { storeKey, type StoreKey } from '../store/keys.js'
import { guard } from '../store/redis/guard.js'

export interface ContractLimiter {
  /**
   * Runs fn when the contract allows: at most ratePerSecond starts per second across every
   * instance sharing `id` (on one Redis), at most maxConcurrent in flight per instance. Rejects
   * with StoreUnavailableError when Redis cannot be reached (fn is not called), with
   * ContractLimiterClosedError once close() was called, or with fn's own error.
   */
  schedule<T>(fn: () => Promise<T>): Promise<T>
  /** Jobs waiting in this instance: not started yet, including those holding a future slot. */
  queued(): number
  /** Refuses new jobs, rejects waiting ones (ContractLimiterClosedError), resolves once running ones settle. Never closes the Redis client. */
  close(): Promise<void>
}

export interface ContractLimiterOptions {
  /** Names the contract; instances with the same id (and key prefix) share one rate. */
  id: string
  /** Starts per second, with headroom below the contract (see pacedRate). */
  ratePerSecond: number
  /** Jobs in flight at once in this instance. */
  maxConcurrent: number
  /** Share the rate through this Redis; without it the rate is this process's alone. */
  redis?: {
    client: Redis | Cluster
    /** A reservation slower than this fails with StoreUnavailableError. Default 1000 ms. */
    timeoutMs?: number
  } | undefined
}

/** The limiter was closed (shutdown): the job was not run. */
export class ContractLimiterClosedError extends Error {
  constructor () {
    super('contract limiter closed: the job was not run')
    this.name = 'ContractLimiterClosedError'
  }
}

const ID_PATTERN = /^[A-Za-z0-9_.-]{1,64}$/
const MAX_RATE = 10_000
/** How late after its slot a job may start; later, it reserves a new slot. */
export const LATE_MS = 20
const MAX_RESLOTS = 5

/**
 * The rate to pass for a contract of `contractPerSecond` when one call can reach the vendor up to
 * `jitterMs` later than the next (Redis round trip, timer and event-loop lateness, network):
 * contractPerSecond starts then span at least 1000 + jitterMs ms.
 */
export function pacedRate (contractPerSecond: number, jitterMs = 50): number {
  if (!(contractPerSecond > 0 && Number.isFinite(contractPerSecond))) throw new RangeError('contractPerSecond must be a positive number')
  if (!(jitterMs >= 0 && Number.isFinite(jitterMs))) throw new RangeError('jitterMs must be a non-negative number')
  return contractPerSecond * 1000 / (1000 + jitterMs)
}

export function createContractLimiter (options: ContractLimiterOptions): ContractLimiter {
  const { id, ratePerSecond, maxConcurrent, redis } = options
  if (typeof id !== 'string' || !ID_PATTERN.test(id)) throw new RangeError('id must be 1 to 64 letters, digits, dots, dashes or underscores')
  if (!(ratePerSecond > 0 && ratePerSecond <= MAX_RATE)) throw new RangeError(`ratePerSecond must be a number greater than 0 and at most ${MAX_RATE}`)
  if (!(Number.isInteger(maxConcurrent) && maxConcurrent >= 1)) throw new RangeError('maxConcurrent must be a positive integer')
  if (redis === undefined) return new LocalContractLimiter(id, ratePerSecond, maxConcurrent)
  const timeoutMs = redis.timeoutMs ?? 1_000
  if (!(Number.isInteger(timeoutMs) && timeoutMs >= 1)) throw new RangeError('redis.timeoutMs must be a positive integer')
  return new SharedContractLimiter(withReserveCommand(redis.client), storeKey(`contract.${id}`, 'tat'), ratePerSecond, maxConcurrent, timeoutMs)
}

class LocalContractLimiter implements ContractLimiter {
  readonly #limiter: Bottleneck
  #closing: Promise<void> | undefined

  constructor (id: string, ratePerSecond: number, maxConcurrent: number) {
    // minTime is kept fractional: bottleneck adds it to its next start time, and Node fires a
    // fractional timer on the next whole millisecond, never before.
    this.#limiter = new Bottleneck({ id, minTime: 1000 / ratePerSecond, maxConcurrent })
  }

  async schedule<T>(fn: () => Promise<T>): Promise<T> {
    if (this.#closing !== undefined) throw new ContractLimiterClosedError()
    try {
      return await this.#limiter.schedule(fn)
    } catch (err) {
      // stop() drops waiting jobs with a BottleneckError; fn's own errors pass through.
      if (this.#closing !== undefined && err instanceof Bottleneck.BottleneckError) throw new ContractLimiterClosedError()
      throw err
    }
  }

  queued (): number {
    const counts = this.#limiter.counts()
    return (counts.RECEIVED ?? 0) + (counts.QUEUED ?? 0) + (counts.RUNNING ?? 0)
  }

  async close (): Promise<void> {
    this.#closing ??= (async () => {
      await this.#limiter.stop({ dropWaitingJobs: true })
      await this.#limiter.disconnect()
    })()
    return this.#closing
  }
}

type ReservingRedis = (Redis | Cluster) & {
  gwContractReserve(key: string, intervalMicros: number, slackMs: number): Promise<number>
}

function withReserveCommand (client: Redis | Cluster): ReservingRedis {
  // Defined once per client (EVALSHA, then EVAL when Redis lost its script cache); the gateway's
  // store client may carry several limiters.
  if (typeof (client as unknown as { gwContractReserve?: unknown }).gwContractReserve !== 'function') {
    const lua = readFileSync(new URL('../store/redis/lua/contract-reserve.lua', import.meta.url), 'utf8')
    client.defineCommand('gwContractReserve', { numberOfKeys: 1, lua })
  }
  return client as ReservingRedis
}

interface Job {
  /** Runs fn and settles the caller's promise; never rejects. */
  start(): Promise<void>
  fail(err: Error): void
}

class SharedContractLimiter implements ContractLimiter {
  readonly #redis: ReservingRedis
  readonly #key: StoreKey
  readonly #intervalMicros: number
  readonly #maxConcurrent: number
  readonly #timeoutMs: number
  /** FIFO of jobs without a slot; #head is the first live entry. */
  #queue: Job[] = []
  #head = 0
  /** Permits in use: reserving, waiting for the slot, or running. */
  #active = 0
  /** Of those, not started yet. */
  #booked = 0
  readonly #sleeping = new Set<{ timer: NodeJS.Timeout, wake(): void }>()
  #idle: Array<() => void> = []
  #closing: Promise<void> | undefined

  /** The connection dropped: jobs without a slot would wait for a Redis that is gone. */
  readonly #onConnectionClosed = (): void => this.#failQueued(() => new StoreUnavailableError(new Error('Redis connection closed')))

  constructor (redis: ReservingRedis, key: StoreKey, ratePerSecond: number, maxConcurrent: number, timeoutMs: number) {
    this.#redis = redis
    this.#key = key
    // Rounded up: a slot a microsecond late is harmless, one early is not.
    this.#intervalMicros = Math.ceil(1e6 / ratePerSecond)
    this.#maxConcurrent = maxConcurrent
    this.#timeoutMs = timeoutMs
    redis.on('close', this.#onConnectionClosed)
  }

  schedule<T>(fn: () => Promise<T>): Promise<T> {
    if (this.#closing !== undefined) return Promise.reject(new ContractLimiterClosedError())
    // 'wait' is a lazy client not connected yet: the reservation connects it.
    const status = this.#redis.status
    if (status !== 'ready' && status !== 'wait') return Promise.reject(new StoreUnavailableError(new Error(`Redis connection is ${status}`)))
    return new Promise<T>((resolve, reject) => {
      this.#queue.push({
        start: async () => {
          try {
            resolve(await fn())
          } catch (err) {
            reject(err)
          }
        },
        fail: reject
      })
      this.#pump()
    })
  }

  queued (): number {
    return this.#queue.length - this.#head + this.#booked
  }

  async close (): Promise<void> {
    this.#closing ??= (async () => {
      this.#redis.off('close', this.#onConnectionClosed)
      this.#failQueued(() => new ContractLimiterClosedError())
      for (const sleeper of this.#sleeping) {
        clearTimeout(sleeper.timer)
        sleeper.wake()
      }
      this.#sleeping.clear()
      if (this.#active > 0) await new Promise<void>((resolve) => this.#idle.push(resolve))
    })()
    return this.#closing
  }

  #pump (): void {
    while (this.#closing === undefined && this.#active < this.#maxConcurrent && this.#head < this.#queue.length) {
      const job = this.#queue[this.#head] as Job
      this.#queue[this.#head++] = undefined as unknown as Job
      if (this.#head > 1024 && this.#head * 2 > this.#queue.length) {
        this.#queue = this.#queue.slice(this.#head)
        this.#head = 0
      }
      this.#active++
      this.#booked++
      this.#run(job)
    }
  }

  async #run (job: Job): Promise<void> {
    try {
      for (let reslots = 0; ; reslots++) {
        const asked = performance.now()
        let waitMicros: number
        try {
          waitMicros = await this.#reserve()
        } catch (err) {
          this.#booked--
          job.fail(err as Error)
          // Every job behind this one would meet the same Redis: refuse them now, not one timeout each.
          if (err instanceof StoreUnavailableError) this.#failQueued(() => new StoreUnavailableError(err.cause))
          return
        }
        if (waitMicros > 0 && this.#closing === undefined) await this.#sleep(Math.ceil(waitMicros / 1000))
        if (this.#closing !== undefined || reslots >= MAX_RESLOTS) break
        if (performance.now() - asked - waitMicros / 1000 <= LATE_MS) break
      }
      this.#booked--
      if (this.#closing !== undefined) {
        job.fail(new ContractLimiterClosedError())
        return
      }
      await job.start()
    } finally {
      this.#active--
      if (this.#active === 0 && this.#closing !== undefined) for (const resolve of this.#idle.splice(0)) resolve()
      this.#pump()
    }
  }

  async #reserve (): Promise<number> {
    let timer: NodeJS.Timeout | undefined
    const timeout = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer from Redis within ${this.#timeoutMs} ms`)), this.#timeoutMs)
    })
    try {
      return await guard(Promise.race([this.#redis.gwContractReserve(this.#key, this.#intervalMicros, EXPIRY_SLACK_MS), timeout]))
    } finally {
      clearTimeout(timer)
    }
  }

  async #sleep (ms: number): Promise<void> {
    await new Promise<void>((resolve) => {
      const sleeper = {
        timer: setTimeout(() => {
          this.#sleeping.delete(sleeper)
          resolve()
        }, ms),
        wake: resolve
      }
      this.#sleeping.add(sleeper)
    })
  }

  #failQueued (error: () => Error): void {
    const waiting = this.#queue.slice(this.#head)
    this.#queue = []
    this.#head = 0
    for (const job of waiting) job.fail(error())
  }
}
