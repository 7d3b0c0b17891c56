// The store contract: every adapter (memory, Redis, later Redis Cluster) must pass exactly this.
import { setTimeout as sleep } from 'node:timers/promises'
import { afterAll, beforeEach, describe, expect, it } from 'vitest'
import type { ManualClock } from '../../gateway/store/clock.js'
import { storeKey } from '../../gateway/store/keys.js'
import { outboxPartition, type BucketSpec, type OutboxEntry, type OutboxEvent, type Stores } from '../../gateway/store/ports.js'

export interface ContractSubject {
  stores: Stores
  clock: ManualClock
  /** Lets `ms` pass for everything the store does: the injected clock, and Redis' own TTLs. */
  elapse(ms: number): Promise<void>
}

/** For adapters whose TTLs run on real time (Redis): move the clock and wait as long. */
export function realTimeElapse (clock: ManualClock): (ms: number) => Promise<void> {
  return async (ms) => {
    clock.advance(ms)
    await sleep(ms)
  }
}

let counter = 0
function key (...parts: string[]) {
  counter += 1
  return storeKey(`c${process.pid}-${counter}`, ...parts)
}

export function storeContract (name: string, create: () => Promise<ContractSubject>): void {
  describe(`${name} store contract`, () => {
    let subject: ContractSubject
    let all: ContractSubject[] = []

    beforeEach(async () => {
      subject = await create()
      all.push(subject)
    })

    afterAll(async () => {
      await Promise.all(all.map((s) => s.stores.close()))
      all = []
    })

    describe('key/value', () => {
      it('returns null for an absent key and what was set for a present one', async () => {
        const k = key('kv')
        expect(await subject.stores.kv.get(k)).toBe(null)
        await subject.stores.kv.set(k, 'héllo ✓ привіт')
        expect(await subject.stores.kv.get(k)).toBe('héllo ✓ привіт')
      })

      it('expires a value after its TTL, and reports the TTL left', async () => {
        const k = key('kv')
        await subject.stores.kv.set(k, 'v', { ttlMs: 60_000 })
        const left = await subject.stores.kv.ttl(k)
        expect(left).toBeGreaterThan(59_000)
        expect(left).toBeLessThanOrEqual(60_000)

        const short = key('kv')
        await subject.stores.kv.set(short, 'v', { ttlMs: 40 })
        await subject.elapse(120)
        expect(await subject.stores.kv.get(short)).toBe(null)
        expect(await subject.stores.kv.ttl(short)).toBe(null)
      })

      it('drops the TTL when a value is set again without one', async () => {
        const k = key('kv')
        await subject.stores.kv.set(k, 'a', { ttlMs: 60_000 })
        await subject.stores.kv.set(k, 'b')
        expect(await subject.stores.kv.ttl(k)).toBe(null)
        expect(await subject.stores.kv.get(k)).toBe('b')
      })

      it('writes with setIfAbsent only when the key is absent or expired', async () => {
        const k = key('kv')
        expect(await subject.stores.kv.setIfAbsent(k, 'first', { ttlMs: 40 })).toBe(true)
        expect(await subject.stores.kv.setIfAbsent(k, 'second')).toBe(false)
        expect(await subject.stores.kv.get(k)).toBe('first')
        await subject.elapse(120)
        expect(await subject.stores.kv.setIfAbsent(k, 'third')).toBe(true)
        expect(await subject.stores.kv.get(k)).toBe('third')
      })

      it('deletes, telling whether there was something to delete', async () => {
        const k = key('kv')
        await subject.stores.kv.set(k, 'v')
        expect(await subject.stores.kv.delete(k)).toBe(true)
        expect(await subject.stores.kv.delete(k)).toBe(false)
        expect(await subject.stores.kv.get(k)).toBe(null)
      })

      it('deletes only while the key still holds the given value', async () => {
        const k = key('kv')
        await subject.stores.kv.set(k, 'mine')
        expect(await subject.stores.kv.deleteIfEquals(k, 'theirs')).toBe(false)
        expect(await subject.stores.kv.get(k)).toBe('mine')
        expect(await subject.stores.kv.deleteIfEquals(k, 'mine')).toBe(true)
        expect(await subject.stores.kv.get(k)).toBe(null)
        expect(await subject.stores.kv.deleteIfEquals(k, 'mine')).toBe(false)
      })

      it('replaces only while the key still holds the expected value (compare-and-set), with the given TTL', async () => {
        const k = key('kv')
        expect(await subject.stores.kv.replaceIfEquals(k, 'v1', 'v2')).toBe(false)
        expect(await subject.stores.kv.get(k)).toBe(null)
        await subject.stores.kv.set(k, 'v1', { ttlMs: 60_000 })
        expect(await subject.stores.kv.replaceIfEquals(k, 'v0', 'v2')).toBe(false)
        expect(await subject.stores.kv.get(k)).toBe('v1')
        expect(await subject.stores.kv.replaceIfEquals(k, 'v1', 'v2', { ttlMs: 5_000 })).toBe(true)
        expect(await subject.stores.kv.get(k)).toBe('v2')
        const left = await subject.stores.kv.ttl(k) as number
        expect(left).toBeGreaterThan(4_000)
        expect(left).toBeLessThanOrEqual(5_000)
        expect(await subject.stores.kv.replaceIfEquals(k, 'v1', 'v3')).toBe(false)
        expect(await subject.stores.kv.replaceIfEquals(k, 'v2', 'v3')).toBe(true)
        expect(await subject.stores.kv.ttl(k)).toBe(null)
        // Of many racing writers with the same expectation, exactly one wins.
        const wins = await Promise.all(Array.from({ length: 20 }, async (_, i) => subject.stores.kv.replaceIfEquals(k, 'v3', `w${i}`)))
        expect(wins.filter(Boolean)).toHaveLength(1)
      })

      it('renews a TTL only on a key that exists, and with expireIfEquals only while it holds the value', async () => {
        const k = key('kv')
        expect(await subject.stores.kv.expire(k, 60_000)).toBe(false)
        expect(await subject.stores.kv.get(k)).toBe(null)
        await subject.stores.kv.set(k, 'mine', { ttlMs: 40 })
        expect(await subject.stores.kv.expireIfEquals(k, 'theirs', 60_000)).toBe(false)
        expect(await subject.stores.kv.expireIfEquals(k, 'mine', 60_000)).toBe(true)
        await subject.elapse(120)
        expect(await subject.stores.kv.get(k)).toBe('mine')
        expect(await subject.stores.kv.expire(k, 40)).toBe(true)
        await subject.elapse(120)
        expect(await subject.stores.kv.get(k)).toBe(null)
      })

      it('refuses a TTL that is not a positive number', async () => {
        for (const ttlMs of [0, -5, Number.NaN, Infinity]) {
          await expect(subject.stores.kv.set(key('kv'), 'v', { ttlMs })).rejects.toThrow('ttlMs must be a positive number of milliseconds')
        }
      })
    })

    describe('counters', () => {
      it('starts at 0 and adds atomically', async () => {
        const k = key('n')
        expect(await subject.stores.counters.get(k)).toBe(0)
        expect(await subject.stores.counters.increment(k)).toBe(1)
        expect(await subject.stores.counters.increment(k, { by: 5 })).toBe(6)
        expect(await subject.stores.counters.increment(k, { by: -2 })).toBe(4)
        const results = await Promise.all(Array.from({ length: 50 }, () => subject.stores.counters.increment(k)))
        expect(new Set(results).size).toBe(50)
        expect(await subject.stores.counters.get(k)).toBe(54)
      })

      it('keeps the TTL set at creation (a fixed window) when later calls pass one', async () => {
        const k = key('n')
        await subject.stores.counters.increment(k, { ttlMs: 80 })
        await subject.elapse(50)
        expect(await subject.stores.counters.increment(k, { ttlMs: 80 })).toBe(2)
        await subject.elapse(60)
        expect(await subject.stores.counters.get(k)).toBe(0)
      })

      it('refuses a fractional step', async () => {
        await expect(subject.stores.counters.increment(key('n'), { by: 1.5 })).rejects.toThrow('increment takes an integer `by`')
      })
    })

    describe('sorted sets', () => {
      it('adds, re-scores, and keeps a score with onlyIfAbsent', async () => {
        const k = key('z')
        expect(await subject.stores.sortedSets.add(k, 'a', 10)).toBe(true)
        expect(await subject.stores.sortedSets.add(k, 'a', 5)).toBe(false)
        expect(await subject.stores.sortedSets.score(k, 'a')).toBe(5)
        expect(await subject.stores.sortedSets.add(k, 'a', 1, { onlyIfAbsent: true })).toBe(false)
        expect(await subject.stores.sortedSets.score(k, 'a')).toBe(5)
        expect(await subject.stores.sortedSets.score(k, 'missing')).toBe(null)
      })

      it('orders by score, then by member for equal scores', async () => {
        const k = key('z')
        for (const [member, score] of [['c', 2], ['b', 2], ['a', 3], ['d', 1], ['e', -1.5]] as const) {
          await subject.stores.sortedSets.add(k, member, score)
        }
        expect(await subject.stores.sortedSets.rangeByRank(k, 0, -1)).toEqual([
          { member: 'e', score: -1.5 }, { member: 'd', score: 1 }, { member: 'b', score: 2 },
          { member: 'c', score: 2 }, { member: 'a', score: 3 }
        ])
        expect(await subject.stores.sortedSets.rank(k, 'c')).toBe(3)
        expect(await subject.stores.sortedSets.rank(k, 'nobody')).toBe(null)
        expect(await subject.stores.sortedSets.rangeByRank(k, -2, -1)).toEqual([{ member: 'c', score: 2 }, { member: 'a', score: 3 }])
        expect(await subject.stores.sortedSets.rangeByRank(k, 1, 2)).toEqual([{ member: 'd', score: 1 }, { member: 'b', score: 2 }])
        expect(await subject.stores.sortedSets.rangeByRank(k, 7, 9)).toEqual([])
        expect(await subject.stores.sortedSets.count(k)).toBe(5)
        expect(await subject.stores.sortedSets.countByScore(k, 1, 2)).toBe(3)
        expect(await subject.stores.sortedSets.countByScore(k, -Infinity, Infinity)).toBe(5)
        expect(await subject.stores.sortedSets.rangeByScore(k, 1, 2, 10)).toEqual([{ member: 'd', score: 1 }, { member: 'b', score: 2 }, { member: 'c', score: 2 }])
        expect(await subject.stores.sortedSets.rangeByScore(k, 1.5, Infinity, 2)).toEqual([{ member: 'b', score: 2 }, { member: 'c', score: 2 }])
        expect(await subject.stores.sortedSets.rangeByScore(k, 4, 9, 10)).toEqual([])
        expect(await subject.stores.sortedSets.countByScore(k, 5, 1)).toBe(0)
      })

      it('round-trips infinite scores', async () => {
        const k = key('z')
        await subject.stores.sortedSets.add(k, 'top', Infinity)
        await subject.stores.sortedSets.add(k, 'bottom', -Infinity)
        expect(await subject.stores.sortedSets.rangeByRank(k, 0, -1)).toEqual([
          { member: 'bottom', score: -Infinity }, { member: 'top', score: Infinity }
        ])
      })

      it('removes by member and by score range', async () => {
        const k = key('z')
        for (let i = 0; i < 10; i++) await subject.stores.sortedSets.add(k, `m${i}`, i)
        expect(await subject.stores.sortedSets.remove(k, 'm0')).toBe(true)
        expect(await subject.stores.sortedSets.remove(k, 'm0')).toBe(false)
        expect(await subject.stores.sortedSets.removeByScore(k, 3, 5)).toBe(3)
        expect(await subject.stores.sortedSets.removeByScore(k, 100, 200)).toBe(0)
        expect((await subject.stores.sortedSets.rangeByRank(k, 0, -1)).map((e) => e.member)).toEqual(['m1', 'm2', 'm6', 'm7', 'm8', 'm9'])
      })

      it('pops the lowest scores, and the set is gone once empty', async () => {
        const k = key('z')
        for (const [member, score] of [['x', 3], ['y', 1], ['z', 2]] as const) await subject.stores.sortedSets.add(k, member, score)
        expect(await subject.stores.sortedSets.popMin(k, 2)).toEqual([{ member: 'y', score: 1 }, { member: 'z', score: 2 }])
        expect(await subject.stores.sortedSets.popMin(k, 5)).toEqual([{ member: 'x', score: 3 }])
        expect(await subject.stores.sortedSets.popMin(k, 1)).toEqual([])
        expect(await subject.stores.sortedSets.count(k)).toBe(0)
        await expect(subject.stores.sortedSets.popMin(k, 0)).rejects.toThrow('popMin takes a positive integer count')
      })

      it('expires the whole set after the TTL of its last write', async () => {
        const k = key('z')
        await subject.stores.sortedSets.add(k, 'a', 1, { ttlMs: 40 })
        await subject.elapse(120)
        expect(await subject.stores.sortedSets.count(k)).toBe(0)
      })
    })

    describe('rolling windows', () => {
      it('admits up to max per window, then says when the oldest entry leaves', async () => {
        const k = key('w')
        const rule = { windowMs: 1_000, max: 3 }
        const answers = []
        for (let i = 0; i < 4; i++) {
          answers.push(await subject.stores.windows.admit(k, `m${i}`, rule))
          await subject.elapse(10)
        }
        expect(answers.map((a) => a.admitted)).toEqual([true, true, true, false])
        expect(answers[3]).toEqual({ admitted: false, refusedFor: 'limit', count: 3, retryAfterMs: 970 })
        // Now t = 40: at t = 1000 the first entry (t = 0) has left, the ones at 10 and 20 have not.
        await subject.elapse(960)
        expect(await subject.stores.windows.admit(k, 'm9', rule)).toEqual({ admitted: true, count: 3, retryAfterMs: 0 })
      })

      it('refuses an entry too soon after the last one, saying when it may come', async () => {
        const k = key('w')
        const rule = { windowMs: 10_000, max: 5, minIntervalMs: 100 }
        expect((await subject.stores.windows.admit(k, 'a', rule)).admitted).toBe(true)
        await subject.elapse(40)
        expect(await subject.stores.windows.admit(k, 'b', rule)).toEqual({ admitted: false, refusedFor: 'interval', count: 1, retryAfterMs: 60 })
        await subject.elapse(60)
        expect((await subject.stores.windows.admit(k, 'c', rule)).admitted).toBe(true)
      })

      it('admits a member already in the window again, changing nothing (a step retried under the same member)', async () => {
        const k = key('w')
        const rule = { windowMs: 10_000, max: 2, minIntervalMs: 1_000 }
        expect(await subject.stores.windows.admit(k, 'a', rule)).toEqual({ admitted: true, count: 1, retryAfterMs: 0 })
        await subject.elapse(10)
        // Not too soon after itself, and not counted twice.
        expect(await subject.stores.windows.admit(k, 'a', rule)).toEqual({ admitted: true, count: 1, retryAfterMs: 0 })
        expect(await subject.stores.windows.admit(k, 'b', rule)).toEqual({ admitted: false, refusedFor: 'interval', count: 1, retryAfterMs: 990 })
        await subject.elapse(990)
        expect(await subject.stores.windows.admit(k, 'b', rule)).toEqual({ admitted: true, count: 2, retryAfterMs: 0 })
        expect(await subject.stores.windows.admit(k, 'a', rule)).toEqual({ admitted: true, count: 2, retryAfterMs: 0 })
        expect((await subject.stores.windows.admit(k, 'c', rule)).admitted).toBe(false)
      })

      it('takes an entry back on release', async () => {
        const k = key('w')
        const rule = { windowMs: 60_000, max: 1 }
        await subject.stores.windows.admit(k, 'a', rule)
        expect((await subject.stores.windows.admit(k, 'b', rule)).admitted).toBe(false)
        await subject.stores.windows.release(k, 'a')
        expect((await subject.stores.windows.admit(k, 'b', rule)).admitted).toBe(true)
      })

      it('admits exactly max of many concurrent entries', async () => {
        const k = key('w')
        const answers = await Promise.all(Array.from({ length: 30 }, (_, i) => subject.stores.windows.admit(k, `c${i}`, { windowMs: 60_000, max: 7 })))
        expect(answers.filter((a) => a.admitted)).toHaveLength(7)
      })
    })

    describe('rate-limit decisions (GCRA)', () => {
      const bucket = (k: ReturnType<typeof key>, ratePerSecond: number, burst: number): BucketSpec => ({ key: k, ratePerSecond, burst })

      it('admits a full burst, then refuses with the exact wait', async () => {
        const b = bucket(key('rl'), 10, 5)
        const remaining: number[] = []
        for (let i = 0; i < 5; i++) {
          const [d] = await subject.stores.rateLimits.decide([b])
          expect(d?.allowed).toBe(true)
          remaining.push(d?.remaining as number)
        }
        expect(remaining).toEqual([4, 3, 2, 1, 0])
        expect(await subject.stores.rateLimits.decide([b])).toEqual([
          { allowed: false, limit: 5, remaining: 0, retryAfterMs: 100, resetMs: 500 }
        ])
      })

      it('refills at the configured rate', async () => {
        const b = bucket(key('rl'), 10, 2)
        await subject.stores.rateLimits.decide([b])
        await subject.stores.rateLimits.decide([b])
        expect((await subject.stores.rateLimits.decide([b]))[0]?.allowed).toBe(false)
        subject.clock.advance(100)
        expect(await subject.stores.rateLimits.decide([b])).toEqual([
          { allowed: true, limit: 2, remaining: 0, retryAfterMs: 0, resetMs: 200 }
        ])
        subject.clock.advance(10_000)
        expect(await subject.stores.rateLimits.decide([b])).toEqual([
          { allowed: true, limit: 2, remaining: 1, retryAfterMs: 0, resetMs: 100 }
        ])
      })

      it('charges a cost of several tokens at once', async () => {
        const b = bucket(key('rl'), 1, 5)
        expect((await subject.stores.rateLimits.decide([b], 3))[0]).toEqual({ allowed: true, limit: 5, remaining: 2, retryAfterMs: 0, resetMs: 3000 })
        expect((await subject.stores.rateLimits.decide([b], 3))[0]).toEqual({ allowed: false, limit: 5, remaining: 2, retryAfterMs: 1000, resetMs: 3000 })
      })

      it('handles a rate below one per second', async () => {
        const b = bucket(key('rl'), 0.5, 1)
        expect((await subject.stores.rateLimits.decide([b]))[0]?.allowed).toBe(true)
        expect((await subject.stores.rateLimits.decide([b]))[0]).toEqual({ allowed: false, limit: 1, remaining: 0, retryAfterMs: 2000, resetMs: 2000 })
      })

      it('admits exactly the burst at wall-clock magnitude, whatever the rate', async () => {
        // Intervals like 1000/7 ms used to drift in a double next to an epoch in ms (19 of 20).
        subject.clock.set(Date.now())
        for (const [ratePerSecond, burst] of [[7, 20], [15_000, 3_000], [3, 11]] as const) {
          const b = bucket(key('rl'), ratePerSecond, burst)
          let admitted = 0
          for (let i = 0; i < burst + 5; i++) if ((await subject.stores.rateLimits.decide([b]))[0]?.allowed === true) admitted++
          expect(admitted, `rate ${ratePerSecond}, burst ${burst}`).toBe(burst)
        }
      })

      it('decides buckets of one hash tag all or nothing', async () => {
        const tag = `g${counter++}`
        const wide = bucket(storeKey(tag, 'wide'), 1, 5)
        const narrow = bucket(storeKey(tag, 'narrow'), 1, 1)
        expect((await subject.stores.rateLimits.decide([wide, narrow])).map((d) => d.allowed)).toEqual([true, true])
        const refused = await subject.stores.rateLimits.decide([wide, narrow])
        expect(refused).toEqual([
          { allowed: false, limit: 5, remaining: 4, retryAfterMs: 0, resetMs: 1000 },
          { allowed: false, limit: 1, remaining: 0, retryAfterMs: 1000, resetMs: 1000 }
        ])
        // The wide bucket spent nothing on the refused request.
        expect((await subject.stores.rateLimits.decide([wide]))[0]?.remaining).toBe(3)
      })

      it('decides buckets of different hash tags independently', async () => {
        const wide = bucket(key('rl'), 1, 5)
        const narrow = bucket(key('rl'), 1, 1)
        await subject.stores.rateLimits.decide([wide, narrow])
        const second = await subject.stores.rateLimits.decide([wide, narrow])
        expect(second.map((d) => d.allowed)).toEqual([true, false])
        expect(second[0]?.remaining).toBe(3)
      })

      it('refuses nonsense limits instead of guessing', async () => {
        await expect(subject.stores.rateLimits.decide([bucket(key('rl'), 0, 1)])).rejects.toThrow('must be a positive number')
        await expect(subject.stores.rateLimits.decide([bucket(key('rl'), 1, 0)])).rejects.toThrow('must be a positive integer')
        await expect(subject.stores.rateLimits.decide([bucket(key('rl'), 1, 1)], 0)).rejects.toThrow('cost must be a positive integer')
      })
    })

    describe('feed', () => {
      it('gives a reader everything appended after its cursor, in order, a page at a time, and nothing from before it started', async () => {
        const { feed } = subject.stores
        await feed.append({ topic: 'reg/old', message: 'before' })
        const start = await feed.read(null, 10)
        expect(start.entries).toEqual([])
        for (let i = 0; i < 5; i++) await feed.append({ topic: `reg/${i % 2}`, message: `m${i}` })
        const page = await feed.read(start.cursor, 3)
        expect(page.entries).toEqual([{ topic: 'reg/0', message: 'm0' }, { topic: 'reg/1', message: 'm1' }, { topic: 'reg/0', message: 'm2' }])
        const rest = await feed.read(page.cursor, 10)
        expect(rest.entries.map((e) => e.message)).toEqual(['m3', 'm4'])
        expect(await feed.read(rest.cursor, 10)).toEqual({ entries: [], cursor: rest.cursor })
      })
    })

    describe('shared-address index', () => {
      const DAY = 86_400_000
      const claim = (registrationId: string, people: string[], lastNames: string[], at: number, sealedDisplay = `sealed-${registrationId}`, retentionMs = 90 * DAY) => ({ registrationId, people, lastNames, at, sealedDisplay, retentionMs })

      it('counts each person, last name and registration once, however often claimed, and keeps the first display and both ends of time', async () => {
        const { addresses } = subject.stores
        expect(await addresses.claim('A', claim('r1', ['p1', 'p2'], ['n1'], 2_000))).toBe(2)
        expect(await addresses.claim('A', claim('r1', ['p1', 'p2'], ['n1'], 2_000))).toBe(2)
        expect(await addresses.claim('A', claim('r2', ['p2', 'p3'], ['n1', 'n2'], 1_000))).toBe(3)
        expect(await addresses.claim('A', claim('r3', ['p4'], ['n3'], 5_000))).toBe(4)
        expect(await addresses.clusters(['A', 'unknown'])).toEqual([
          { address: 'A', claimants: 4, distinctLastNames: 3, registrations: 3, perPoe: {}, firstSeen: 1_000, lastSeen: 5_000, sealedDisplay: 'sealed-r1' },
          null
        ])
      })

      it('counts claimants per port of entry once each, and ignores requests for an address never claimed', async () => {
        const { addresses } = subject.stores
        await addresses.claim('A', claim('r1', ['p1', 'p2'], ['n1'], 1_000))
        await addresses.claim('A', claim('r2', ['p3'], ['n2'], 1_000))
        await addresses.requested('A', 'laredo', ['p1', 'p2'], 3_000, 90 * DAY)
        await addresses.requested('A', 'laredo', ['p1', 'p2'], 4_000, 90 * DAY)
        await addresses.requested('A', 'nogales', ['p3'], 2_000, 90 * DAY)
        await addresses.requested('A', 'laredo', ['p3'], 2_500, 90 * DAY)
        await addresses.requested('B', 'laredo', ['p9'], 2_500, 90 * DAY)
        const [a, b] = await addresses.clusters(['A', 'B'])
        expect(a?.perPoe).toEqual({ laredo: 3, nogales: 1 })
        expect(a?.lastSeen).toBe(4_000)
        expect(a?.firstSeen).toBe(1_000)
        expect(b).toBe(null)
      })

      it('ranks addresses by claimants, most first (ties by address, descending), from a floor, by page', async () => {
        const { addresses } = subject.stores
        const people = (n: number, tag: string) => Array.from({ length: n }, (_, i) => `${tag}${i}`)
        await addresses.claim('A', claim('r1', people(3, 'a'), ['n'], 1))
        await addresses.claim('B', claim('r2', people(5, 'b'), ['n'], 1))
        await addresses.claim('C', claim('r3', people(1, 'c'), ['n'], 1))
        await addresses.claim('D', claim('r4', people(3, 'd'), ['n'], 1))
        // A grows past B: its place moves with its count.
        await addresses.claim('A', claim('r5', people(4, 'x'), ['n'], 1))
        expect(await addresses.top(2, 0, 10)).toEqual([
          { address: 'A', claimants: 7 },
          { address: 'B', claimants: 5 },
          { address: 'D', claimants: 3 }
        ])
        expect(await addresses.top(1, 0, 10)).toHaveLength(4)
        expect(await addresses.top(3, 1, 1)).toEqual([{ address: 'B', claimants: 5 }])
        expect(await addresses.top(3, 3, 5)).toEqual([])
        expect(await addresses.top(8, 0, 5)).toEqual([])
        await addresses.claim('E', claim('r6', people(3, 'e'), ['n'], 1))
        expect(await addresses.top(3, 2, 5)).toEqual([{ address: 'E', claimants: 3 }, { address: 'D', claimants: 3 }])
        // The dashboards' figures: addresses at a floor (inclusive) and the largest count.
        expect(await addresses.extent(3)).toEqual({ atOrAbove: 4, most: 7 })
        expect(await addresses.extent(6)).toEqual({ atOrAbove: 1, most: 7 })
        expect(await addresses.extent(8)).toEqual({ atOrAbove: 0, most: 7 })
      })

      it('forgets an address unseen for longer than its retention, and a request keeps one', async () => {
        const { addresses } = subject.stores
        const RETAIN = 10_000
        await addresses.claim('old', claim('r1', ['p1', 'p2'], ['n'], 1_000, 's1', RETAIN))
        await addresses.claim('kept', claim('r2', ['p3'], ['n'], 2_000, 's2', RETAIN))
        await addresses.requested('kept', 'laredo', ['p3'], 9_000, RETAIN)
        expect(await addresses.top(1, 0, 10)).toEqual([{ address: 'old', claimants: 2 }, { address: 'kept', claimants: 1 }])
        // At 11,001 'old' was last seen more than 10 s before; 'kept' was asked for at 9,000.
        await addresses.claim('new', claim('r3', ['p4'], ['n'], 11_001, 's3', RETAIN))
        expect(await addresses.top(1, 0, 10)).toEqual([{ address: 'new', claimants: 1 }, { address: 'kept', claimants: 1 }])
        expect(await addresses.extent(1)).toEqual({ atOrAbove: 2, most: 1 })
        // A request naming a forgotten address does not bring it back.
        await addresses.requested('old', 'laredo', ['p1'], 11_002, RETAIN)
        expect(await addresses.top(1, 0, 10)).toEqual([{ address: 'new', claimants: 1 }, { address: 'kept', claimants: 1 }])
      })

      it('counts an address claimed again after its retention anew, and leaves a forgotten one out of the ranking', async () => {
        const { addresses } = subject.stores
        const RETAIN = 100
        const twelve = Array.from({ length: 12 }, (_, i) => `x${i}`)
        await addresses.claim('X', claim('r1', twelve, ['n1', 'n2'], subject.clock.now(), 'sx1', RETAIN))
        await addresses.claim('Y', claim('r2', ['y1'], ['n'], subject.clock.now(), 'sy', RETAIN))
        // Past the retention (on Redis its keys expire by Redis' clock, here in real time too).
        await subject.elapse(150)
        await addresses.claim('X', claim('r3', ['x-new'], ['n3'], subject.clock.now(), 'sx2', RETAIN))
        // X counts its one new claimant, not 13, and that write forgot Y.
        expect(await addresses.top(1, 0, 10)).toEqual([{ address: 'X', claimants: 1 }])
        expect(await addresses.extent(1)).toEqual({ atOrAbove: 1, most: 1 })
        expect((await addresses.clusters(['X']))[0]).toMatchObject({ claimants: 1, distinctLastNames: 1, registrations: 1, sealedDisplay: 'sx2' })
        // A request naming the forgotten Y neither revives it nor puts it back in the ranking.
        await addresses.requested('Y', 'laredo', ['y1'], subject.clock.now(), RETAIN)
        expect(await addresses.top(1, 0, 10)).toEqual([{ address: 'X', claimants: 1 }])
        expect(await addresses.clusters(['Y'])).toEqual([null])
      })

      it('has no extent before the first claim', async () => {
        expect(await subject.stores.addresses.extent(1)).toEqual({ atOrAbove: 0, most: 0 })
      })
    })

    describe('outbox', () => {
      let n = 0
      const event = (type = 'registration.created', time = 1_700_000_000_000): OutboxEvent => ({ id: `evt-${process.pid}-${++n}`, type, time, payload: JSON.stringify({ n }) })
      // One partition key for every event, so a test works on one stream.
      const KEY = 'reg_same'

      it('appends to the partition its key hashes to, and spreads keys over partitions', async () => {
        const { outbox } = subject.stores
        const seen = new Set<number>()
        for (let i = 0; i < 64; i++) {
          const entry = await outbox.append(event(), `reg_${i}`)
          expect(entry.partition).toBe(outboxPartition(`reg_${i}`, outbox.partitions))
          seen.add(entry.partition)
        }
        expect(seen.size).toBeGreaterThan(outbox.partitions / 2)
      })

      it('hands each entry to one consumer once, in order, and forgets it once acknowledged', async () => {
        const { outbox } = subject.stores
        const events = [event(), event(), event()]
        const partition = (await outbox.append(events[0] as OutboxEvent, KEY)).partition
        for (const e of events.slice(1)) await outbox.append(e, KEY)
        const first = await outbox.read(partition, 'a', 2)
        expect(first.map((e) => e.event)).toEqual(events.slice(0, 2))
        const second = await outbox.read(partition, 'b', 10)
        expect(second.map((e) => e.event)).toEqual(events.slice(2))
        expect(await outbox.read(partition, 'a', 10)).toEqual([])
        expect(await outbox.stats()).toMatchObject({ depth: 3, pending: 3, oldestTime: 1_700_000_000_000, deadLetters: 0 })
        for (const entry of [...first, ...second]) await outbox.ack(entry)
        expect(await outbox.stats()).toEqual({ depth: 0, intents: 0, pending: 0, oldestTime: null, deadLetters: 0 })
      })

      it('lets another consumer take over entries left pending too long (a crashed instance)', async () => {
        const { outbox } = subject.stores
        const { partition } = await outbox.append(event(), KEY)
        const [held] = await outbox.read(partition, 'crashed', 1)
        expect(await outbox.claim(partition, 'rescuer', 200, 10)).toEqual([])
        await subject.elapse(250)
        const claimed = await outbox.claim(partition, 'rescuer', 200, 10)
        expect(claimed.map((e) => e.entryId)).toEqual([held?.entryId])
        expect(claimed[0]?.event).toEqual(held?.event)
        // Just claimed: not idle any more.
        expect(await outbox.claim(partition, 'third', 200, 10)).toEqual([])
        await outbox.ack(claimed[0] as OutboxEntry)
        expect((await outbox.stats()).depth).toBe(0)
      })

      it('keeps an entry held by its consumer from being claimed until it is idle again', async () => {
        const { outbox } = subject.stores
        const { partition } = await outbox.append(event(), KEY)
        const [held] = await outbox.read(partition, 'retrying', 1)
        await subject.elapse(250)
        await outbox.hold(held as OutboxEntry, 'retrying')
        expect(await outbox.claim(partition, 'rescuer', 200, 10)).toEqual([])
        await subject.elapse(250)
        expect((await outbox.claim(partition, 'rescuer', 200, 10)).map((e) => e.entryId)).toEqual([held?.entryId])
      })

      it('moves an entry given up on to the dead letters, with why, and can bring it back', async () => {
        const { outbox } = subject.stores
        const e = event('appointment.confirmed')
        const { partition } = await outbox.append(e, KEY)
        const [held] = await outbox.read(partition, 'a', 1)
        await outbox.deadLetter(held as OutboxEntry, 'attempts exhausted (HTTP 500)')
        expect(await outbox.stats()).toMatchObject({ depth: 0, pending: 0, deadLetters: 1 })
        const letters = await outbox.deadLetters(partition, 10)
        expect(letters).toEqual([{ entryId: expect.any(String), event: e, reason: 'attempts exhausted (HTTP 500)' }])
        expect(await outbox.revive(partition, 'no-such-letter-0')).toBe(false)
        expect(await outbox.revive(partition, '1-1')).toBe(false)
        expect(await outbox.revive(partition, (letters[0] as { entryId: string }).entryId)).toBe(true)
        expect(await outbox.stats()).toMatchObject({ depth: 1, deadLetters: 0 })
        expect((await outbox.read(partition, 'a', 10)).map((x) => x.event)).toEqual([e])
      })

      it('keeps an intent until its event is appended, which drops it in the same step', async () => {
        const { outbox } = subject.stores
        const e = event()
        const partition = outboxPartition(KEY, outbox.partitions)
        await outbox.intend(e, KEY, 1_000)
        // Recorded again (a retried step): the first record and its due time stay.
        await outbox.intend({ ...e, payload: '{"again":true}' }, KEY, 5_000)
        expect(await outbox.dueIntents(partition, 999, 10)).toEqual([])
        expect(await outbox.dueIntents(partition, 1_000, 10)).toEqual([{ event: e, partitionKey: KEY }])
        expect((await outbox.stats()).intents).toBe(1)
        await outbox.append(e, KEY)
        expect(await outbox.dueIntents(partition, 10_000, 10)).toEqual([])
        expect(await outbox.stats()).toMatchObject({ depth: 1, intents: 0 })
      })

      it('lists due intents oldest first, a page at a time, and drops one on request', async () => {
        const { outbox } = subject.stores
        const partition = outboxPartition(KEY, outbox.partitions)
        const [a, b, c] = [event(), event(), event()] as [OutboxEvent, OutboxEvent, OutboxEvent]
        await outbox.intend(a, KEY, 300)
        await outbox.intend(b, KEY, 100)
        await outbox.intend(c, KEY, 200)
        expect((await outbox.dueIntents(partition, 1_000, 2)).map((i) => i.event.id)).toEqual([b.id, c.id])
        await outbox.dropIntent(partition, b.id)
        expect((await outbox.dueIntents(partition, 1_000, 10)).map((i) => i.event.id)).toEqual([c.id, a.id])
        expect((await outbox.stats()).intents).toBe(2)
        expect(await outbox.stats()).toMatchObject({ depth: 0 })
      })

      it('refuses a partition it does not have', async () => {
        await expect(subject.stores.outbox.read(subject.stores.outbox.partitions, 'a', 1)).rejects.toThrow(RangeError)
        await expect(subject.stores.outbox.dueIntents(subject.stores.outbox.partitions, 0, 1)).rejects.toThrow(RangeError)
      })
    })
  })
}
