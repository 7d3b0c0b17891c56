import { EXPIRY_SLACK_MS, assertBuckets, groupByTag } from '../gcra.js'
import { hashTagOf } from '../keys.js'
import type { BucketDecision, BucketSpec, RateLimitStore } from '../ports.js'
import type { Clock } from '../clock.js'
import type { ScriptedRedis } from './client.js'
import { guard } from './guard.js'

// Time comes from the gateway's clock, not Redis TIME, as in envoy ratelimit's injected
// TimeSource: the same decisions in both adapters and in tests. NTP-synchronised instances differ
// by milliseconds, well inside any bucket's interval.
export class RedisRateLimitStore implements RateLimitStore {
  readonly #redis: ScriptedRedis
  readonly #clock: Clock

  constructor (redis: ScriptedRedis, clock: Clock) {
    this.#redis = redis
    this.#clock = clock
  }

  async decide (buckets: readonly BucketSpec[], cost = 1): Promise<BucketDecision[]> {
    assertBuckets(buckets, cost)
    const now = this.#clock.now()
    const groups = groupByTag(buckets, (b) => hashTagOf(b.key))
    // One script per hash tag, all issued in this tick: auto-pipelining sends them together.
    const replies = await guard(Promise.all(groups.map((group) => {
      const args: Array<string | number> = group.map((i) => (buckets[i] as BucketSpec).key)
      args.push(now, cost, EXPIRY_SLACK_MS)
      for (const i of group) args.push((buckets[i] as BucketSpec).ratePerSecond, (buckets[i] as BucketSpec).burst)
      return this.#redis.gwGcra(group.length, ...args)
    })))
    const out = new Array<BucketDecision>(buckets.length)
    groups.forEach((group, g) => {
      const reply = replies[g] as number[]
      group.forEach((bucketIndex, j) => {
        out[bucketIndex] = {
          allowed: reply[j * 4] === 1,
          limit: (buckets[bucketIndex] as BucketSpec).burst,
          remaining: reply[j * 4 + 1] as number,
          retryAfterMs: reply[j * 4 + 2] as number,
          resetMs: reply[j * 4 + 3] as number
        }
      })
    })
    return out
  }
}
