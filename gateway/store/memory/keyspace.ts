// The embedded store's one keyspace: like Redis, every port's data lives under its key with an
// optional expiry. Expired entries vanish on access and are swept on a timer, so memory stays
// bounded by what is live.
import type { Clock } from '../clock.js'

interface Entry {
  value: unknown
  expiresAt: number
}

export class Keyspace {
  readonly clock: Clock
  #entries = new Map<string, Entry>()
  #timer: NodeJS.Timeout | undefined

  constructor (clock: Clock, sweepIntervalMs: number) {
    this.clock = clock
    this.#timer = setInterval(() => this.sweep(), sweepIntervalMs)
    this.#timer.unref()
  }

  get<T> (key: string): T | undefined {
    const entry = this.#entries.get(key)
    if (entry === undefined) return undefined
    if (entry.expiresAt <= this.clock.now()) {
      this.#entries.delete(key)
      return undefined
    }
    return entry.value as T
  }

  /** Stores a value; ttlMs undefined keeps no expiry, keepTtl keeps the entry's current one. */
  set (key: string, value: unknown, ttlMs?: number, keepTtl = false): void {
    const current = keepTtl ? this.#entries.get(key) : undefined
    const expiresAt = current !== undefined
      ? current.expiresAt
      : ttlMs === undefined ? Infinity : this.clock.now() + ttlMs
    this.#entries.set(key, { value, expiresAt })
  }

  expire (key: string, ttlMs: number): void {
    const entry = this.#entries.get(key)
    if (entry !== undefined) entry.expiresAt = this.clock.now() + ttlMs
  }

  /** ms left, Infinity when the key never expires, undefined when it is absent. */
  ttl (key: string): number | undefined {
    if (this.get(key) === undefined) return undefined
    const entry = this.#entries.get(key) as Entry
    return entry.expiresAt === Infinity ? Infinity : entry.expiresAt - this.clock.now()
  }

  delete (key: string): boolean {
    const live = this.get(key) !== undefined
    this.#entries.delete(key)
    return live
  }

  sweep (): void {
    const now = this.clock.now()
    for (const [key, entry] of this.#entries) if (entry.expiresAt <= now) this.#entries.delete(key)
  }

  close (): void {
    clearInterval(this.#timer)
    this.#entries.clear()
  }
}
