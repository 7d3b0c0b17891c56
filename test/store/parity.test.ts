// The Lua GCRA and the TypeScript GCRA must agree decision for decision: the memory adapter
// stands in for Redis in development and as the fail-open fallback, so any drift is a bug.
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ManualClock } from '../../gateway/store/clock.js'
import { storeKey } from '../../gateway/store/keys.js'
import { createMemoryStores } from '../../gateway/store/memory/index.js'
import type { BucketSpec, Stores } from '../../gateway/store/ports.js'
import { redisStores } from '../helpers/app.js'

describe('rate-limit parity between the memory and Redis adapters', () => {
  let redis: Stores
  const clock = new ManualClock()

  beforeAll(async () => { redis = await redisStores({ clock }) })
  afterAll(async () => { await redis.close() })

  it('gives identical decisions for any sequence of requests, costs, rates and pauses', async () => {
    let run = 0
    await fc.assert(fc.asyncProperty(
      fc.array(fc.record({
        ratePerSecond: fc.constantFrom(0.5, 1, 3, 10, 250),
        burst: fc.integer({ min: 1, max: 20 })
      }), { minLength: 1, maxLength: 3 }),
      fc.boolean(),
      fc.array(fc.record({
        pauseMs: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 3_000 }), fc.double({ min: 0, max: 50, noNaN: true })),
        cost: fc.integer({ min: 1, max: 4 }),
        subset: fc.integer({ min: 1, max: 7 })
      }), { minLength: 1, maxLength: 40 }),
      async (limits, sameTag, steps) => {
        run += 1
        const memory = createMemoryStores({ clock, sweepIntervalMs: 60_000 })
        const buckets: BucketSpec[] = limits.map((l, i) => ({
          key: sameTag ? storeKey(`p${run}`, `b${i}`) : storeKey(`p${run}-${i}`, 'b'),
          ...l
        }))
        try {
          for (const step of steps) {
            clock.advance(step.pauseMs)
            const chosen = buckets.filter((_, i) => (step.subset & (1 << i)) !== 0)
            if (chosen.length === 0) continue
            const [fromRedis, fromMemory] = await Promise.all([
              redis.rateLimits.decide(chosen, step.cost),
              memory.rateLimits.decide(chosen, step.cost)
            ])
            expect(fromRedis).toEqual(fromMemory)
          }
        } finally {
          await memory.close()
        }
      }
    ), { numRuns: 60 })
  })
})
