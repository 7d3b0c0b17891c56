import { EXPIRY_SLACK_MS, assertBuckets, groupByTag, intervalMicros, nowMicros } from '../gcra.js'
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
    const groups = groupByTag(buckets, (b) => hashTagOf(b.key))
    const order = groups.flat()
    // One script call for every group: on a single Redis node a request's buckets cost one
    // command. (A Cluster adapter sends one call per slot instead; the semantics are the same.)
    const args: Array<string | number> = order.map((i) => (buckets[i] as BucketSpec).key)
    args.push(nowMicros(this.#clock.now()), cost, EXPIRY_SLACK_MS, groups.length, ...groups.map((g) => g.length))
    // The interval is computed here, once, so the script and the memory adapter cannot round it differently.
    for (const i of order) args.push(intervalMicros((buckets[i] as BucketSpec).ratePerSecond), (buckets[i] as BucketSpec).burst)
    const reply = await guard(this.#redis.gwGcra(order.length, ...args))
    const out = new Array<BucketDecision>(buckets.length)
    order.forEach((bucketIndex, j) => {
      out[bucketIndex] = {
        allowed: reply[j * 4] === 1,
        limit: (buckets[bucketIndex] as BucketSpec).burst,
        remaining: reply[j * 4 + 1] as number,
        retryAfterMs: reply[j * 4 + 2] as number,
        resetMs: reply[j * 4 + 3] as number
      }
    })
    return out
  }
}
