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
