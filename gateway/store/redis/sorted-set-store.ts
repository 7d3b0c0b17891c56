import type { StoreKey } from '../keys.js'
import type { ScoredMember, SortedSetStore, TtlOptions } from '../ports.js'
import { ttlOf } from '../ttl.js'
import type { ScriptedRedis } from './client.js'
import { guard } from './guard.js'
import type { Replication } from './replication.js'

// Redis prints infinite scores as "inf" and "-inf", which Number() does not read.
function parseScore (text: string): number {
  if (text === 'inf' || text === '+inf') return Infinity
  if (text === '-inf') return -Infinity
  return Number(text)
}

function formatScore (score: number): string {
  if (Number.isNaN(score)) throw new RangeError('a sorted-set score must be a number')
  return score === Infinity ? '+inf' : score === -Infinity ? '-inf' : String(score)
}

function pairs (flat: string[]): ScoredMember[] {
  const out: ScoredMember[] = []
  for (let i = 0; i < flat.length; i += 2) out.push({ member: flat[i] as string, score: parseScore(flat[i + 1] as string) })
  return out
}

export class RedisSortedSetStore implements SortedSetStore {
  readonly #redis: ScriptedRedis
  readonly #replication: Replication | undefined

  // Entries (the allocation pool, waiting-room queues, deadlines) are added here: with
  // replication on, add resolves once replicated; removals do not wait.
  constructor (redis: ScriptedRedis, replication?: Replication) {
    this.#redis = redis
    this.#replication = replication?.durable === true ? replication : undefined
  }

  async add (key: StoreKey, member: string, score: number, options: { onlyIfAbsent?: boolean } & TtlOptions = {}): Promise<boolean> {
    const ttlMs = ttlOf(options)
    const s = formatScore(score)
    if (this.#replication !== undefined) {
      const commands: Array<[string, ...Array<string | number>]> = [options.onlyIfAbsent === true ? ['zadd', key, 'NX', s, member] : ['zadd', key, s, member]]
      if (ttlMs !== undefined) commands.push(['pexpire', key, ttlMs])
      const [added] = await this.#replication.transaction(commands)
      if (added instanceof Error) throw added
      return added === 1
    }
    const tx = this.#redis.multi()
    if (options.onlyIfAbsent === true) tx.zadd(key, 'NX', s, member)
    else tx.zadd(key, s, member)
    if (ttlMs !== undefined) tx.pexpire(key, ttlMs)
    const results = await guard(tx.exec())
    const [err, added] = results?.[0] ?? [new Error('transaction aborted'), 0]
    if (err !== null) throw err
    return added === 1
  }

  async score (key: StoreKey, member: string): Promise<number | null> {
    const text = await guard(this.#redis.zscore(key, member))
    return text === null ? null : parseScore(text)
  }

  async rank (key: StoreKey, member: string): Promise<number | null> {
    return guard(this.#redis.zrank(key, member))
  }

  async count (key: StoreKey): Promise<number> {
    return guard(this.#redis.zcard(key))
  }

  async countByScore (key: StoreKey, min: number, max: number): Promise<number> {
    return guard(this.#redis.zcount(key, formatScore(min), formatScore(max)))
  }

  async rangeByRank (key: StoreKey, start: number, stop: number): Promise<ScoredMember[]> {
    return pairs(await guard(this.#redis.zrange(key, start, stop, 'WITHSCORES')))
  }

  async rangeByScore (key: StoreKey, min: number, max: number, limit: number): Promise<ScoredMember[]> {
    return pairs(await guard(this.#redis.zrangebyscore(key, formatScore(min), formatScore(max), 'WITHSCORES', 'LIMIT', 0, limit)))
  }

  async remove (key: StoreKey, member: string): Promise<boolean> {
    return (await guard(this.#redis.zrem(key, member))) === 1
  }

  async removeByScore (key: StoreKey, min: number, max: number): Promise<number> {
    return guard(this.#redis.zremrangebyscore(key, formatScore(min), formatScore(max)))
  }

  async popMin (key: StoreKey, count: number): Promise<ScoredMember[]> {
    if (!Number.isInteger(count) || count < 1) throw new RangeError('popMin takes a positive integer count')
    return pairs(await guard(this.#redis.zpopmin(key, count)))
  }
}
