import { EXPIRY_SLACK_MS, assertBuckets, gcraStep, groupByTag, nowMicros } from '../gcra.js'
import { hashTagOf } from '../keys.js'
import type { BucketDecision, BucketSpec, RateLimitStore } from '../ports.js'
import type { Keyspace } from './keyspace.js'

export class MemoryRateLimitStore implements RateLimitStore {
  readonly #keys: Keyspace

  constructor (keys: Keyspace) {
    this.#keys = keys
  }

  async decide (buckets: readonly BucketSpec[], cost = 1): Promise<BucketDecision[]> {
    return this.decideNow(buckets, cost)
  }

  /** The same decision, synchronously: for an in-process fallback while Redis is away. */
  decideNow (buckets: readonly BucketSpec[], cost = 1): BucketDecision[] {
    assertBuckets(buckets, cost)
    const now = nowMicros(this.#keys.clock.now())
    const out = new Array<BucketDecision>(buckets.length)
    for (const group of groupByTag(buckets, (b) => hashTagOf(b.key))) {
      const steps = group.map((i) => {
        const bucket = buckets[i] as BucketSpec
        return gcraStep(bucket, this.#keys.get<number>(bucket.key) ?? null, now, cost)
      })
      const admitted = steps.every((s) => s.fits)
      group.forEach((bucketIndex, j) => {
        const step = steps[j] as (typeof steps)[number]
        if (admitted) this.#keys.set((buckets[bucketIndex] as BucketSpec).key, step.newTat, Math.ceil((step.newTat - now) / 1000) + EXPIRY_SLACK_MS)
        out[bucketIndex] = admitted ? step.admitted : step.refused
      })
    }
    return out
  }
}
