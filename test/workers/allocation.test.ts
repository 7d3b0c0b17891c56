import { createHash } from 'node:crypto'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { allocate, KeyStream, type AllocationInput, type PoolEntry } from '../../workers/allocation.js'

const seedOf = (n: number) => createHash('sha256').update(`seed-${n}`).digest()

const entryArb = (poes: string[]) => fc.record({
  registrationId: fc.uuid(),
  createdAtMs: fc.integer({ min: 0, max: 10_000 }),
  groupSize: fc.integer({ min: 1, max: 6 }),
  identities: fc.uniqueArray(fc.constantFrom(...Array.from({ length: 60 }, (_, i) => `id-${i}`)), { minLength: 1, maxLength: 3 }),
  poe: fc.constantFrom(...poes)
}).map((e) => ({ ...e, groupSize: Math.max(e.groupSize, e.identities.length) }))

const inputArb = fc.record({
  entries: fc.array(entryArb(['a', 'b', 'c']), { maxLength: 120 }),
  slots: fc.record({
    a: fc.array(fc.integer({ min: 0, max: 12 }), { minLength: 1, maxLength: 4 }),
    b: fc.array(fc.integer({ min: 0, max: 12 }), { minLength: 1, maxLength: 4 }),
    c: fc.array(fc.integer({ min: 0, max: 12 }), { minLength: 1, maxLength: 4 })
  }),
  oldestShare: fc.double({ min: 0, max: 1, noNaN: true }),
  seed: fc.uint8Array({ minLength: 32, maxLength: 32 })
}).map(({ slots, ...rest }): AllocationInput => ({
  ...rest,
  slots: Object.fromEntries(Object.entries(slots).map(([poe, caps]) => [poe, caps.map((capacity, i) => ({ slot: `s${i}`, capacity }))]))
}))

describe('allocate (properties)', () => {
  it('never exceeds a slot or a port, never splits a group, and lets an identity win once', () => {
    fc.assert(fc.property(inputArb, (input) => {
      const { assignments } = allocate(input)
      const byId = new Map(input.entries.map((e) => [e.registrationId, e]))
      const used = new Map<string, number>()
      const seen = new Set<string>()
      for (const a of assignments) {
        const entry = byId.get(a.registrationId) as PoolEntry
        expect(a.poe).toBe(entry.poe)
        expect(a.groupSize).toBe(entry.groupSize)
        const slot = input.slots[a.poe]?.find((s) => s.slot === a.slot)
        // The whole group inside one slot.
        expect(a.firstPlace + a.groupSize).toBeLessThanOrEqual(slot?.capacity as number)
        const k = `${a.poe}/${a.slot}`
        used.set(k, (used.get(k) ?? 0) + a.groupSize)
        for (const id of entry.identities) {
          expect(seen.has(id)).toBe(false)
          seen.add(id)
        }
      }
      for (const [poe, slots] of Object.entries(input.slots)) {
        for (const s of slots) expect(used.get(`${poe}/${s.slot}`) ?? 0).toBeLessThanOrEqual(s.capacity)
      }
      // Places within a slot never overlap.
      const places = new Set<string>()
      for (const a of assignments) {
        for (let p = a.firstPlace; p < a.firstPlace + a.groupSize; p++) {
          const key = `${a.poe}/${a.slot}/${p}`
          expect(places.has(key)).toBe(false)
          places.add(key)
        }
      }
    }), { numRuns: 300 })
  })

  it('gives the oldest share by take-or-skip, exactly', () => {
    fc.assert(fc.property(inputArb, (input) => {
      // One big slot per port, so only the share decides (the model below knows no slots).
      const oneSlot = { ...input, slots: Object.fromEntries(Object.entries(input.slots).map(([poe, s]) => [poe, [{ slot: 'all', capacity: s.reduce((n, x) => n + x.capacity, 0) }]])) }
      const { assignments } = allocate(oneSlot)
      const won = new Set<string>()
      for (const poe of Object.keys(oneSlot.slots).sort()) {
        const capacity = oneSlot.slots[poe]?.[0]?.capacity as number
        let budget = Math.floor(capacity * input.oldestShare)
        const expected: string[] = []
        const sorted = input.entries.filter((e) => e.poe === poe).sort((a, b) => a.createdAtMs - b.createdAtMs || (a.registrationId < b.registrationId ? -1 : 1))
        for (const e of sorted) {
          if (budget === 0) break
          if (e.groupSize <= budget && !e.identities.some((id) => won.has(id))) {
            expected.push(e.registrationId)
            budget -= e.groupSize
            e.identities.forEach((id) => won.add(id))
          }
        }
        expect(assignments.filter((a) => a.poe === poe && a.rule === 'oldest').map((a) => a.registrationId)).toEqual(expected)
        for (const a of assignments.filter((x) => x.poe === poe && x.rule === 'random')) (input.entries.find((e) => e.registrationId === a.registrationId) as PoolEntry).identities.forEach((id) => won.add(id))
      }
    }), { numRuns: 300 })
  })

  it('is a pure function: the same inputs give the same output, and the oldest share ignores input order', () => {
    fc.assert(fc.property(inputArb, (input) => {
      const first = allocate(input)
      expect(allocate(structuredClone(input))).toEqual(first)
      const reversed = allocate({ ...input, entries: [...input.entries].reverse() })
      const oldest = (r: typeof first) => r.assignments.filter((a) => a.rule === 'oldest')
      expect(oldest(reversed)).toEqual(oldest(first))
    }), { numRuns: 200 })
  })

  it('gives different draws for different seeds when the pool exceeds capacity', () => {
    const entries: PoolEntry[] = Array.from({ length: 500 }, (_, i) => ({ registrationId: `r${i}`, createdAtMs: i, groupSize: 1, identities: [`p${i}`], poe: 'a' }))
    const draw = (n: number) => allocate({ entries, slots: { a: [{ slot: 's', capacity: 50 }] }, oldestShare: 0.3, seed: seedOf(n) })
      .assignments.filter((a) => a.rule === 'random').map((a) => a.registrationId).sort().join()
    const draws = new Set(Array.from({ length: 20 }, (_, n) => draw(n)))
    expect(draws.size).toBe(20)
  })

  it('fills the random share uniformly: single entries win with chi-square-bounded frequencies', () => {
    // 40 single-person entries, 10 random places, 4,000 draws: each should win ~1,000 times.
    const entries: PoolEntry[] = Array.from({ length: 40 }, (_, i) => ({ registrationId: `r${String(i).padStart(2, '0')}`, createdAtMs: i, groupSize: 1, identities: [`p${i}`], poe: 'a' }))
    const wins = new Map<string, number>(entries.map((e) => [e.registrationId, 0]))
    const draws = 4_000
    for (let n = 0; n < draws; n++) {
      for (const a of allocate({ entries, slots: { a: [{ slot: 's', capacity: 10 }] }, oldestShare: 0, seed: seedOf(n) }).assignments) {
        wins.set(a.registrationId, (wins.get(a.registrationId) as number) + 1)
      }
    }
    const expected = (draws * 10) / 40
    const chiSquare = [...wins.values()].reduce((sum, w) => sum + (w - expected) ** 2 / expected, 0)
    // 39 degrees of freedom: P(chi2 > 72.05) = 0.001. (Wins are not independent across entries
    // within a draw, which makes the statistic smaller, not larger: the bound is conservative.)
    expect(chiSquare).toBeLessThan(72.05)
  })
})

describe('KeyStream', () => {
  it('is deterministic per key and stays within range', () => {
    const a = new KeyStream(seedOf(1))
    const b = new KeyStream(seedOf(1))
    const xs = Array.from({ length: 1000 }, () => a.below(7))
    expect(Array.from({ length: 1000 }, () => b.below(7))).toEqual(xs)
    expect(xs.every((x) => x >= 0 && x < 7)).toBe(true)
    expect(new Set(xs).size).toBe(7)
  })
})

describe('allocate (inputs)', () => {
  it('refuses a seed that is not 32 bytes and a share outside 0..1', () => {
    expect(() => allocate({ entries: [], slots: {}, oldestShare: 0.3, seed: new Uint8Array(8) })).toThrow('seed must be 32 bytes')
    expect(() => allocate({ entries: [], slots: {}, oldestShare: 1.5, seed: seedOf(1) })).toThrow('oldestShare must be between 0 and 1')
  })
})
