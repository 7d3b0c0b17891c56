// Builds the real gateway for a test, exactly as server.ts does, on the stores the test chooses.
import { generateKeyPairSync, randomBytes, type KeyObject } from 'node:crypto'
import { Writable } from 'node:stream'
import Fastify, { type FastifyInstance, type RouteOptions } from 'fastify'
import { inject } from 'vitest'
import { loadConfig, type Config } from '../../config/load.js'
import app from '../../gateway/app.js'
import { serverOptions } from '../../gateway/server-options.js'
import type { VerificationKeys } from '../../gateway/auth/keys.js'
import type { Clock } from '../../gateway/store/clock.js'
import { createMemoryStores } from '../../gateway/store/memory/index.js'
import type { Stores } from '../../gateway/store/ports.js'
import { createRedisStores } from '../../gateway/store/redis/index.js'
import { testKeys } from './tokens.js'

/**
 * Config from defaults plus the given environment, never the test process's own. Load shedding
 * is off unless a test turns it on: parallel test files on two cores stall each other's loops.
 * The draw schedule's timer is off too: tests move their clocks and call tick() themselves; so are
 * the waiting room's admission rounds (tests call admit()). A WebSocket server listens on a free port.
 */
export function testConfig (env: Record<string, string> = {}): Readonly<Config> {
  return loadConfig({ env: { GATEWAY_LOG_LEVEL: 'silent', GATEWAY_SHED_MAX_EVENT_LOOP_DELAY_MS: '0', GATEWAY_ALLOCATION_AUTO_DRAW: 'false', GATEWAY_WS_PORT: '0', GATEWAY_WAITING_ROOM_AUTO_ADMIT: 'false', ...env } })
}

export const testIdentityKey = Buffer.alloc(32, 7)
export const testAdmissionKey = generateKeyPairSync('ed25519').privateKey

/** A key prefix no other test file shares, so files can run in parallel on one Redis. */
export function uniquePrefix (): string {
  return `t${randomBytes(6).toString('hex')}`
}

/**
 * The suite's Redis: one redis-server (npm test), or in `npm run test:cluster`'s on-cluster
 * project a 6-node Redis Cluster (test/cluster/setup/redis-cluster.ts provides its nodes), so
 * the same test bodies run on both.
 */
export function suiteRedis (): { url: string } | { clusterNodes: Array<{ host: string, port: number }> } {
  const nodes = inject('redisClusterNodes')
  if (nodes === undefined || nodes === '') return { url: inject('redisUrl') }
  return { clusterNodes: nodes.split(',').map((node) => ({ host: node.slice(0, node.lastIndexOf(':')), port: Number(node.slice(node.lastIndexOf(':') + 1)) })) }
}

/** "redis", or "redis cluster" when the suite's Redis is a Cluster: for test names. */
export function suiteRedisName (): string {
  return 'clusterNodes' in suiteRedis() ? 'redis cluster' : 'redis'
}

/** Stores on the suite's Redis under a fresh prefix, or under `keyPrefix` to share one with other instances. */
export async function redisStores (options: { clock?: Clock, url?: string, commandTimeoutMs?: number, keyPrefix?: string, outboxPartitions?: number, waitReplicas?: number, waitTimeoutMs?: number } = {}): Promise<Stores> {
  return createRedisStores({
    ...(options.outboxPartitions === undefined ? {} : { outboxPartitions: options.outboxPartitions }),
    ...(options.waitReplicas === undefined ? {} : { waitReplicas: options.waitReplicas }),
    ...(options.waitTimeoutMs === undefined ? {} : { waitTimeoutMs: options.waitTimeoutMs }),
    ...(options.url === undefined ? suiteRedis() : { url: options.url }),
    keyPrefix: options.keyPrefix ?? uniquePrefix(),
    commandTimeoutMs: options.commandTimeoutMs ?? 1_000,
    connectTimeoutMs: 1_000,
    ...(options.clock === undefined ? {} : { clock: options.clock })
  })
}

/** Collects every log line the app writes, as text and parsed. */
export class LogCapture extends Writable {
  readonly lines: string[] = []

  override _write (chunk: Buffer, _encoding: string, done: () => void): void {
    this.lines.push(...chunk.toString('utf8').split('\n').filter((l) => l !== ''))
    done()
  }

  get text (): string {
    return this.lines.join('\n')
  }

  records (): Array<Record<string, unknown>> {
    return this.lines.map((l) => JSON.parse(l) as Record<string, unknown>)
  }
}

export interface BuildOptions {
  config?: Readonly<Config>
  stores?: Stores
  logs?: LogCapture
  keys?: VerificationKeys
  identityKey?: Buffer
  /** Signs waiting-room admissions; the same for every app a test builds, so instances share a room. */
  admissionKey?: KeyObject
  clock?: Clock
  /** The photo-check worker file, for fault injection. */
  livenessWorkerFile?: string
  /** Extra routes a test needs beside the app's own (registered after the app, like a later feature). */
  routes?: (fastify: FastifyInstance) => void | Promise<void>
  /** Sees every route as it is added, the app's own included (the fuzzer lists them this way). */
  onRoute?: (route: RouteOptions) => void
}

export async function buildApp (options: BuildOptions = {}): Promise<FastifyInstance> {
  const given = options.config ?? testConfig()
  // Tokens are signed and their exp checked on real time (fast-jwt), but the longest-lifetime
  // check compares exp with the app's clock: a test clock set days before today (a fixed Monday)
  // would refuse every token as too long-lived once the real date moves on. On a test clock the
  // check allows a year; test/plugins/auth.test.ts tests it on real time.
  const config = options.clock === undefined ? given : { ...given, auth: { ...given.auth, maxTokenLifetimeSeconds: Math.max(given.auth.maxTokenLifetimeSeconds, 365 * 86_400) } }
  const fastify = Fastify(serverOptions(config, options.logs === undefined ? {} : { logStream: options.logs }))
  if (options.onRoute !== undefined) fastify.addHook('onRoute', options.onRoute)
  await fastify.register(app, {
    config,
    stores: options.stores ?? createMemoryStores(),
    keys: options.keys ?? testKeys,
    identityKey: options.identityKey ?? testIdentityKey,
    admissionKey: options.admissionKey ?? testAdmissionKey,
    ...(options.clock === undefined ? {} : { clock: options.clock }),
    ...(options.livenessWorkerFile === undefined ? {} : { livenessWorkerFile: options.livenessWorkerFile })
  })
  if (options.routes !== undefined) await fastify.register(async (f) => { await options.routes?.(f) })
  await fastify.ready()
  return fastify
}
