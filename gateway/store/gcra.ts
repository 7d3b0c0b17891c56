// GCRA arithmetic shared by the memory adapter; redis/lua/gcra.lua is the same steps in Lua and
// the contract suite holds the two to identical answers.
//
// Each bucket keeps one number, its theoretical arrival time (TAT): the moment the bucket would
// be full again. A request of `cost` moves the TAT on by cost * interval; it is admitted when the
// new TAT lies no further than burst * interval ahead of now.
import type { BucketDecision, BucketSpec } from './ports.js'

/**
 * How long a bucket's key outlives the moment the bucket is full again. Expiring late is harmless
 * (a TAT in the past reads as a full bucket); expiring early would forget spent tokens when the
 * store's clock runs ahead of the gateway's.
 */
export const EXPIRY_SLACK_MS = 1_000

export interface GcraStep {
  /** Whether this bucket alone would admit the request. */
  fits: boolean
  /** The TAT to store when the whole group is admitted. */
  newTat: number
  /** The answer when the group is admitted. */
  admitted: BucketDecision
  /** The answer when the group is refused (by this bucket or a sibling): nothing was spent. */
  refused: BucketDecision
}

/**
 * Times inside the algorithm are whole microseconds. An epoch in milliseconds (about 1.8e12) has
 * no room left in a double for fractions of an interval such as 1000/7 ms: sums drift, and a
 * burst of 20 admitted 19. Whole microseconds stay exact integers (below 2^53) in JavaScript and
 * in Redis' Lua alike. The interval is rounded to the microsecond, so a rate of 7/s is enforced
 * as 1 per 142,857 µs (7.000007/s).
 */
export function intervalMicros (ratePerSecond: number): number {
  return Math.max(1, Math.round(1e6 / ratePerSecond))
}

export function nowMicros (epochMs: number): number {
  return Math.round(epochMs * 1000)
}

/** One bucket's arithmetic; `storedTat` and `now` in whole microseconds. */
export function gcraStep (bucket: BucketSpec, storedTat: number | null, now: number, cost: number): GcraStep {
  const interval = intervalMicros(bucket.ratePerSecond)
  const window = bucket.burst * interval
  const tat = Math.max(storedTat ?? now, now)
  const newTat = tat + cost * interval
  const allowAt = newTat - window
  return {
    fits: now >= allowAt,
    newTat,
    admitted: {
      allowed: true,
      limit: bucket.burst,
      remaining: Math.max(0, Math.floor((window - (newTat - now)) / interval)),
      retryAfterMs: 0,
      resetMs: Math.ceil((newTat - now) / 1000)
    },
    refused: {
      allowed: false,
      limit: bucket.burst,
      remaining: Math.max(0, Math.floor((window - (tat - now)) / interval)),
      retryAfterMs: Math.max(0, Math.ceil((allowAt - now) / 1000)),
      resetMs: Math.ceil((tat - now) / 1000)
    }
  }
}

/** Groups bucket indexes by hash tag, in first-seen order; each group is one atomic decision. */
export function groupByTag<T> (items: readonly T[], tagOf: (item: T) => string): number[][] {
  const groups = new Map<string, number[]>()
  items.forEach((item, i) => {
    const tag = tagOf(item)
    const group = groups.get(tag)
    if (group === undefined) groups.set(tag, [i])
    else group.push(i)
  })
  return [...groups.values()]
}

export function assertBuckets (buckets: readonly BucketSpec[], cost: number): void {
  if (!Number.isInteger(cost) || cost < 1) throw new RangeError('cost must be a positive integer')
  for (const b of buckets) {
    if (!(b.ratePerSecond > 0) || !Number.isFinite(b.ratePerSecond)) throw new RangeError(`ratePerSecond of ${b.key} must be a positive number`)
    if (!Number.isInteger(b.burst) || b.burst < 1) throw new RangeError(`burst of ${b.key} must be a positive integer`)
  }
}
