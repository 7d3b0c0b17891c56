import type { StoreKey } from '../keys.js'
import type { WindowAdmission, WindowRule, WindowStore } from '../ports.js'
import type { Keyspace } from './keyspace.js'

// Entries in admission order: member and time. Admission times only grow (one clock), so the
// array stays sorted and the oldest entry is first.
type Window = Array<{ member: string, at: number }>

export class MemoryWindowStore implements WindowStore {
  readonly #keys: Keyspace

  constructor (keys: Keyspace) {
    this.#keys = keys
  }

  async admit (key: StoreKey, member: string, rule: WindowRule, at?: number): Promise<WindowAdmission> {
    const now = at ?? this.#keys.clock.now()
    const live = (this.#keys.get<Window>(key) ?? []).filter((e) => e.at > now - rule.windowMs)
    const last = live[live.length - 1]
    const minInterval = rule.minIntervalMs ?? 0
    let admission: WindowAdmission
    // Already in: admitted again, nothing changes (as the Lua script).
    if (live.some((e) => e.member === member)) {
      admission = { admitted: true, count: live.length, retryAfterMs: 0 }
    } else if (minInterval > 0 && last !== undefined && last.at > now - minInterval) {
      admission = { admitted: false, refusedFor: 'interval', count: live.length, retryAfterMs: last.at + minInterval - now }
    } else if (live.length >= rule.max) {
      admission = { admitted: false, refusedFor: 'limit', count: live.length, retryAfterMs: (live[0] as { at: number }).at + rule.windowMs - now }
    } else {
      live.push({ member, at: now })
      admission = { admitted: true, count: live.length, retryAfterMs: 0 }
    }
    if (live.length === 0) this.#keys.delete(key)
    else this.#keys.set(key, live, rule.windowMs)
    return admission
  }

  async release (key: StoreKey, member: string): Promise<void> {
    const window = this.#keys.get<Window>(key)
    if (window === undefined) return
    const kept = window.filter((e) => e.member !== member)
    if (kept.length === 0) this.#keys.delete(key)
    else this.#keys.set(key, kept, undefined, true)
  }
}
