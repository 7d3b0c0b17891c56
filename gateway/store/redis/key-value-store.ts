import type { StoreKey } from '../keys.js'
import type { KeyValueStore, TtlOptions } from '../ports.js'
import { ttlOf } from '../ttl.js'
import type { ScriptedRedis } from './client.js'
import { guard } from './guard.js'
import type { Replication } from './replication.js'

export class RedisKeyValueStore implements KeyValueStore {
  readonly #redis: ScriptedRedis
  readonly #replication: Replication | undefined

  // Records (registrations, requests, idempotency records, claims) are written here: with
  // replication on, set, setIfAbsent and replaceIfEquals resolve once replicated. Deletes and
  // expiries do not wait: losing one leaves a record to its TTL, never loses an accepted one.
  constructor (redis: ScriptedRedis, replication?: Replication) {
    this.#redis = redis
    this.#replication = replication?.durable === true ? replication : undefined
  }

  async get (key: StoreKey): Promise<string | null> {
    return guard(this.#redis.get(key))
  }

  async set (key: StoreKey, value: string, options?: TtlOptions): Promise<void> {
    const ttlMs = ttlOf(options)
    if (this.#replication !== undefined) {
      await (ttlMs === undefined ? this.#replication.command('set', key, value) : this.#replication.command('set', key, value, 'PX', ttlMs))
      return
    }
    await guard(ttlMs === undefined ? this.#redis.set(key, value) : this.#redis.set(key, value, 'PX', ttlMs))
  }

  async setIfAbsent (key: StoreKey, value: string, options?: TtlOptions): Promise<boolean> {
    const ttlMs = ttlOf(options)
    if (this.#replication !== undefined) {
      return (await (ttlMs === undefined
        ? this.#replication.command('set', key, value, 'NX')
        : this.#replication.command('set', key, value, 'PX', ttlMs, 'NX'))) === 'OK'
    }
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
    const ttlMs = ttlOf(options) ?? 0
    if (this.#replication !== undefined) return Number(await this.#replication.script('replace-if-equals', 1, key, expected, value, ttlMs)) === 1
    return (await guard(this.#redis.gwReplaceIfEquals(key, expected, value, ttlMs))) === 1
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
