import { readFileSync } from 'node:fs'
import { Cluster, Redis } from 'ioredis'

export interface RedisClientOptions {
  /** One Redis server (redis:// or rediss://). */
  url?: string
  /** Or seed nodes of a Redis Cluster (ioredis finds the others): the same stores code runs on it. */
  clusterNodes?: ReadonlyArray<{ host: string, port: number }>
  keyPrefix: string
  commandTimeoutMs: number
  connectTimeoutMs: number
  autoPipelining?: boolean
  /** CLIENT SETNAME of each connection, so CLIENT LIST tells them apart. */
  connectionName?: string
  /**
   * Never send again, after a reconnect, a command whose reply never came (ioredis'
   * autoResendUnfulfilledCommands, on by default): it was already answered to its caller as a
   * failure, and must not land after the caller's undo. The durable writes' connection sets it.
   */
  noResend?: boolean
}

/**
 * A connection to one Redis or to a Redis Cluster. The stores use only what both offer: keyed
 * commands, scripts and MULTI on one hash tag, pipelines on one slot.
 */
export type RedisConnection = Redis | Cluster

/** The gateway's Lua scripts, each sent once and then called by SHA (ioredis defineCommand). */
interface ScriptCommands {
  gwGcra(numKeys: number, ...args: Array<string | number>): Promise<number[]>
  gwIncrement(key: string, by: number, ttlMs: number): Promise<number>
  gwWindowAdmit(key: string, nowMs: number, windowMs: number, max: number, minIntervalMs: number, member: string, slackMs: number): Promise<number[]>
  gwDeleteIfEquals(key: string, value: string): Promise<number>
  gwExpireIfEquals(key: string, value: string, ttlMs: number): Promise<number>
  gwReplaceIfEquals(key: string, expected: string, value: string, ttlMs: number): Promise<number>
  gwOutboxIntend(intents: string, due: string, eventId: string, intent: string, dueAt: number): Promise<number>
  gwOutboxAppend(stream: string, intents: string, due: string, id: string, type: string, time: string, payload: string): Promise<string>
  gwAddressClaim(...keysAndArgs: Array<string | number>): Promise<number>
  gwAddressRequest(...keysAndArgs: Array<string | number>): Promise<number>
  gwAddressRead(...keys: string[]): Promise<[number, number, number, string[]]>
  gwAddressRank(...keysAndArgs: Array<string | number>): Promise<number>
}

export type ScriptedRedis = RedisConnection & ScriptCommands

export function lua (name: string): string {
  return readFileSync(new URL(`./lua/${name}.lua`, import.meta.url), 'utf8')
}

export function createRedisClient (options: RedisClientOptions): ScriptedRedis {
  const client = options.clusterNodes === undefined ? createServerClient(options) : createClusterClient(options, options.clusterNodes)
  client.defineCommand('gwGcra', { lua: lua('gcra') })
  client.defineCommand('gwIncrement', { numberOfKeys: 1, lua: lua('increment') })
  client.defineCommand('gwWindowAdmit', { numberOfKeys: 1, lua: lua('window-admit') })
  client.defineCommand('gwDeleteIfEquals', { numberOfKeys: 1, lua: lua('delete-if-equals') })
  client.defineCommand('gwExpireIfEquals', { numberOfKeys: 1, lua: lua('expire-if-equals') })
  client.defineCommand('gwReplaceIfEquals', { numberOfKeys: 1, lua: lua('replace-if-equals') })
  client.defineCommand('gwOutboxIntend', { numberOfKeys: 2, lua: lua('outbox-intend') })
  client.defineCommand('gwOutboxAppend', { numberOfKeys: 3, lua: lua('outbox-append') })
  client.defineCommand('gwAddressClaim', { numberOfKeys: 5, lua: lua('address-claim') })
  client.defineCommand('gwAddressRequest', { numberOfKeys: 5, lua: lua('address-request') })
  client.defineCommand('gwAddressRank', { numberOfKeys: 2, lua: lua('address-rank') })
  client.defineCommand('gwAddressRead', { numberOfKeys: 4, lua: lua('address-read') })
  return client as ScriptedRedis
}

const retryStrategy = (attempt: number): number => Math.min(50 * 2 ** attempt, 2_000)

function createServerClient (options: RedisClientOptions): Redis {
  if (options.url === undefined) throw new TypeError('createRedisClient needs a url or clusterNodes')
  return new Redis(options.url, {
    keyPrefix: `${options.keyPrefix}:`,
    // Fail fast instead of queueing: a dead Redis must never make requests hang.
    enableOfflineQueue: false,
    commandTimeout: options.commandTimeoutMs,
    connectTimeout: options.connectTimeoutMs,
    maxRetriesPerRequest: 1,
    lazyConnect: true,
    // Off by default: each request needs one script call, and batching calls across requests
    // measured slower here (see README, Performance).
    enableAutoPipelining: options.autoPipelining ?? false,
    retryStrategy,
    ...(options.connectionName === undefined ? {} : { connectionName: options.connectionName }),
    ...(options.noResend === true ? { autoResendUnfulfilledCommands: false } : {})
  })
}

// The same choices on a Cluster. The key prefix stays outside the hash tag (`gw:{reg.x}:rec`), so
// it never moves a key's slot. While a master fails over, a command to it is retried on the
// refreshed slot map every retryDelayOnFailover ms, at most maxRedirections times, and each try
// is bounded by commandTimeout: a failover costs a request a bounded wait, then a 503.
// https://github.com/redis/ioredis#cluster
function createClusterClient (options: RedisClientOptions, nodes: ReadonlyArray<{ host: string, port: number }>): Cluster {
  if (options.url !== undefined) throw new TypeError('createRedisClient takes a url or clusterNodes, not both')
  if (nodes.length === 0) throw new TypeError('clusterNodes must list at least one node')
  return new Cluster(nodes.map((node) => ({ ...node })), {
    keyPrefix: `${options.keyPrefix}:`,
    enableOfflineQueue: false,
    lazyConnect: true,
    enableAutoPipelining: options.autoPipelining ?? false,
    scaleReads: 'master',
    retryDelayOnFailover: 100,
    retryDelayOnClusterDown: 100,
    retryDelayOnTryAgain: 100,
    maxRedirections: 8,
    slotsRefreshTimeout: options.connectTimeoutMs,
    clusterRetryStrategy: retryStrategy,
    redisOptions: {
      commandTimeout: options.commandTimeoutMs,
      connectTimeout: options.connectTimeoutMs,
      maxRetriesPerRequest: 1,
      ...(options.connectionName === undefined ? {} : { connectionName: options.connectionName }),
      ...(options.noResend === true ? { autoResendUnfulfilledCommands: false } : {})
    }
  })
}
