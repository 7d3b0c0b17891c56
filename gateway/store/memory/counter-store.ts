import type { StoreKey } from '../keys.js'
import type { CounterStore, IncrementOptions } from '../ports.js'
import { ttlOf } from '../ttl.js'
import type { Keyspace } from './keyspace.js'

export class MemoryCounterStore implements CounterStore {
  readonly #keys: Keyspace

  constructor (keys: Keyspace) {
    this.#keys = keys
  }

  async increment (key: StoreKey, options: IncrementOptions = {}): Promise<number> {
    const by = options.by ?? 1
    if (!Number.isSafeInteger(by)) throw new RangeError('increment takes an integer `by`')
    const ttlMs = ttlOf(options)
    const value = (this.#keys.get<number>(key) ?? 0) + by
    this.#keys.set(key, value, undefined, true)
    // Like the Redis adapter: the TTL is set only while the counter has none.
    if (ttlMs !== undefined && this.#keys.ttl(key) === Infinity) this.#keys.expire(key, ttlMs)
    return value
  }

  async get (key: StoreKey): Promise<number> {
    return this.#keys.get<number>(key) ?? 0
  }
}
