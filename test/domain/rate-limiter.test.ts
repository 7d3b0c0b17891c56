import { describe, expect, it } from 'vitest'
import { RateLimitRules, clientNetwork } from '../../gateway/domain/rate-limit-rules.js'
import { RateLimiter } from '../../gateway/domain/rate-limiter.js'
import { ManualClock } from '../../gateway/store/clock.js'
import { StoreUnavailableError } from '../../gateway/store/errors.js'
import { createMemoryStores } from '../../gateway/store/memory/index.js'
import type { BucketSpec, RateLimitStore } from '../../gateway/store/ports.js'

const rules = new RateLimitRules([
  { name: 'global', scope: 'global', ratePerSecond: 100, burst: 100 },
  { name: 'device', scope: 'device', ratePerSecond: 1, burst: 2 },
  { name: 'login', scope: 'ip', ratePerSecond: 1, burst: 1, routes: ['/v1/login'] }
])

// The shared store, observed: it counts calls and can be switched off like a Redis going away.
class ObservedStore implements RateLimitStore {
  calls = 0
  down = false
  readonly #inner: RateLimitStore

  constructor (inner: RateLimitStore) {
    this.#inner = inner
  }

  async decide (buckets: readonly BucketSpec[], cost?: number) {
    this.calls += 1
    if (this.down) throw new StoreUnavailableError(new Error('connection refused'))
    return this.#inner.decide(buckets, cost)
  }
}

function setup () {
  const clock = new ManualClock()
  const store = new ObservedStore(createMemoryStores({ clock }).rateLimits)
  const changes: boolean[] = []
  const limiter = new RateLimiter({
    rules,
    store,
    local: createMemoryStores({ clock }).rateLimits,
    clock,
    fallbackProbeIntervalMs: 1000,
    overLimitCacheSize: 10,
    onFallbackChange: (active) => changes.push(active)
  })
  return { clock, store, limiter, changes }
}

const facts = { route: '/v1/schedule', deviceId: 'd1', ip: '10.0.0.1' }

describe('RateLimitRules', () => {
  it('plans one bucket per applicable rule, each under a hash tag of its own', () => {
    expect(rules.plan(facts).map((p) => p.spec.key)).toEqual(['{rl.global}', '{rl.device.d1}'])
    expect(rules.plan({ route: '/v1/login', ip: '2001:db8::1' }).map((p) => p.spec.key)).toEqual(['{rl.global}', '{rl.login.2001%3Adb8%3A0%3A0%3A%3A/64}'])
  })
})

describe('clientNetwork', () => {
  it.each([
    ['203.0.113.7', '203.0.113.7'],
    ['2001:db8:1:2:aaaa:bbbb:cccc:dddd', '2001:db8:1:2::/64'],
    ['2001:db8:1:2::1', '2001:db8:1:2::/64'],
    ['::ffff:198.51.100.4', '198.51.100.4'],
    ['not-an-ip', 'not-an-ip']
  ])('counts %s as %s', (ip, network) => {
    expect(clientNetwork(ip)).toBe(network)
  })
})

describe('RateLimiter', () => {
  it('refuses a known-empty bucket without asking the store, until exactly its refill time', async () => {
    const { clock, store, limiter } = setup()
    expect((await limiter.check(facts, 'closed')).outcome).toBe('allowed')
    expect((await limiter.check(facts, 'closed')).outcome).toBe('allowed')
    const refused = await limiter.check(facts, 'closed')
    expect(refused).toMatchObject({ outcome: 'limited', source: 'store' })
    expect(store.calls).toBe(3)
    clock.advance(999)
    expect(await limiter.check(facts, 'closed')).toMatchObject({ outcome: 'limited', source: 'cache' })
    expect(store.calls).toBe(3)
    clock.advance(1)
    expect(await limiter.check(facts, 'closed')).toMatchObject({ outcome: 'allowed', source: 'store' })
    expect(store.calls).toBe(4)
  })

  it('while the store is away: closed routes are unavailable, open ones decide locally, and the store is probed once per interval', async () => {
    const { clock, store, limiter, changes } = setup()
    store.down = true
    expect(await limiter.check(facts, 'closed')).toEqual({ outcome: 'unavailable' })
    expect(await limiter.check(facts, 'open')).toMatchObject({ outcome: 'allowed', source: 'fallback' })
    expect(await limiter.check(facts, 'open')).toMatchObject({ outcome: 'allowed', source: 'fallback' })
    expect(await limiter.check(facts, 'open')).toMatchObject({ outcome: 'limited', source: 'fallback' })
    expect(store.calls).toBe(1)
    expect(limiter.inFallback).toBe(true)
    store.down = false
    clock.advance(999)
    expect(await limiter.check({ ...facts, deviceId: 'd2' }, 'closed')).toEqual({ outcome: 'unavailable' })
    clock.advance(1)
    expect(await limiter.check({ ...facts, deviceId: 'd2' }, 'closed')).toMatchObject({ outcome: 'allowed', source: 'store' })
    expect(changes).toEqual([true, false])
  })

  it('lets one request at a time probe a hung store; the others decide locally meanwhile', async () => {
    const clock = new ManualClock()
    let calls = 0
    // A store that hangs until released, like a Redis that stopped answering, then times out.
    let release: () => void = () => {}
    const hung: RateLimitStore = {
      decide: async () => {
        calls += 1
        await new Promise<void>((resolve) => { release = resolve })
        throw new StoreUnavailableError(new Error('command timed out'))
      }
    }
    const limiter2 = new RateLimiter({ rules, store: hung, local: createMemoryStores({ clock }).rateLimits, clock, fallbackProbeIntervalMs: 1000, overLimitCacheSize: 0 })
    // First failure trips the fallback; after the interval one probe hangs and the rest go local.
    const first = limiter2.check(facts, 'open')
    release()
    await first
    clock.advance(1000)
    calls = 0
    const probe = limiter2.check({ ...facts, deviceId: 'p' }, 'open')
    const others = await Promise.all(Array.from({ length: 20 }, (_, i) => limiter2.check({ ...facts, deviceId: `o${i}` }, 'open')))
    expect(others.every((v) => v.outcome === 'allowed' && v.source === 'fallback')).toBe(true)
    expect(calls).toBe(1)
    release()
    expect(await probe).toMatchObject({ outcome: 'allowed', source: 'fallback' })
  })

  it('lets other store errors through: a bug is not an outage', async () => {
    const clock = new ManualClock()
    const broken: RateLimitStore = { decide: async () => { throw new TypeError('bug') } }
    const limiter = new RateLimiter({ rules, store: broken, local: broken, clock, fallbackProbeIntervalMs: 1000, overLimitCacheSize: 0 })
    await expect(limiter.check(facts, 'open')).rejects.toThrow('bug')
  })
})
