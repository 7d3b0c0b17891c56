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
// Group commit. Redis blocks a client on WAIT, so on that one connection each [write, WAIT] would
// queue behind the one before it: one durable write per replica round trip per master, and
// writes queued behind a slow WAIT would time out client-side, be answered 503, and still run
// later (after the caller's undo). So per master at most one pipeline is in flight; the writes
// that arrive meanwhile are queued and go together as the next [w1..wn, WAIT], since one WAIT
// covers every earlier write on its connection. Each write still gets its own reply or error. A
// write that waited in the queue longer than its budget is refused before it is sent: refused
// that way means never sent, so it cannot land after its caller gave up. A write sent whose
// answer times out may have run (as any Redis command), but is never sent again: the durable
// connection has ioredis' autoResendUnfulfilledCommands off (createRedisStores). A batch carries
// at most MAX_BATCH writes.
//
// WAIT narrows the window, it does not make Redis strongly consistent: a replica that
// acknowledged can still lose the failover election to one that had not (the doc above). With
// one replica per master, as in test/cluster/, the one that acknowledged is the one promoted.
import { performance } from 'node:perf_hooks'
import calculateSlot from 'cluster-key-slot'
import type { ChainableCommander, Cluster } from 'ioredis'
import { StoreNotReplicatedError, StoreUnavailableError } from '../errors.js'
import { lua, type ScriptedRedis } from './client.js'
import { guard } from './guard.js'

export interface ReplicationOptions {
  /** Replicas that must acknowledge a durable write; 0 sends writes as they are. */
  replicas: number
  /** How long WAIT may block. */
  timeoutMs: number
  /**
   * How long a write may wait for the pipeline in flight before it is refused unsent (default:
   * timeoutMs, so a write is answered within about twice the WAIT timeout).
   */
  queueBudgetMs?: number
}

type Args = Array<string | number>

const MAX_BATCH = 128
type Commands = Array<[string, ...Args]>

interface Queued {
  commands: Commands
  queuedAt: number
  resolve: (replies: unknown[]) => void
  reject: (err: unknown) => void
}

/** The writes waiting for one master's connection, and whether a pipeline is in flight on it. */
interface NodeQueue {
  waiting: Queued[]
  busy: boolean
}

const scripts = new Map<string, string>()
function scriptText (name: string): string {
  let text = scripts.get(name)
  if (text === undefined) scripts.set(name, text = lua(name))
  return text
}

export class Replication {
  readonly replicas: number
  readonly #timeoutMs: number
  readonly #queueBudgetMs: number
  readonly #redis: ScriptedRedis
  readonly #queues = new Map<string, NodeQueue>()

  constructor (redis: ScriptedRedis, options: ReplicationOptions) {
    if (!(Number.isInteger(options.replicas) && options.replicas >= 0)) throw new RangeError('replicas must be a non-negative integer')
    if (!(Number.isInteger(options.timeoutMs) && options.timeoutMs >= 1)) throw new RangeError('timeoutMs must be a positive integer')
    const queueBudgetMs = options.queueBudgetMs ?? options.timeoutMs
    if (!(Number.isInteger(queueBudgetMs) && queueBudgetMs >= 1)) throw new RangeError('queueBudgetMs must be a positive integer')
    this.#redis = redis
    this.replicas = options.replicas
    this.#timeoutMs = options.timeoutMs
    this.#queueBudgetMs = queueBudgetMs
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

  async #send (commands: Commands): Promise<unknown[]> {
    try {
      return await this.#enqueue(commands)
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

  // The queue of the master that holds the write's slot (its first key's; a write's keys share a
  // slot). One Redis: one queue. On a Cluster the group is the slot's node set as ioredis routes
  // it, so a batch's pipeline is one ioredis accepts (keys of any slots served by one node).
  #queueOf (commands: Commands): string {
    if (!this.#redis.isCluster) return ''
    const cluster = this.#redis as Cluster
    const [name, ...args] = commands[0]?.[0] === 'multi' ? commands[1] as [string, ...Args] : commands[0] as [string, ...Args]
    const key = name === 'eval' ? args[2] : args[0]
    const slot = calculateSlot(`${cluster.options.keyPrefix ?? ''}${String(key)}`)
    const nodes = cluster.slots[slot]
    if (nodes === undefined || nodes.length === 0) throw new StoreUnavailableError(new Error(`no node known for slot ${slot}`))
    return nodes.join(',')
  }

  async #enqueue (commands: Commands): Promise<unknown[]> {
    const id = this.#queueOf(commands)
    let queue = this.#queues.get(id)
    if (queue === undefined) this.#queues.set(id, queue = { waiting: [], busy: false })
    const q = queue
    return new Promise<unknown[]>((resolve, reject) => {
      q.waiting.push({ commands, queuedAt: performance.now(), resolve, reject })
      this.#flush(q)
    })
  }

  #flush (queue: NodeQueue): void {
    if (queue.busy || queue.waiting.length === 0) return
    const now = performance.now()
    const batch: Queued[] = []
    // At most MAX_BATCH writes a pipeline (the rest wait for the next): a batch grown with the
    // backlog, its scripts sent as text, could outrun the command timeout while it still runs.
    while (queue.waiting.length > 0 && batch.length < MAX_BATCH) {
      const write = queue.waiting.shift() as Queued
      if (now - write.queuedAt > this.#queueBudgetMs) write.reject(new StoreUnavailableError(new Error('durable write queued past its budget; not sent')))
      else batch.push(write)
    }
    if (batch.length === 0) return
    queue.busy = true
    // #sendBatch settles every write of the batch itself and never rejects.
    const next = (): void => {
      queue.busy = false
      this.#flush(queue)
    }
    this.#sendBatch(batch).then(next, next)
  }

  // [w1..wn, WAIT] in one pipeline; each write gets its own reply or error, and the WAIT's count.
  async #sendBatch (batch: Queued[]): Promise<void> {
    let results: Array<[Error | null, unknown]> | null
    try {
      const pipeline: ChainableCommander = this.#redis.pipeline()
      for (const write of batch) for (const [name, ...args] of write.commands) pipeline.call(name, ...args)
      pipeline.call('wait', this.replicas, this.#timeoutMs)
      results = await guard(pipeline.exec())
      if (results === null) throw new StoreUnavailableError(new Error('pipeline discarded'))
    } catch (err) {
      for (const write of batch) write.reject(err)
      return
    }
    const [waitErr, acknowledged] = results[results.length - 1] as [Error | null, unknown]
    let at = 0
    for (const write of batch) {
      const own = results.slice(at, at + write.commands.length)
      at += write.commands.length
      try {
        const replies: unknown[] = []
        for (const [err, reply] of own) {
          // The write's own error decides: classified as guard() would (away, or our mistake).
          if (err !== null) await guard(Promise.reject(err))
          replies.push(reply)
        }
        if (waitErr !== null) throw new StoreUnavailableError(waitErr)
        if (typeof acknowledged !== 'number' || acknowledged < this.replicas) throw new StoreNotReplicatedError(Number(acknowledged), this.replicas)
        write.resolve(replies)
      } catch (err) {
        write.reject(err)
      }
    }
  }
}
