import type { StoreKey } from '../keys.js'
import type { KeyValueStore, TtlOptions } from '../ports.js'
import { ttlOf } from '../ttl.js'
import type { Keyspace } from './keyspace.js'

export class MemoryKeyValueStore implements KeyValueStore {
  readonly #keys: Keyspace

  constructor (keys: Keyspace) {
    this.#keys = keys
  }

  async get (key: StoreKey): Promise<string | null> {
    return this.#keys.get<string>(key) ?? null
  }

  async set (key: StoreKey, value: string, options?: TtlOptions): Promise<void> {
    this.#keys.set(key, value, ttlOf(options))
  }

  async setIfAbsent (key: StoreKey, value: string, options?: TtlOptions): Promise<boolean> {
    const ttlMs = ttlOf(options)
    if (this.#keys.get(key) !== undefined) return false
    this.#keys.set(key, value, ttlMs)
    return true
  }

  async delete (key: StoreKey): Promise<boolean> {
    return this.#keys.delete(key)
  }

  async deleteIfEquals (key: StoreKey, value: string): Promise<boolean> {
    if (this.#keys.get<string>(key) !== value) return false
    return this.#keys.delete(key)
  }

  async replaceIfEquals (key: StoreKey, expected: string, value: string, options?: TtlOptions): Promise<boolean> {
    const ttlMs = ttlOf(options)
    if (this.#keys.get<string>(key) !== expected) return false
    this.#keys.set(key, value, ttlMs)
    return true
  }

  async expire (key: StoreKey, ttlMs: number): Promise<boolean> {
    const ms = ttlOf({ ttlMs }) as number
    if (this.#keys.get(key) === undefined) return false
    this.#keys.expire(key, ms)
    return true
  }

  async expireIfEquals (key: StoreKey, value: string, ttlMs: number): Promise<boolean> {
    const ms = ttlOf({ ttlMs }) as number
    if (this.#keys.get<string>(key) !== value) return false
    this.#keys.expire(key, ms)
    return true
  }

  async ttl (key: StoreKey): Promise<number | null> {
    const left = this.#keys.ttl(key)
    return left === undefined || left === Infinity ? null : left
  }
}
