import type { StoreKey } from '../keys.js'
import type { ScoredMember, SortedSetStore, TtlOptions } from '../ports.js'
import { ttlOf } from '../ttl.js'
import type { Keyspace } from './keyspace.js'
import { lowerBound } from './sorted-order.js'

// A sorted array beside a member→score map: O(log n) lookups, O(n) inserts. Fine for the embedded
// store's scale (one process, a developer's machine); Redis' skip list serves production.
interface SortedSet {
  scores: Map<string, number>
  order: ScoredMember[]
}

function compare (a: ScoredMember, b: ScoredMember): number {
  if (a.score !== b.score) return a.score < b.score ? -1 : 1
  return a.member < b.member ? -1 : a.member > b.member ? 1 : 0
}

function checkScore (score: number): void {
  if (Number.isNaN(score)) throw new RangeError('a sorted-set score must be a number')
}

export class MemorySortedSetStore implements SortedSetStore {
  readonly #keys: Keyspace

  constructor (keys: Keyspace) {
    this.#keys = keys
  }

  #read (key: StoreKey): SortedSet | undefined {
    return this.#keys.get<SortedSet>(key)
  }

  async add (key: StoreKey, member: string, score: number, options: { onlyIfAbsent?: boolean } & TtlOptions = {}): Promise<boolean> {
    checkScore(score)
    const ttlMs = ttlOf(options)
    let set = this.#read(key)
    if (set === undefined) {
      set = { scores: new Map(), order: [] }
      this.#keys.set(key, set)
    }
    const previous = set.scores.get(member)
    const isNew = previous === undefined
    if (!isNew && options.onlyIfAbsent !== true && previous !== score) {
      set.order.splice(lowerBound(set.order, { member, score: previous }, compare), 1)
    }
    if (isNew || (options.onlyIfAbsent !== true && previous !== score)) {
      const entry = { member, score }
      set.order.splice(lowerBound(set.order, entry, compare), 0, entry)
      set.scores.set(member, score)
    }
    if (ttlMs !== undefined) this.#keys.expire(key, ttlMs)
    return isNew
  }

  async score (key: StoreKey, member: string): Promise<number | null> {
    return this.#read(key)?.scores.get(member) ?? null
  }

  async rank (key: StoreKey, member: string): Promise<number | null> {
    const set = this.#read(key)
    const score = set?.scores.get(member)
    if (set === undefined || score === undefined) return null
    return lowerBound(set.order, { member, score }, compare)
  }

  async count (key: StoreKey): Promise<number> {
    return this.#read(key)?.order.length ?? 0
  }

  async countByScore (key: StoreKey, min: number, max: number): Promise<number> {
    const set = this.#read(key)
    if (set === undefined || min > max) return 0
    return this.#scoreRange(set, min, max).length
  }

  async rangeByRank (key: StoreKey, start: number, stop: number): Promise<ScoredMember[]> {
    const set = this.#read(key)
    if (set === undefined) return []
    const n = set.order.length
    const from = Math.max(0, start < 0 ? n + start : start)
    const to = Math.min(n - 1, stop < 0 ? n + stop : stop)
    return from > to ? [] : set.order.slice(from, to + 1).map((e) => ({ ...e }))
  }

  async rangeByScore (key: StoreKey, min: number, max: number, limit: number): Promise<ScoredMember[]> {
    const set = this.#read(key)
    if (set === undefined || min > max) return []
    return this.#scoreRange(set, min, max).slice(0, limit).map((e) => ({ ...e }))
  }

  async remove (key: StoreKey, member: string): Promise<boolean> {
    const set = this.#read(key)
    const score = set?.scores.get(member)
    if (set === undefined || score === undefined) return false
    set.order.splice(lowerBound(set.order, { member, score }, compare), 1)
    set.scores.delete(member)
    this.#dropIfEmpty(key, set)
    return true
  }

  async removeByScore (key: StoreKey, min: number, max: number): Promise<number> {
    const set = this.#read(key)
    if (set === undefined || min > max) return 0
    const doomed = this.#scoreRange(set, min, max)
    if (doomed.length === 0) return 0
    const first = set.order.indexOf(doomed[0] as ScoredMember)
    set.order.splice(first, doomed.length)
    for (const e of doomed) set.scores.delete(e.member)
    this.#dropIfEmpty(key, set)
    return doomed.length
  }

  async popMin (key: StoreKey, count: number): Promise<ScoredMember[]> {
    if (!Number.isInteger(count) || count < 1) throw new RangeError('popMin takes a positive integer count')
    const set = this.#read(key)
    if (set === undefined) return []
    const popped = set.order.splice(0, count)
    for (const e of popped) set.scores.delete(e.member)
    this.#dropIfEmpty(key, set)
    return popped
  }

  #scoreRange (set: SortedSet, min: number, max: number): ScoredMember[] {
    const from = lowerBound(set.order, { member: '', score: min }, compare)
    let to = from
    while (to < set.order.length && (set.order[to] as ScoredMember).score <= max) to++
    return set.order.slice(from, to)
  }

  // Redis deletes a sorted set when its last member goes; so do we, TTL and all.
  #dropIfEmpty (key: StoreKey, set: SortedSet): void {
    if (set.order.length === 0) this.#keys.delete(key)
  }
}
