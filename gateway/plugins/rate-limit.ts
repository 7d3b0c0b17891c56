// Token buckets on every route that names its roles, after authentication. Headers follow the
// IETF httpapi RateLimit header fields draft (draft-ietf-httpapi-ratelimit-headers-09):
//   RateLimit-Policy: "global";q=40000;w=2, "device";q=20;w=10
//   RateLimit: "device";r=19;t=1
// q is a bucket's burst, w the seconds it takes to refill from empty, r what the tightest
// bucket still admits and t the seconds until it is full again. A 429 adds Retry-After with
// jitter, so refused clients do not come back in one wave.
import { randomInt } from 'node:crypto'
import fp from 'fastify-plugin'
import { Counter, Gauge } from 'prom-client'
import type { Config } from '../../config/load.js'
import { RateLimitRules, type RateLimitRule } from '../domain/rate-limit-rules.js'
import { RateLimiter, type FailurePolicy, type RuleDecision } from '../domain/rate-limiter.js'
import { GatewayError } from '../errors.js'
import type { Clock } from '../store/clock.js'
import { createMemoryStores } from '../store/memory/index.js'

export interface RateLimitOptions {
  rateLimit: Config['rateLimit']
  storeRetryAfterSeconds: number
  clock: Clock
}

export default fp<RateLimitOptions>(async function rateLimit (fastify, opts) {
  const { rateLimit: config } = opts
  const rules = new RateLimitRules(config.rules)
  // The in-process stand-in for Redis on fail-open routes: same GCRA, same semantics, per instance.
  const local = createMemoryStores({ clock: opts.clock, sweepIntervalMs: 10_000 })
  fastify.addHook('onClose', async () => { await local.close() })

  const decisions = new Counter({
    name: 'gateway_rate_limit_decisions_total',
    help: 'Rate-limit decisions per rule. outcome: allowed, limited; source: store (Redis), cache (known-empty bucket, no store call), fallback (in-process buckets while the store is away).',
    labelNames: ['rule', 'outcome', 'source'] as const,
    registers: [fastify.metrics]
  })
  const unavailable = new Counter({
    name: 'gateway_rate_limit_unavailable_total',
    help: 'Requests refused with 503 because the store was away and the route fails closed.',
    labelNames: ['route'] as const,
    registers: [fastify.metrics]
  })
  const fallback = new Gauge({
    name: 'gateway_rate_limit_fallback_active',
    help: '1 while rate-limit decisions are made by in-process buckets because the store is away.',
    registers: [fastify.metrics]
  })
  fallback.set(0)

  const limiter = new RateLimiter({
    rules,
    store: fastify.stores.rateLimits,
    local: local.rateLimits,
    clock: opts.clock,
    fallbackProbeIntervalMs: config.fallbackProbeIntervalMs,
    overLimitCacheSize: config.overLimitCacheSize,
    onFallbackChange: (active) => {
      fallback.set(active ? 1 : 0)
      if (active) fastify.log.warn('rate limits: store unreachable, deciding with in-process buckets on fail-open routes')
      else fastify.log.info('rate limits: store reachable again')
    }
  })

  // Bound label children, looked up by a flat key: labels() hashes its arguments on every call.
  const children = new Map<string, ReturnType<typeof decisions.labels>>()
  const counted = (rule: string, allowed: boolean, source: string) => {
    const key = `${rule}|${allowed ? 1 : 0}|${source}`
    let child = children.get(key)
    if (child === undefined) {
      child = decisions.labels({ rule, outcome: allowed ? 'allowed' : 'limited', source })
      children.set(key, child)
    }
    return child
  }

  const policies = new Map<string, string>()
  const policyOf = (route: string): FailurePolicy => (config.routeFailurePolicies[route] ?? config.defaultFailurePolicy) as FailurePolicy
  const policyHeader = (route: string): string => {
    let header = policies.get(route)
    if (header === undefined) {
      header = rules.rulesFor(route).map(policyItem).join(', ')
      policies.set(route, header)
    }
    return header
  }

  fastify.addHook('onRequest', async function (request, reply) {
    if (request.routeOptions.config.roles === undefined) return
    const route = request.routeOptions.url as string
    const verdict = await limiter.check({ route, subject: request.principal?.subject, deviceId: request.deviceId, ip: request.ip }, policyOf(route))
    if (verdict.outcome === 'unavailable') {
      unavailable.inc({ route })
      throw new GatewayError('GW_ERR_STORE_UNAVAILABLE', { retryAfterSeconds: opts.storeRetryAfterSeconds })
    }
    for (const { rule, decision } of verdict.decisions) counted(rule.name, decision.allowed, verdict.source).inc()
    if (verdict.decisions.length === 0) return
    const tightest = tightestOf(verdict.decisions)
    reply.header('ratelimit-policy', policyHeader(route))
    reply.header('ratelimit', `"${tightest.rule.name}";r=${tightest.decision.remaining};t=${Math.ceil(tightest.decision.resetMs / 1000)}`)
    if (verdict.outcome === 'limited') {
      const wait = Math.max(...verdict.decisions.map((d) => d.decision.retryAfterMs))
      const retryAfterSeconds = Math.ceil(wait / 1000) + (config.retryJitterSeconds > 0 ? randomInt(config.retryJitterSeconds + 1) : 0)
      throw new GatewayError('GW_ERR_RATE_LIMITED', { retryAfterSeconds })
    }
  })
}, { name: 'rate-limit', dependencies: ['auth', 'metrics', 'stores', 'error-handler'] })

function policyItem (rule: RateLimitRule): string {
  return `"${rule.name}";q=${rule.burst};w=${Math.max(1, Math.ceil(rule.burst / rule.ratePerSecond))}`
}

// The bucket a client should heed: a refusing one first, else the one with least left.
function tightestOf (decisions: RuleDecision[]): RuleDecision {
  let best = decisions[0] as RuleDecision
  for (const d of decisions) {
    if (d.decision.allowed !== best.decision.allowed ? !d.decision.allowed : d.decision.remaining < best.decision.remaining) best = d
  }
  return best
}
