import type { StoreKey } from '../keys.js'
import type { CounterStore, IncrementOptions } from '../ports.js'
import { ttlOf } from '../ttl.js'
import type { ScriptedRedis } from './client.js'
import { guard } from './guard.js'

export class RedisCounterStore implements CounterStore {
  readonly #redis: ScriptedRedis

  constructor (redis: ScriptedRedis) {
    this.#redis = redis
  }

  async increment (key: StoreKey, options: IncrementOptions = {}): Promise<number> {
    const by = options.by ?? 1
    if (!Number.isSafeInteger(by)) throw new RangeError('increment takes an integer `by`')
    return Number(await guard(this.#redis.gwIncrement(key, by, ttlOf(options) ?? 0)))
  }

  async get (key: StoreKey): Promise<number> {
    const value = await guard(this.#redis.get(key))
    return value === null ? 0 : Number(value)
  }
}
