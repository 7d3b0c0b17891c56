// Writes that must survive a failover (GATEWAY_REDIS_WAIT_REPLICAS > 0). Redis replicates
// asynchronously: a master acknowledges a write before any replica has it, and a master killed
// in between takes the write with it while its replica is promoted. WAIT n t blocks until n
// replicas have acknowledged every write made before it on the same connection, or t ms pass,
// and says how many did (https://redis.io/docs/latest/commands/wait/).
//
// So a durable write is sent as one pipeline, [write, WAIT]: one connection, in that order. On a
// Cluster a pipeline goes to the node that holds its keys' slot, so the WAIT lands on the master
// that took the write (WAIT has no key and may not run inside Lua). Scripts go as EVAL with their
// text, not EVALSHA: ioredis answers a NOSCRIPT (a promoted replica has no script cache) by
// sending the script again outside the pipeline, after the WAIT, which would then vouch for
// nothing. Fewer replicas than asked in time: StoreNotReplicatedError, and the caller answers 503.
//
// The pipelines go on a connection of their own (createRedisStores): WAIT blocks its connection,
// and a master left without a replica would otherwise hold every other command behind it.
//
// WAIT narrows the window, it does not make Redis strongly consistent: a replica that
// acknowledged can still lose the failover election to one that had not (the doc above). With
// one replica per master, as in test/cluster/, the one that acknowledged is the one promoted.
import type { ChainableCommander, Cluster } from 'ioredis'
import { StoreNotReplicatedError, StoreUnavailableError } from '../errors.js'
import { lua, type ScriptedRedis } from './client.js'
import { guard } from './guard.js'

export interface ReplicationOptions {
  /** Replicas that must acknowledge a durable write; 0 sends writes as they are. */
  replicas: number
  /** How long WAIT may block. */
  timeoutMs: number
}

type Args = Array<string | number>

const scripts = new Map<string, string>()
function scriptText (name: string): string {
  let text = scripts.get(name)
  if (text === undefined) scripts.set(name, text = lua(name))
  return text
}

export class Replication {
  readonly replicas: number
  readonly #timeoutMs: number
  readonly #redis: ScriptedRedis

  constructor (redis: ScriptedRedis, options: ReplicationOptions) {
    if (!(Number.isInteger(options.replicas) && options.replicas >= 0)) throw new RangeError('replicas must be a non-negative integer')
    if (!(Number.isInteger(options.timeoutMs) && options.timeoutMs >= 1)) throw new RangeError('timeoutMs must be a positive integer')
    this.#redis = redis
    this.replicas = options.replicas
    this.#timeoutMs = options.timeoutMs
  }

  /** Whether writes that must not be lost wait for replicas. */
  get durable (): boolean {
    return this.replicas > 0
  }

  /** One command (keys of one slot), acknowledged once replicated. Returns its reply. */
  async command<T> (name: string, ...args: Args): Promise<T> {
    return (await this.#send([[name, ...args]]))[0] as T
  }

  /** One of redis/lua/<name>.lua, as EVAL, acknowledged once replicated. Returns its reply. */
  async script<T> (name: string, numberOfKeys: number, ...keysAndArgs: Args): Promise<T> {
    return (await this.#send([['eval', scriptText(name), numberOfKeys, ...keysAndArgs]]))[0] as T
  }

  /** Commands in one MULTI (keys of one slot), acknowledged once replicated. Returns EXEC's replies. */
  async transaction (commands: Array<[string, ...Args]>): Promise<unknown[]> {
    const replies = await this.#send([['multi'], ...commands, ['exec']])
    const exec = replies[replies.length - 1]
    if (!Array.isArray(exec)) throw new StoreUnavailableError(new Error('transaction aborted'))
    return exec
  }

  async #send (commands: Array<[string, ...Args]>): Promise<unknown[]> {
    try {
      return await this.#sendOnce(commands)
    } catch (err) {
      // A Cluster learns a new master from the MOVED and closed connections of single commands;
      // a pipeline is not redirected, so ask for the slot map again (the write was refused, not
      // acknowledged; the caller's retry goes to the new master).
      if (err instanceof StoreUnavailableError && !(err instanceof StoreNotReplicatedError) && this.#redis.isCluster) {
        (this.#redis as Cluster).refreshSlotsCache()
      }
      throw err
    }
  }

  async #sendOnce (commands: Array<[string, ...Args]>): Promise<unknown[]> {
    const pipeline: ChainableCommander = this.#redis.pipeline()
    for (const [name, ...args] of commands) pipeline.call(name, ...args)
    pipeline.call('wait', this.replicas, this.#timeoutMs)
    const results = await guard(pipeline.exec())
    if (results === null) throw new StoreUnavailableError(new Error('pipeline discarded'))
    const replies: unknown[] = []
    for (const [err, reply] of results.slice(0, -1)) {
      // The write's own error decides: classified as guard() would (away, or our mistake).
      if (err !== null) await guard(Promise.reject(err))
      replies.push(reply)
    }
    const [waitErr, acknowledged] = results[results.length - 1] as [Error | null, unknown]
    if (waitErr !== null) throw new StoreUnavailableError(waitErr)
    if (Number(acknowledged) < this.replicas) throw new StoreNotReplicatedError(Number(acknowledged), this.replicas)
    return replies
  }
}
