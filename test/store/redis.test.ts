import { describe, expect, it } from 'vitest'
import { ManualClock } from '../../gateway/store/clock.js'
import { StoreUnavailableError } from '../../gateway/store/errors.js'
import { storeKey } from '../../gateway/store/keys.js'
import { redisStores, suiteRedisName } from '../helpers/app.js'
import { closedPort } from '../helpers/ports.js'
import { realTimeElapse, storeContract } from './contract.js'

storeContract(suiteRedisName(), async () => {
  const clock = new ManualClock()
  return { stores: await redisStores({ clock }), clock, elapse: realTimeElapse(clock) }
})

// On the Cluster (the on-cluster project of npm run test:cluster, whose masters each have a
// replica), the contract again with durable writes: the key-value writes, the sorted-set MULTI
// and the outbox EVALs go as [w1..wn, WAIT 1] pipelines per master (replication.ts), and must
// behave as the plain ones. The suite's single redis-server has no replica to wait for.
if (suiteRedisName() === 'redis cluster') {
  storeContract('redis cluster with GATEWAY_REDIS_WAIT_REPLICAS=1', async () => {
    const clock = new ManualClock()
    // Generous, as in test/store/replication.test.ts: the contract is about what the writes do.
    return { stores: await redisStores({ clock, waitReplicas: 1, waitTimeoutMs: 2_000, commandTimeoutMs: 4_000 }), clock, elapse: realTimeElapse(clock) }
  })
}

describe('redis store when Redis is away', () => {
  it('fails every call at once with StoreUnavailableError instead of queueing it', async () => {
    const stores = await redisStores({ url: `redis://127.0.0.1:${await closedPort()}` })
    try {
      const k = storeKey('away', 'k')
      await expect(stores.ping()).rejects.toBeInstanceOf(StoreUnavailableError)
      await expect(stores.kv.get(k)).rejects.toBeInstanceOf(StoreUnavailableError)
      await expect(stores.counters.increment(k)).rejects.toBeInstanceOf(StoreUnavailableError)
      await expect(stores.sortedSets.add(k, 'm', 1)).rejects.toBeInstanceOf(StoreUnavailableError)
      await expect(stores.rateLimits.decide([{ key: k, ratePerSecond: 1, burst: 1 }])).rejects.toBeInstanceOf(StoreUnavailableError)
    } finally {
      await stores.close()
    }
  })
})

describe('redis shared-address index retention', () => {
  it('gives every key of an address its retention, renewed by a request', async () => {
    const stores = await redisStores()
    try {
      const redis = stores.redisClient
      if (redis === undefined) throw new Error('the Redis adapter exposes its client')
      const retentionMs = 60_000
      await stores.addresses.claim('A', { registrationId: 'r1', people: ['p1'], lastNames: ['n1'], sealedDisplay: 's', at: 1_000, retentionMs })
      const parts = ['people', 'names', 'regs', 'meta']
      const ttls = async (names: string[]) => Promise.all(names.map(async (part) => redis.pttl(storeKey('addr.A', part))))
      for (const ttl of await ttls(parts)) expect(ttl).toBeGreaterThan(retentionMs - 5_000)
      for (const ttl of await ttls(parts)) expect(ttl).toBeLessThanOrEqual(retentionMs)
      // A request with a longer retention renews every key, the request set's included.
      await stores.addresses.requested('A', 'laredo', ['p1'], 2_000, 10 * retentionMs)
      for (const ttl of await ttls([...parts, 'poes'])) expect(ttl).toBeGreaterThan(9 * retentionMs)
    } finally {
      await stores.close()
    }
  })
})
