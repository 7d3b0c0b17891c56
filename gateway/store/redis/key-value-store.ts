import type { StoreKey } from '../keys.js'
import type { KeyValueStore, TtlOptions } from '../ports.js'
import { ttlOf } from '../ttl.js'
import type { ScriptedRedis } from './client.js'
import { guard } from './guard.js'

export class RedisKeyValueStore implements KeyValueStore {
  readonly #redis: ScriptedRedis

  constructor (redis: ScriptedRedis) {
    this.#redis = redis
  }

  async get (key: StoreKey): Promise<string | null> {
    return guard(this.#redis.get(key))
  }

  async set (key: StoreKey, value: string, options?: TtlOptions): Promise<void> {
    const ttlMs = ttlOf(options)
    await guard(ttlMs === undefined ? this.#redis.set(key, value) : this.#redis.set(key, value, 'PX', ttlMs))
  }

  async setIfAbsent (key: StoreKey, value: string, options?: TtlOptions): Promise<boolean> {
    const ttlMs = ttlOf(options)
    const reply = await guard(ttlMs === undefined
      ? this.#redis.set(key, value, 'NX')
      : this.#redis.set(key, value, 'PX', ttlMs, 'NX'))
    return reply === 'OK'
  }

  async delete (key: StoreKey): Promise<boolean> {
    return (await guard(this.#redis.del(key))) === 1
  }

  async deleteIfEquals (key: StoreKey, value: string): Promise<boolean> {
    return (await guard(this.#redis.gwDeleteIfEquals(key, value))) === 1
  }

  async replaceIfEquals (key: StoreKey, expected: string, value: string, options?: TtlOptions): Promise<boolean> {
    return (await guard(this.#redis.gwReplaceIfEquals(key, expected, value, ttlOf(options) ?? 0))) === 1
  }

  async expire (key: StoreKey, ttlMs: number): Promise<boolean> {
    return (await guard(this.#redis.pexpire(key, ttlOf({ ttlMs }) as number))) === 1
  }

  async expireIfEquals (key: StoreKey, value: string, ttlMs: number): Promise<boolean> {
    return (await guard(this.#redis.gwExpireIfEquals(key, value, ttlOf({ ttlMs }) as number))) === 1
  }

  async ttl (key: StoreKey): Promise<number | null> {
    const ms = await guard(this.#redis.pttl(key))
    return ms < 0 ? null : ms
  }
}
