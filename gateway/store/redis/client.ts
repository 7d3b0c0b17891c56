import { readFileSync } from 'node:fs'
import { Redis } from 'ioredis'

export interface RedisClientOptions {
  url: string
  keyPrefix: string
  commandTimeoutMs: number
  connectTimeoutMs: number
  autoPipelining?: boolean
}

/** The gateway's Lua scripts, each sent once and then called by SHA (ioredis defineCommand). */
export interface ScriptedRedis extends Redis {
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

function lua (name: string): string {
  return readFileSync(new URL(`./lua/${name}.lua`, import.meta.url), 'utf8')
}

export function createRedisClient (options: RedisClientOptions): ScriptedRedis {
  const client = new Redis(options.url, {
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
    retryStrategy: (attempt) => Math.min(50 * 2 ** attempt, 2_000)
  })
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
