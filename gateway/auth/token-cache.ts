// Verified tokens only: fast-jwt's own cache also keeps failures for the clock tolerance, so a
// flood of forged tokens would push the good ones out. Keyed by a SHA-256 of the token, so the
// cache holds no usable token; an entry never outlives the token's exp (plus the tolerance the
// verifier itself allows).
import { createHash } from 'node:crypto'
import { LRUCache } from 'lru-cache'

export type Verify = (token: string) => Record<string, unknown>

export function cachedVerify (verify: Verify, size: number, toleranceMs: number, now: () => number = Date.now): Verify {
  const cache = new LRUCache<string, { claims: Record<string, unknown>, until: number }>({ max: size })
  return (token) => {
    const key = createHash('sha256').update(token).digest('base64')
    const hit = cache.get(key)
    if (hit !== undefined && hit.until > now()) return hit.claims
    const claims = verify(token)
    cache.set(key, { claims, until: (claims.exp as number) * 1000 + toleranceMs })
    return claims
  }
}
