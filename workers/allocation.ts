// The daily draw: a pure function of (pool, capacities, seed). Same inputs, same output, on any
// machine; no clock, no I/O, no Math.random. Runs in a piscina worker (default export below).
//
// Rules, per port of entry:
//   - capacity counts people; a group gets consecutive places in one slot, or nothing;
//   - `oldestShare` of the capacity goes to the oldest registrations first: walk oldest first,
//     take each group that still fits, skip one that does not;
//   - what is left of that share joins the random share, filled by the same take-or-skip walk
//     over the remaining entries in a uniformly random order;
//   - an identity hash wins at most once per draw, across ports and registrations.
// Randomness: AES-256-CTR keystream keyed per port by HMAC-SHA256(seed, "poe:" + slug), a
// deterministic CSPRNG; integers by rejection sampling, so the shuffle has no modulo bias.
import { createCipheriv, createHmac } from 'node:crypto'

export interface PoolEntry {
  registrationId: string
  /** Registration time, epoch ms: the "oldest" order. */
  createdAtMs: number
  groupSize: number
  /** Keyed hashes of the members' identities. */
  identities: readonly string[]
  poe: string
}

export interface Slot {
  /** Label of the time slot, e.g. "08:00". */
  slot: string
  /** Places (people) in the slot. */
  capacity: number
}

export interface AllocationInput {
  entries: readonly PoolEntry[]
  /** Per port of entry, its slots in time order; their capacities sum to the daily capacity. */
  slots: Readonly<Record<string, readonly Slot[]>>
  /** Share of each port's capacity that goes to the oldest registrations, 0 to 1. */
  oldestShare: number
  /** 32 bytes: the draw's randomness (derived from the committed seed, the pool digest and the beacon). */
  seed: Uint8Array
}

export interface Assignment {
  registrationId: string
  poe: string
  slot: string
  /** Index of the group's first place in its slot; the group holds `groupSize` places from here. */
  firstPlace: number
  groupSize: number
  rule: 'oldest' | 'random'
}

export interface PoeCounts {
  capacity: number
  entries: number
  oldest: { groups: number, people: number }
  random: { groups: number, people: number }
}

export interface AllocationResult {
  assignments: Assignment[]
  counts: Record<string, PoeCounts>
}

/** A deterministic stream of unbiased random integers from a 32-byte key. */
export class KeyStream {
  readonly #cipher
  #buffer = Buffer.alloc(0)
  #offset = 0

  constructor (key: Uint8Array) {
    this.#cipher = createCipheriv('aes-256-ctr', key, Buffer.alloc(16))
  }

  #uint32 (): number {
    if (this.#offset + 4 > this.#buffer.length) {
      this.#buffer = this.#cipher.update(Buffer.alloc(16 * 1024))
      this.#offset = 0
    }
    const value = this.#buffer.readUInt32LE(this.#offset)
    this.#offset += 4
    return value
  }

  /** Uniform integer in [0, n), n <= 2^32, by rejection sampling. */
  below (n: number): number {
    const limit = 0x1_0000_0000 - (0x1_0000_0000 % n)
    for (;;) {
      const value = this.#uint32()
      if (value < limit) return value % n
    }
  }
}

export function allocate (input: AllocationInput): AllocationResult {
  if (!(input.oldestShare >= 0 && input.oldestShare <= 1)) throw new RangeError('oldestShare must be between 0 and 1')
  if (input.seed.length !== 32) throw new RangeError('seed must be 32 bytes')

  const byPoe = new Map<string, PoolEntry[]>()
  for (const entry of input.entries) {
    if (!Number.isInteger(entry.groupSize) || entry.groupSize < 1) throw new RangeError(`groupSize of ${entry.registrationId} must be a positive integer`)
    let list = byPoe.get(entry.poe)
    if (list === undefined) byPoe.set(entry.poe, list = [])
    list.push(entry)
  }

  const won = new Set<string>()
  const assignments: Assignment[] = []
  const counts: Record<string, PoeCounts> = {}
  // Ports in a fixed order, so cross-port identity conflicts resolve the same way every time.
  for (const poe of Object.keys(input.slots).sort()) {
    const slots = input.slots[poe] as readonly Slot[]
    const room = slots.map((s) => s.capacity)
    const capacity = room.reduce((a, b) => a + b, 0)
    const entries = byPoe.get(poe) ?? []
    const poeCounts: PoeCounts = { capacity, entries: entries.length, oldest: { groups: 0, people: 0 }, random: { groups: 0, people: 0 } }
    counts[poe] = poeCounts

    // Oldest first, equal times broken by registration id, so the walk never depends on input
    // order. A heap, not a sort: the oldest share takes a few dozen groups out of a pool of a
    // hundred thousand, so selecting them costs O(n) instead of O(n log n).
    const times = new Float64Array(entries.length)
    for (let i = 0; i < entries.length; i++) times[i] = (entries[i] as PoolEntry).createdAtMs
    const older = (a: number, b: number): boolean => {
      const d = (times[a] as number) - (times[b] as number)
      if (d !== 0) return d < 0
      return (entries[a] as PoolEntry).registrationId < (entries[b] as PoolEntry).registrationId
    }
    const heap = new Int32Array(entries.length)
    for (let i = 0; i < heap.length; i++) heap[i] = i
    let heapSize = heap.length
    const siftDown = (start: number): void => {
      let i = start
      for (;;) {
        const l = 2 * i + 1
        const r = l + 1
        let m = i
        if (l < heapSize && older(heap[l] as number, heap[m] as number)) m = l
        if (r < heapSize && older(heap[r] as number, heap[m] as number)) m = r
        if (m === i) return
        const t = heap[i] as number
        heap[i] = heap[m] as number
        heap[m] = t
        i = m
      }
    }
    for (let i = (heapSize >> 1) - 1; i >= 0; i--) siftDown(i)
    const popOldest = (): number => {
      const top = heap[0] as number
      heapSize -= 1
      heap[0] = heap[heapSize] as number
      siftDown(0)
      return top
    }
    const taken = new Uint8Array(entries.length)

    const tryTake = (i: number, budget: number, rule: 'oldest' | 'random'): number => {
      const entry = entries[i] as PoolEntry
      if (entry.groupSize > budget) return 0
      if (entry.identities.some((id) => won.has(id))) return 0
      // First slot, in time order, with room for the whole group.
      const s = room.findIndex((r) => r >= entry.groupSize)
      if (s < 0) return 0
      const slot = slots[s] as Slot
      assignments.push({ registrationId: entry.registrationId, poe, slot: slot.slot, firstPlace: slot.capacity - (room[s] as number), groupSize: entry.groupSize, rule })
      room[s] = (room[s] as number) - entry.groupSize
      for (const id of entry.identities) won.add(id)
      taken[i] = 1
      const bucket = rule === 'oldest' ? poeCounts.oldest : poeCounts.random
      bucket.groups += 1
      bucket.people += entry.groupSize
      return entry.groupSize
    }

    let oldestBudget = Math.floor(capacity * input.oldestShare)
    for (let pops = heap.length; oldestBudget > 0 && pops > 0; pops--) oldestBudget -= tryTake(popOldest(), oldestBudget, 'oldest')

    // The random share: a lazy Fisher-Yates shuffle of what is left, in pool order (the pool as
    // recorded and digested is the input), stopped as soon as no remaining group could fit.
    let budget = capacity - poeCounts.oldest.people
    const rest = new Int32Array(entries.length - poeCounts.oldest.groups)
    // Remaining groups counted by size, to know when none can fit any more.
    const bySize: number[] = []
    for (let i = 0, k = 0; i < entries.length; i++) {
      if (taken[i] === 1) continue
      rest[k++] = i
      const size = (entries[i] as PoolEntry).groupSize
      bySize[size] = (bySize[size] ?? 0) + 1
    }
    const smallestLeft = (): number => {
      for (let size = 1; size < bySize.length; size++) if ((bySize[size] ?? 0) > 0) return size
      return Infinity
    }
    const stream = new KeyStream(createHmac('sha256', input.seed).update(`poe:${poe}`).digest())
    for (let n = rest.length; n > 0 && budget > 0; n--) {
      if (smallestLeft() > Math.min(budget, Math.max(...room))) break
      const j = stream.below(n)
      const pick = rest[j] as number
      rest[j] = rest[n - 1] as number
      rest[n - 1] = pick
      const size = (entries[pick] as PoolEntry).groupSize
      bySize[size] = (bySize[size] as number) - 1
      budget -= tryTake(pick, budget, 'random')
    }
  }
  return { assignments, counts }
}

/** The piscina task: one draw. */
export default function allocationTask (input: AllocationInput): AllocationResult {
  return allocate(input)
}
