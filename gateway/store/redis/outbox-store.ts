// The outbox on Redis Streams: one stream per partition, `{outbox.<p>}:stream`, each with the
// consumer group `delivery`, and its dead letters and intents beside it under the same hash tag
// (so an append and the drop of its intent are one script). Delivered entries are acknowledged
// and deleted, so a stream's length is what is still to deliver.
// https://redis.io/docs/latest/develop/data-types/streams/
import { ReplyError } from 'ioredis'
import { storeKey, type StoreKey } from '../keys.js'
import { outboxPartition, type OutboxEntry, type OutboxEvent, type OutboxIntent, type OutboxStats, type OutboxStore } from '../ports.js'
import type { ScriptedRedis } from './client.js'
import { guard } from './guard.js'
import type { Replication } from './replication.js'

const GROUP = 'delivery'
const STREAM_ID = /^\d{1,20}-\d{1,20}$/
type StreamEntry = [id: string, fields: string[]]

const streamKey = (partition: number): StoreKey => storeKey(`outbox.${partition}`, 'stream')
const deadKey = (partition: number): StoreKey => storeKey(`outbox.${partition}`, 'dead')
const intentsKey = (partition: number): StoreKey => storeKey(`outbox.${partition}`, 'intents')
const dueKey = (partition: number): StoreKey => storeKey(`outbox.${partition}`, 'intents-due')

function fieldsOf (event: OutboxEvent): string[] {
  return ['id', event.id, 'type', event.type, 'time', String(event.time), 'payload', event.payload]
}

function parse (fields: string[]): { event: OutboxEvent, reason: string } {
  const map = new Map<string, string>()
  for (let i = 0; i + 1 < fields.length; i += 2) map.set(fields[i] as string, fields[i + 1] as string)
  return {
    event: { id: map.get('id') ?? '', type: map.get('type') ?? '', time: Number(map.get('time') ?? 0), payload: map.get('payload') ?? '' },
    reason: map.get('reason') ?? ''
  }
}

export class RedisOutboxStore implements OutboxStore {
  readonly partitions: number
  readonly #redis: ScriptedRedis
  readonly #groups = new Set<number>()
  readonly #replication: Replication | undefined

  // With replication on, intend and append resolve once replicated: an accepted request's event
  // survives a failover. Delivery's own steps (ack, dead letters) do not wait: losing one
  // redelivers (at-least-once), never drops.
  constructor (redis: ScriptedRedis, partitions: number, replication?: Replication) {
    this.#redis = redis
    this.partitions = partitions
    this.#replication = replication?.durable === true ? replication : undefined
  }

  #check (partition: number): void {
    if (!(Number.isInteger(partition) && partition >= 0 && partition < this.partitions)) throw new RangeError(`no outbox partition ${partition}`)
  }

  // The group is made once per partition (and again after Redis lost it: NOGROUP).
  async #group (partition: number, force = false): Promise<void> {
    if (this.#groups.has(partition) && !force) return
    try {
      // ioredis prefixes the keys of most commands, not the one inside XGROUP's subcommand.
      await guard(this.#redis.xgroup('CREATE', `${this.#redis.options.keyPrefix ?? ''}${streamKey(partition)}`, GROUP, '0', 'MKSTREAM'))
    } catch (err) {
      if (!(err instanceof ReplyError && (err as Error).message.startsWith('BUSYGROUP'))) throw err
    }
    this.#groups.add(partition)
  }

  async #withGroup<T> (partition: number, run: () => Promise<T>): Promise<T> {
    this.#check(partition)
    await this.#group(partition)
    try {
      return await run()
    } catch (err) {
      if (!(err instanceof ReplyError && (err as Error).message.startsWith('NOGROUP'))) throw err
      await this.#group(partition, true)
      return run()
    }
  }

  async intend (event: OutboxEvent, partitionKey: string, dueAt: number): Promise<void> {
    const partition = outboxPartition(partitionKey, this.partitions)
    const args = [intentsKey(partition), dueKey(partition), event.id, JSON.stringify({ event, partitionKey }), dueAt] as const
    if (this.#replication !== undefined) await this.#replication.script('outbox-intend', 2, ...args)
    else await guard(this.#redis.gwOutboxIntend(...args))
  }

  async append (event: OutboxEvent, partitionKey: string): Promise<OutboxEntry> {
    const partition = outboxPartition(partitionKey, this.partitions)
    const args = [streamKey(partition), intentsKey(partition), dueKey(partition), event.id, event.type, String(event.time), event.payload] as const
    const entryId = this.#replication !== undefined
      ? String(await this.#replication.script('outbox-append', 3, ...args))
      : await guard(this.#redis.gwOutboxAppend(...args))
    return { partition, entryId, event }
  }

  async dueIntents (partition: number, now: number, count: number): Promise<OutboxIntent[]> {
    this.#check(partition)
    const ids = await guard(this.#redis.zrangebyscore(dueKey(partition), '-inf', now, 'LIMIT', 0, count))
    if (ids.length === 0) return []
    const raws = await guard(this.#redis.hmget(intentsKey(partition), ...ids))
    const intents: OutboxIntent[] = []
    for (const [i, raw] of raws.entries()) {
      // A due entry without its record (never written by us): nothing to recover.
      if (raw === null) await this.dropIntent(partition, ids[i] as string)
      else intents.push(JSON.parse(raw) as OutboxIntent)
    }
    return intents
  }

  async dropIntent (partition: number, eventId: string): Promise<void> {
    this.#check(partition)
    await guard(this.#redis.multi().hdel(intentsKey(partition), eventId).zrem(dueKey(partition), eventId).exec())
  }

  async read (partition: number, consumer: string, count: number): Promise<OutboxEntry[]> {
    return this.#withGroup(partition, async () => {
      const reply = await guard(this.#redis.xreadgroup('GROUP', GROUP, consumer, 'COUNT', count, 'STREAMS', streamKey(partition), '>')) as Array<[string, StreamEntry[]]> | null
      return (reply?.[0]?.[1] ?? []).map(([entryId, fields]) => ({ partition, entryId, event: parse(fields).event }))
    })
  }

  async claim (partition: number, consumer: string, minIdleMs: number, count: number): Promise<OutboxEntry[]> {
    return this.#withGroup(partition, async () => {
      const reply = await guard(this.#redis.xautoclaim(streamKey(partition), GROUP, consumer, minIdleMs, '0-0', 'COUNT', count)) as [string, Array<StreamEntry | null>, string[]?]
      // Entries deleted while pending come back as nulls (Redis 7 also lists their ids): skip them.
      return reply[1].filter((e): e is StreamEntry => e !== null).map(([entryId, fields]) => ({ partition, entryId, event: parse(fields).event }))
    })
  }

  async hold (entry: Pick<OutboxEntry, 'partition' | 'entryId'>, consumer: string): Promise<void> {
    this.#check(entry.partition)
    // XCLAIM with no minimum idle time resets the idle time; JUSTID leaves the delivery count be.
    await this.#withGroup(entry.partition, async () => guard(this.#redis.xclaim(streamKey(entry.partition), GROUP, consumer, 0, entry.entryId, 'JUSTID')))
  }

  async ack (entry: Pick<OutboxEntry, 'partition' | 'entryId'>): Promise<void> {
    this.#check(entry.partition)
    const key = streamKey(entry.partition)
    await guard(this.#redis.multi().xack(key, GROUP, entry.entryId).xdel(key, entry.entryId).exec())
  }

  async deadLetter (entry: OutboxEntry, reason: string): Promise<void> {
    this.#check(entry.partition)
    const key = streamKey(entry.partition)
    // One transaction on one hash tag: the letter appears exactly when the entry leaves.
    await guard(this.#redis.multi()
      .xadd(deadKey(entry.partition), '*', ...fieldsOf(entry.event), 'reason', reason)
      .xack(key, GROUP, entry.entryId)
      .xdel(key, entry.entryId)
      .exec())
  }

  async deadLetters (partition: number, count: number): Promise<Array<{ entryId: string, event: OutboxEvent, reason: string }>> {
    this.#check(partition)
    const entries = await guard(this.#redis.xrange(deadKey(partition), '-', '+', 'COUNT', count)) as StreamEntry[]
    return entries.map(([entryId, fields]) => ({ entryId, ...parse(fields) }))
  }

  async revive (partition: number, deadEntryId: string): Promise<boolean> {
    this.#check(partition)
    // Not a stream id: no such letter (Redis would refuse the range).
    if (!STREAM_ID.test(deadEntryId)) return false
    const found = await guard(this.#redis.xrange(deadKey(partition), deadEntryId, deadEntryId)) as StreamEntry[]
    const letter = found[0]
    if (letter === undefined) return false
    const { event } = parse(letter[1])
    await guard(this.#redis.multi().xadd(streamKey(partition), '*', ...fieldsOf(event)).xdel(deadKey(partition), deadEntryId).exec())
    return true
  }

  async stats (): Promise<OutboxStats> {
    const parts = await Promise.all(Array.from({ length: this.partitions }, async (_, p) => {
      const [length, pending, first, dead, intents] = await Promise.all([
        guard(this.#redis.xlen(streamKey(p))),
        guard(this.#redis.xpending(streamKey(p), GROUP)).catch((err: unknown) => {
          if (err instanceof ReplyError && (err as Error).message.startsWith('NOGROUP')) return [0]
          throw err
        }) as Promise<unknown[]>,
        guard(this.#redis.xrange(streamKey(p), '-', '+', 'COUNT', 1)) as Promise<StreamEntry[]>,
        guard(this.#redis.xlen(deadKey(p))),
        guard(this.#redis.hlen(intentsKey(p)))
      ])
      const oldest = first[0]
      return { length, pending: Number(pending[0] ?? 0), oldestTime: oldest === undefined ? null : parse(oldest[1]).event.time, dead, intents }
    }))
    const times = parts.map((p) => p.oldestTime).filter((t): t is number => t !== null)
    return {
      depth: parts.reduce((a, p) => a + p.length, 0),
      intents: parts.reduce((a, p) => a + p.intents, 0),
      pending: parts.reduce((a, p) => a + p.pending, 0),
      oldestTime: times.length === 0 ? null : Math.min(...times),
      deadLetters: parts.reduce((a, p) => a + p.dead, 0)
    }
  }
}
