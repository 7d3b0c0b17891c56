import { ManualClock } from '../../gateway/store/clock.js'
import { createMemoryStores } from '../../gateway/store/memory/index.js'
import { storeContract } from './contract.js'

storeContract('memory', async () => {
  const clock = new ManualClock()
  return {
    stores: createMemoryStores({ clock, sweepIntervalMs: 60_000 }),
    clock,
    elapse: async (ms) => clock.advance(ms)
  }
})
