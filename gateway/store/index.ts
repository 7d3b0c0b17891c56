import { parseClusterNode, usesRedis, type Config } from '../../config/load.js'
import { systemClock, type Clock } from './clock.js'
import { createMemoryStores } from './memory/index.js'
import type { Stores } from './ports.js'
import { createRedisStores } from './redis/index.js'

export interface CreateStoresOptions {
  clock?: Clock
  onConnectionError?: (err: Error) => void
}

/** Redis when a URL or Cluster nodes are configured, the embedded memory store otherwise. */
export async function createStores (config: Config['store'], { clock = systemClock, onConnectionError }: CreateStoresOptions = {}): Promise<Stores> {
  if (!usesRedis(config)) return createMemoryStores({ clock, sweepIntervalMs: config.memorySweepIntervalMs, outboxPartitions: config.outboxPartitions, feedMaxLength: config.feedMaxLength })
  return createRedisStores({
    ...(config.clusterNodes === ''
      ? { url: config.redisUrl }
      : { clusterNodes: config.clusterNodes.split(',').map((node) => parseClusterNode(node) as { host: string, port: number }) }),
    waitReplicas: config.waitReplicas,
    waitTimeoutMs: config.waitTimeoutMs,
    keyPrefix: config.keyPrefix,
    commandTimeoutMs: config.commandTimeoutMs,
    connectTimeoutMs: config.connectTimeoutMs,
    autoPipelining: config.autoPipelining,
    outboxPartitions: config.outboxPartitions,
    feedMaxLength: config.feedMaxLength,
    clock,
    ...(onConnectionError === undefined ? {} : { onConnectionError })
  })
}
