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
    const now = nowMicros(this.#clock.now())
    const out = new Array<BucketDecision>(buckets.length)
    // On a single node every group goes in one script call: a request's buckets cost one command.
    // On a Cluster each group (one hash tag, so one slot) is its own call, all sent at once: a
    // script may only touch keys of one slot. Groups are independent either way, so the decisions
    // are the same.
    const calls = this.#redis.isCluster ? groups.map((g) => [g]) : [groups]
    await Promise.all(calls.map(async (part) => this.#run(buckets, part, now, cost, out)))
    return out
  }

  async #run (buckets: readonly BucketSpec[], groups: number[][], now: number, cost: number, out: BucketDecision[]): Promise<void> {
    const order = groups.flat()
    const args: Array<string | number> = order.map((i) => (buckets[i] as BucketSpec).key)
    args.push(now, cost, EXPIRY_SLACK_MS, groups.length, ...groups.map((g) => g.length))
    // The interval is computed here, once, so the script and the memory adapter cannot round it differently.
    for (const i of order) args.push(intervalMicros((buckets[i] as BucketSpec).ratePerSecond), (buckets[i] as BucketSpec).burst)
    const reply = await guard(this.#redis.gwGcra(order.length, ...args))
    order.forEach((bucketIndex, j) => {
      out[bucketIndex] = {
        allowed: reply[j * 4] === 1,
        limit: (buckets[bucketIndex] as BucketSpec).burst,
        remaining: reply[j * 4 + 1] as number,
        retryAfterMs: reply[j * 4 + 2] as number,
        resetMs: reply[j * 4 + 3] as number
      }
    })
  }
}
