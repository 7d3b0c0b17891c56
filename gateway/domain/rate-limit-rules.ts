// Which buckets a request draws from: pure, from the configured rules and the request's facts.
import ipaddr from 'ipaddr.js'
import { storeKey } from '../store/keys.js'
import type { BucketSpec } from '../store/ports.js'

export type RateLimitScope = 'global' | 'route' | 'subject' | 'device' | 'ip'

export interface RateLimitRule {
  name: string
  scope: RateLimitScope
  ratePerSecond: number
  burst: number
  routes?: readonly string[] | undefined
}

export interface RequestFacts {
  /** The route template, e.g. /v1/schedule. */
  route: string
  /** The token's subject, when the request is authenticated. */
  subject?: string | undefined
  /** Canonical lower-case device UUID, when the route identifies devices. */
  deviceId?: string | undefined
  /** The client IP, as resolved through trusted proxies only. */
  ip: string
}

export interface PlannedBucket {
  rule: RateLimitRule
  spec: BucketSpec
}

export class RateLimitRules {
  readonly #rules: readonly RateLimitRule[]
  readonly #byRoute = new Map<string, readonly RateLimitRule[]>()

  constructor (rules: readonly RateLimitRule[]) {
    this.#rules = rules
  }

  /** The rules that apply to a route, in configuration order (memoised: routes are few). */
  rulesFor (route: string): readonly RateLimitRule[] {
    let rules = this.#byRoute.get(route)
    if (rules === undefined) {
      rules = this.#rules.filter((r) => r.routes === undefined || r.routes.includes(route))
      this.#byRoute.set(route, rules)
    }
    return rules
  }

  /**
   * One bucket per applicable rule. Each bucket gets a hash tag of its own: buckets are
   * decided independently, and a per-device key never lands in the same slot as the global one.
   */
  plan (facts: RequestFacts): PlannedBucket[] {
    const out: PlannedBucket[] = []
    for (const rule of this.rulesFor(facts.route)) {
      const key = keyFor(rule, facts)
      if (key === undefined) continue
      out.push({ rule, spec: { key, ratePerSecond: rule.ratePerSecond, burst: rule.burst } })
    }
    return out
  }
}

function keyFor (rule: RateLimitRule, facts: RequestFacts) {
  switch (rule.scope) {
    case 'global': return storeKey(`rl.${rule.name}`)
    case 'route': return storeKey(`rl.${rule.name}.${facts.route}`)
    case 'subject': return facts.subject === undefined ? undefined : storeKey(`rl.${rule.name}.${facts.subject}`)
    case 'device': return facts.deviceId === undefined ? undefined : storeKey(`rl.${rule.name}.${facts.deviceId}`)
    case 'ip': return storeKey(`rl.${rule.name}.${clientNetwork(facts.ip)}`)
  }
}

/**
 * The unit an IP bucket counts: an IPv4 address, or the /64 of an IPv6 one (one subscriber line
 * gets a whole /64, so per-address buckets would give a single client 2^64 of them).
 */
export function clientNetwork (ip: string): string {
  if (!ipaddr.isValid(ip)) return ip
  const address = ipaddr.parse(ip)
  if (address.kind() === 'ipv4') return address.toString()
  const v6 = address as ipaddr.IPv6
  if (v6.isIPv4MappedAddress()) return v6.toIPv4Address().toString()
  return `${v6.parts.slice(0, 4).map((p) => p.toString(16)).join(':')}::/64`
}
