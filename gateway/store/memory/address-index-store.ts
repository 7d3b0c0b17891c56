import type { AddressClaim, AddressCluster, AddressIndexStore } from '../ports.js'
import { lowerBound } from './sorted-order.js'

interface Entry {
  people: Set<string>
  names: Set<string>
  registrations: Set<string>
  /** "<poe>:<person>" once each. */
  requests: Set<string>
  perPoe: Map<string, number>
  firstSeen: number
  lastSeen: number
  sealedDisplay: string
}

interface Ranked {
  address: string
  claimants: number
}

// Ascending by claimants, then address: Redis' sorted-set order, read from the end for the top.
function compare (a: Ranked, b: Ranked): number {
  if (a.claimants !== b.claimants) return a.claimants - b.claimants
  return a.address < b.address ? -1 : a.address > b.address ? 1 : 0
}

// Addresses forgotten per claim or request at most, as in the Redis adapter.
const FORGET_PER_STEP = 64

/**
 * The embedded index: a map of addresses beside a sorted array of their claimant counts, so the
 * top is a binary search and a walk (O(log n + read)); a claim that changes a count moves one
 * entry (O(n) in the array, fine for a developer's machine; Redis' skip list serves production).
 * An address unseen for longer than its retention is forgotten by a later claim or request:
 * `#bySeen` holds addresses in the order they were last seen (re-inserted when seen again), so
 * the stale ones are at its start.
 */
export class MemoryAddressIndexStore implements AddressIndexStore {
  readonly #entries = new Map<string, Entry>()
  readonly #ranking: Ranked[] = []
  readonly #bySeen = new Map<string, number>()

  async claim (address: string, claim: AddressClaim): Promise<number> {
    // An address past its retention is gone, as its keys would be on Redis: this claim starts it anew.
    this.#forgetIfStale(address, claim.at, claim.retentionMs)
    let entry = this.#entries.get(address)
    if (entry === undefined) {
      entry = { people: new Set(), names: new Set(), registrations: new Set(), requests: new Set(), perPoe: new Map(), firstSeen: claim.at, lastSeen: claim.at, sealedDisplay: claim.sealedDisplay }
      this.#entries.set(address, entry)
    }
    const before = entry.people.size
    for (const person of claim.people) entry.people.add(person)
    for (const name of claim.lastNames) entry.names.add(name)
    entry.registrations.add(claim.registrationId)
    this.#seen(entry, claim.at)
    const claimants = entry.people.size
    if (claimants > before) this.#rank(address, before, claimants)
    this.#touch(address, claim.at, claim.retentionMs)
    return claimants
  }

  async requested (address: string, poe: string, people: string[], at: number, retentionMs: number): Promise<void> {
    this.#forgetIfStale(address, at, retentionMs)
    const entry = this.#entries.get(address)
    if (entry === undefined || people.length === 0) return
    let added = 0
    for (const person of people) {
      const request = `${poe}:${person}`
      if (!entry.requests.has(request)) {
        entry.requests.add(request)
        added += 1
      }
    }
    if (added > 0) entry.perPoe.set(poe, (entry.perPoe.get(poe) ?? 0) + added)
    this.#seen(entry, at)
    this.#touch(address, at, retentionMs)
  }

  async top (minClaimants: number, offset: number, count: number): Promise<Array<{ address: string, claimants: number }>> {
    const floor = lowerBound(this.#ranking, { claimants: minClaimants, address: '' }, compare)
    const out: Ranked[] = []
    for (let i = this.#ranking.length - 1 - offset; i >= floor && out.length < count; i--) out.push({ ...this.#ranking[i] as Ranked })
    return out
  }

  async extent (minClaimants: number): Promise<{ atOrAbove: number, most: number }> {
    const floor = lowerBound(this.#ranking, { claimants: minClaimants, address: '' }, compare)
    return { atOrAbove: this.#ranking.length - floor, most: this.#ranking.at(-1)?.claimants ?? 0 }
  }

  async clusters (addresses: readonly string[]): Promise<Array<AddressCluster | null>> {
    return addresses.map((address) => {
      const entry = this.#entries.get(address)
      if (entry === undefined) return null
      return {
        address,
        claimants: entry.people.size,
        distinctLastNames: entry.names.size,
        registrations: entry.registrations.size,
        perPoe: Object.fromEntries(entry.perPoe),
        firstSeen: entry.firstSeen,
        lastSeen: entry.lastSeen,
        sealedDisplay: entry.sealedDisplay
      }
    })
  }

  #seen (entry: Entry, at: number): void {
    entry.firstSeen = Math.min(entry.firstSeen, at)
    entry.lastSeen = Math.max(entry.lastSeen, at)
  }

  // Seen at `at` (never earlier than it was), then up to FORGET_PER_STEP addresses unseen since
  // before at - retention leave the index.
  #touch (address: string, at: number, retentionMs: number): void {
    const last = Math.max(at, this.#bySeen.get(address) ?? -Infinity)
    this.#bySeen.delete(address)
    this.#bySeen.set(address, last)
    let forgotten = 0
    for (const [stale, seenAt] of this.#bySeen) {
      if (seenAt >= at - retentionMs || forgotten >= FORGET_PER_STEP) break
      this.#forget(stale)
      forgotten += 1
    }
  }

  #forgetIfStale (address: string, at: number, retentionMs: number): void {
    const seenAt = this.#bySeen.get(address)
    if (seenAt !== undefined && seenAt < at - retentionMs) this.#forget(address)
  }

  #forget (address: string): void {
    this.#bySeen.delete(address)
    const entry = this.#entries.get(address)
    if (entry === undefined) return
    this.#entries.delete(address)
    const i = lowerBound(this.#ranking, { address, claimants: entry.people.size }, compare)
    if (this.#ranking[i]?.address === address) this.#ranking.splice(i, 1)
  }

  #rank (address: string, before: number, claimants: number): void {
    if (before > 0) this.#ranking.splice(lowerBound(this.#ranking, { address, claimants: before }, compare), 1)
    const entry = { address, claimants }
    this.#ranking.splice(lowerBound(this.#ranking, entry, compare), 0, entry)
  }
}
