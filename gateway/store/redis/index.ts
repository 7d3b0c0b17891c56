import type { Cluster, Redis } from 'ioredis'
import type { Clock } from '../clock.js'
import { systemClock } from '../clock.js'
import { StoreUnavailableError } from '../errors.js'
import type { Stores } from '../ports.js'
import { createRedisClient, type RedisClientOptions } from './client.js'
import { RedisAddressIndexStore } from './address-index-store.js'
import { RedisCounterStore } from './counter-store.js'
import { RedisFeedStore } from './feed-store.js'
import { guard } from './guard.js'
import { RedisKeyValueStore } from './key-value-store.js'
import { RedisOutboxStore } from './outbox-store.js'
import { RedisRateLimitStore } from './rate-limit-store.js'
import { Replication } from './replication.js'
import { RedisSortedSetStore } from './sorted-set-store.js'
import { RedisWindowStore } from './window-store.js'

export interface RedisStoresOptions extends RedisClientOptions {
  clock?: Clock
  /** Streams the outbox is spread over (each its own hash slot on a Cluster). */
  outboxPartitions?: number
  /** Notifications the feed keeps, about. */
  feedMaxLength?: number
  /**
   * Replicas that must acknowledge a record write (key-value records, sorted-set entries, outbox
   * intents and appends) before it resolves; 0 (default) does not wait. See replication.ts.
   */
  waitReplicas?: number
  /** How long such a write waits for them (default 200 ms). */
  waitTimeoutMs?: number
  /** Told about connection trouble; ioredis keeps reconnecting on its own. */
  onConnectionError?: (err: Error) => void
}

/**
 * Stores shared by every gateway instance. Resolves once the first connection is up or has
 * failed: a gateway started during a Redis outage serves what it can and reports not ready.
 */
export async function createRedisStores (options: RedisStoresOptions): Promise<Stores> {
  const { clock = systemClock, onConnectionError = () => {} } = options
  const redis = createRedisClient(options)
  const replicas = options.waitReplicas ?? 0
  // WAIT blocks the connection it is sent on until the replicas answer: on the shared connection,
  // a master that lost its replica (after a failover, until one rejoins) would hold every rate
  // limit and read behind a WAIT's timeout. Durable writes get a connection of their own.
  const durable = replicas > 0 ? createRedisClient({ ...options, connectionName: 'gateway-durable', noResend: true }) : undefined
  const replication = new Replication(durable ?? redis, { replicas, timeoutMs: options.waitTimeoutMs ?? 200 })
  const clients = durable === undefined ? [redis] : [redis, durable]
  await Promise.all(clients.map(async (client) => {
    client.on('error', onConnectionError)
    try {
      await client.connect()
    } catch (err) {
      onConnectionError(err as Error)
    }
  }))
  return {
    kind: 'redis',
    redisClient: redis,
    kv: new RedisKeyValueStore(redis, replication),
    counters: new RedisCounterStore(redis),
    sortedSets: new RedisSortedSetStore(redis, replication),
    rateLimits: new RedisRateLimitStore(redis, clock),
    windows: new RedisWindowStore(redis, clock),
    outbox: new RedisOutboxStore(redis, options.outboxPartitions ?? 8, replication),
    feed: new RedisFeedStore(redis, options.feedMaxLength ?? 100_000),
    addresses: new RedisAddressIndexStore(redis),
    // A write, not a PING: a replica or a Redis out of memory answers PING but refuses our writes.
    // On a Cluster it lands on the master of {health}'s slot; a Cluster that lost a slot's master
    // with no replica to promote refuses every slot (CLUSTERDOWN, cluster-require-full-coverage).
    ping: async () => {
      await guard(redis.set('{health}:probe', '1', 'PX', 10_000))
      // Durable writes have their own connection: with it down, every record write answers 503
      // while the main connection says ready. A PING, not a WAIT: readiness asks whether this
      // process can reach Redis, not whether a replica is in sync (a master left without one
      // refuses its slots' writes until one rejoins, and the other slots still take them).
      // On a Cluster every master's durable connection, by its state: a PING without a key would
      // reach one random master, and would queue behind that connection's WAIT.
      if (durable !== undefined) {
        const connections = durable.isCluster ? (durable as Cluster).nodes('master') : [durable as Redis]
        // A Cluster opens its node connections lazily, on their first command: open them here.
        await Promise.all(connections.filter((c) => c.status === 'wait').map(async (c) => { await c.connect().catch(() => {}) }))
        const down = connections.filter((c) => c.status !== 'ready')
        if (connections.length === 0 || down.length > 0) throw new StoreUnavailableError(new Error(`durable-write connection not ready (${down.map((c) => c.status).join(', ') || 'no masters'})`))
      }
    },
    close: async () => {
      await Promise.all(clients.map(async (client) => {
        try {
          await client.quit()
        } catch {
          client.disconnect()
        }
      }))
    }
  }
}
