// Decides whether a request may pass every bucket that applies to it, and what to do when the
// shared store is away. No Fastify and no Redis here: the store comes in through its port.
import type { Clock } from '../store/clock.js'
import { StoreUnavailableError } from '../store/errors.js'
import type { BucketDecision, RateLimitStore } from '../store/ports.js'
import type { PlannedBucket, RateLimitRule, RateLimitRules, RequestFacts } from './rate-limit-rules.js'

export type FailurePolicy = 'open' | 'closed'

export interface RuleDecision {
  rule: RateLimitRule
  decision: BucketDecision
}

export type Verdict =
  | { outcome: 'allowed' | 'limited', source: 'store' | 'fallback' | 'cache', decisions: RuleDecision[] }
  | { outcome: 'unavailable' }

export interface RateLimiterOptions {
  rules: RateLimitRules
  /** The shared store (Redis in production). */
  store: RateLimitStore
  /** In-process buckets that stand in for the store while it is away, on fail-open routes. */
  local: RateLimitStore
  clock: Clock
  fallbackProbeIntervalMs: number
  overLimitCacheSize: number
  /** Told when decisions move to the local buckets (true) and back to the store (false). */
  onFallbackChange?: (active: boolean) => void
}

export class RateLimiter {
  readonly #o: RateLimiterOptions
  // Buckets known to refuse until a moment: a refused bucket's TAT never moves back, so until
  // then it refuses any request of the same cost. Exact, and it spares the store the traffic of
  // clients that hammer after a 429. Oldest entries go first when it is full.
  readonly #emptyUntil = new Map<string, { until: number, fullAt: number }>()
  #fallbackUntil = 0
  #inFallback = false
  #probing = false

  constructor (options: RateLimiterOptions) {
    this.#o = options
  }

  get inFallback (): boolean {
    return this.#inFallback
  }

  async check (facts: RequestFacts, policy: FailurePolicy): Promise<Verdict> {
    const planned = this.#o.rules.plan(facts)
    if (planned.length === 0) return { outcome: 'allowed', source: 'store', decisions: [] }
    const now = this.#o.clock.now()

    const cached = this.#fromCache(planned, now)
    if (cached !== undefined) return cached

    // While the store is away, one request at a time probes it once the interval is up; the
    // rest keep deciding locally, so a hung Redis holds up one request per interval, not all.
    const probe = this.#inFallback
    if (!probe || (now >= this.#fallbackUntil && !this.#probing)) {
      if (probe) this.#probing = true
      try {
        const decisions = await this.#o.store.decide(planned.map((p) => p.spec))
        this.#setFallback(false)
        return this.#verdict(planned, decisions, 'store', now)
      } catch (err) {
        if (!(err instanceof StoreUnavailableError)) throw err
        this.#fallbackUntil = this.#o.clock.now() + this.#o.fallbackProbeIntervalMs
        this.#setFallback(true)
      } finally {
        if (probe) this.#probing = false
      }
    }
    if (policy === 'closed') return { outcome: 'unavailable' }
    const decisions = await this.#o.local.decide(planned.map((p) => p.spec))
    return this.#verdict(planned, decisions, 'fallback', now)
  }

  #fromCache (planned: PlannedBucket[], now: number): Verdict | undefined {
    if (this.#o.overLimitCacheSize === 0) return undefined
    for (const p of planned) {
      const empty = this.#emptyUntil.get(p.spec.key)
      if (empty === undefined) continue
      if (empty.until <= now) {
        this.#emptyUntil.delete(p.spec.key)
        continue
      }
      const decision = { allowed: false, limit: p.spec.burst, remaining: 0, retryAfterMs: Math.ceil(empty.until - now), resetMs: Math.ceil(empty.fullAt - now) }
      return { outcome: 'limited', source: 'cache', decisions: [{ rule: p.rule, decision }] }
    }
    return undefined
  }

  #verdict (planned: PlannedBucket[], decisions: BucketDecision[], source: 'store' | 'fallback', now: number): Verdict {
    const ruled = planned.map((p, i) => ({ rule: p.rule, decision: decisions[i] as BucketDecision }))
    const admitted = ruled.every((r) => r.decision.allowed)
    if (!admitted && this.#o.overLimitCacheSize > 0) {
      ruled.forEach((r, i) => {
        if (r.decision.retryAfterMs > 0) this.#remember((planned[i] as PlannedBucket).spec.key, now + r.decision.retryAfterMs, now + r.decision.resetMs)
      })
    }
    return { outcome: admitted ? 'allowed' : 'limited', source, decisions: ruled }
  }

  #remember (key: string, until: number, fullAt: number): void {
    if (this.#emptyUntil.size >= this.#o.overLimitCacheSize) {
      const oldest = this.#emptyUntil.keys().next().value
      if (oldest !== undefined) this.#emptyUntil.delete(oldest)
    }
    this.#emptyUntil.set(key, { until, fullAt })
  }

  #setFallback (active: boolean): void {
    if (this.#inFallback === active) return
    this.#inFallback = active
    this.#o.onFallbackChange?.(active)
  }
}
