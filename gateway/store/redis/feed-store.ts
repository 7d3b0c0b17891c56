// The notification feed on one Redis stream, `{feed}:stream`, trimmed to about `maxLength`
// entries on each append (MAXLEN ~, so trimming stays cheap). Readers keep their own cursor (the
// last stream id they read) and use plain XREAD: no group, since every instance reads everything.
import { storeKey } from '../keys.js'
import type { FeedEntry, FeedStore } from '../ports.js'
import type { ScriptedRedis } from './client.js'
import { guard } from './guard.js'

const KEY = storeKey('feed', 'stream')
type StreamEntry = [id: string, fields: string[]]

export class RedisFeedStore implements FeedStore {
  readonly #redis: ScriptedRedis
  readonly #maxLength: number

  constructor (redis: ScriptedRedis, maxLength: number) {
    this.#redis = redis
    this.#maxLength = maxLength
  }

  async append (entry: FeedEntry): Promise<void> {
    await guard(this.#redis.xadd(KEY, 'MAXLEN', '~', this.#maxLength, '*', 'topic', entry.topic, 'message', entry.message))
  }

  async read (cursor: string | null, count: number): Promise<{ entries: FeedEntry[], cursor: string }> {
    if (cursor === null) {
      const last = await guard(this.#redis.xrevrange(KEY, '+', '-', 'COUNT', 1)) as StreamEntry[]
      return { entries: [], cursor: last[0]?.[0] ?? '0-0' }
    }
    const reply = await guard(this.#redis.xread('COUNT', count, 'STREAMS', KEY, cursor)) as Array<[string, StreamEntry[]]> | null
    const found = reply?.[0]?.[1] ?? []
    return {
      entries: found.map(([, fields]) => ({ topic: fields[1] ?? '', message: fields[3] ?? '' })),
      cursor: found.at(-1)?.[0] ?? cursor
    }
  }
}
