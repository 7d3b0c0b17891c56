import { systemClock, type Clock } from '../clock.js'
import type { Stores } from '../ports.js'
import { MemoryAddressIndexStore } from './address-index-store.js'
import { MemoryCounterStore } from './counter-store.js'
import { MemoryFeedStore } from './feed-store.js'
import { MemoryKeyValueStore } from './key-value-store.js'
import { MemoryOutboxStore } from './outbox-store.js'
import { Keyspace } from './keyspace.js'
import { MemoryRateLimitStore } from './rate-limit-store.js'
import { MemorySortedSetStore } from './sorted-set-store.js'
import { MemoryWindowStore } from './window-store.js'

export interface MemoryStoresOptions {
  clock?: Clock
  sweepIntervalMs?: number
  outboxPartitions?: number
  feedMaxLength?: number
}

/** The embedded store: one process, nothing kept after exit. */
export function createMemoryStores ({ clock = systemClock, sweepIntervalMs = 10_000, outboxPartitions = 8, feedMaxLength = 100_000 }: MemoryStoresOptions = {}): Stores {
  const keys = new Keyspace(clock, sweepIntervalMs)
  return {
    kind: 'memory',
    kv: new MemoryKeyValueStore(keys),
    counters: new MemoryCounterStore(keys),
    sortedSets: new MemorySortedSetStore(keys),
    rateLimits: new MemoryRateLimitStore(keys),
    windows: new MemoryWindowStore(keys),
    outbox: new MemoryOutboxStore(clock, outboxPartitions),
    feed: new MemoryFeedStore(feedMaxLength),
    addresses: new MemoryAddressIndexStore(),
    ping: async () => {},
    close: async () => keys.close()
  }
}
