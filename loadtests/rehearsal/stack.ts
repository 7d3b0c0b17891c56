// The rehearsal's own stack on 127.0.0.1: a private redis-server, the liveness vendor simulator,
// the backend simulator (each in its own process) and one gateway process configured the way the
// README's "Rehearsals with k6" section asks (trusted loopback proxy, the key pair the tokens are
// minted with, production rate limits and shedding). Everything is stopped by PID, in reverse
// order, by stop(), however the run ends.
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { defaults } from '../../config/defaults.js'
import type { BackendAnswer, BackendQuestion } from '../bench/servers/backend-instance.js'
import { askBackend, startBackendProcess, stopBackendProcess } from '../lib/backend-process.js'
import { startChildServer, type ChildServer } from '../lib/child-server.js'
import { gatewayKeys } from '../lib/gateway-env.js'
import { startRedis, stopRedis } from '../lib/redis-server.js'

const here = (path: string): string => fileURLToPath(new URL(path, import.meta.url))

/** The vendor's contract rate in the rehearsal: the 2023 contract, 1 scan/s. */
export const VENDOR_RATE_PER_SECOND = 1
/** The delivery rate the gateway paces the outbox at (the production default). */
export const DELIVERY_RATE_PER_SECOND = defaults.delivery.ratePerSecond

export interface StackOptions {
  /** Epoch ms the request window should open at (a surge), or undefined: open for the whole run. */
  opensAt?: number
  /** Put a waiting room in front of the surge's routes, opening with the request window. */
  waitingRoom: boolean
  /** Where the gateway's stdout and stderr are kept (for the personal-data scan); not kept when absent. */
  gatewayLogFile?: string
}

export interface Stack {
  url: string
  gatewayPid: number
  privateKeyPem: string
  /** Asks the backend simulator; undefined with --target (no simulator of ours). */
  backend: ((question: BackendQuestion) => Promise<BackendAnswer>) | undefined
  vendorContractPerSecond: number
  deliveryConfiguredPerSecond: number
  stop(): Promise<void>
}

/** What ties the stack together: set here, never taken from the runner's environment. */
const WIRING = new Set(['GATEWAY_HOST', 'GATEWAY_PORT', 'GATEWAY_AUTH_PUBLIC_KEY_FILE', 'GATEWAY_IDENTITY_KEY_FILE', 'GATEWAY_WAITING_ROOM_SIGNING_KEY_FILE', 'GATEWAY_VENDOR_URL', 'GATEWAY_DELIVERY_URL'])

/** The runner's own GATEWAY_* variables (other than the wiring), for rehearsing a setting. */
export function passedThrough (environment: NodeJS.ProcessEnv): Record<string, string> {
  return Object.fromEntries(Object.entries(environment).filter((e): e is [string, string] => e[0].startsWith('GATEWAY_') && !WIRING.has(e[0]) && typeof e[1] === 'string'))
}

const hhmm = (at: number): string => new Date(at).toISOString().slice(11, 16)

/** Starts the stack; on failure stops what it started and rethrows. */
export async function startStack (options: StackOptions, say: (line: string) => void): Promise<Stack> {
  const steps: Array<() => Promise<void>> = []
  let stopping: Promise<void> | undefined
  const stop = async (): Promise<void> => {
    stopping ??= (async () => {
      for (const step of steps.reverse()) await step().catch((err: unknown) => say(`stopping: ${(err as Error).message}`))
    })()
    return stopping
  }
  try {
    const dir = await mkdtemp(join(tmpdir(), 'rehearsal-'))
    steps.push(async () => rm(dir, { recursive: true, force: true }))
    const redis = await startRedis(dir)
    steps.push(async () => stopRedis(redis.child))
    const backend = await startBackendProcess({ latencyMs: 5, failShare: 0 })
    steps.push(async () => stopBackendProcess(backend.child))
    const vendor = await startChildServer(here('../simulators/liveness-vendor.js'), { }, 30_000)
    steps.push(async () => vendor.stop())
    // The simulator's CLI takes its settings as arguments; startChildServer passes none, so it
    // runs at its defaults: 1 scan/s, the 400,000-scan budget, 50 ms latency.

    const keys = await gatewayKeys(dir, { waitingRoom: options.waitingRoom })
    const env: Record<string, string> = {
      ...keys.env,
      REDIS_URL: `redis://127.0.0.1:${redis.port}`,
      // The load comes from 127.0.0.1 on behalf of many client addresses (X-Forwarded-For).
      GATEWAY_TRUSTED_PROXIES: '["127.0.0.1","::1"]',
      GATEWAY_VENDOR_URL: `http://127.0.0.1:${vendor.port}`,
      GATEWAY_VENDOR_RATE_PER_SECOND: String(VENDOR_RATE_PER_SECOND),
      GATEWAY_DELIVERY_URL: `${backend.url}/events`,
      GATEWAY_DELIVERY_RATE_PER_SECOND: String(DELIVERY_RATE_PER_SECOND),
      // No draw or lapse sweep in the middle of a rehearsal: only its own load.
      GATEWAY_ALLOCATION_AUTO_DRAW: 'false',
      GATEWAY_TIMEZONE: 'UTC'
      // GATEWAY_RATE_LIMIT_RULES and the shedding thresholds stay at their production defaults.
    }
    const now = Date.now()
    if (options.opensAt === undefined) {
      // Open from an hour ago until two hours ago tomorrow: open for the whole run.
      env.GATEWAY_REQUEST_WINDOW_OPENS_AT = hhmm(now - 3_600_000)
      env.GATEWAY_REQUEST_WINDOW_CLOSES_AT = hhmm(now - 2 * 3_600_000)
      env.GATEWAY_ALLOCATION_AT = hhmm(now - 2 * 3_600_000)
    } else {
      // Closed until the opening, then open for 23 hours.
      env.GATEWAY_REQUEST_WINDOW_OPENS_AT = hhmm(options.opensAt)
      env.GATEWAY_REQUEST_WINDOW_CLOSES_AT = hhmm(options.opensAt - 3_600_000)
      env.GATEWAY_ALLOCATION_AT = hhmm(options.opensAt - 3_600_000)
    }
    if (options.waitingRoom) {
      env.GATEWAY_WAITING_ROOMS = JSON.stringify([{
        name: 'opening',
        routes: ['POST /v1/appointment-requests'],
        openings: ['request-window'],
        preOpenMinutes: 5,
        activeMinutes: 30,
        admitPerSecond: 200,
        maxActive: 5_000
      }])
    }
    // Any other GATEWAY_* variable of the runner's wins: rehearse a setting without editing code.
    const extra = passedThrough(process.env)
    if (Object.keys(extra).length > 0) say(`passing to the gateway: ${Object.keys(extra).sort().join(', ')}`)
    const gateway: ChildServer = await startChildServer(here('../../gateway/server.js'), { ...env, ...extra }, 30_000, options.gatewayLogFile === undefined ? {} : { logFile: options.gatewayLogFile })
    steps.push(async () => gateway.stop())
    const pid = gateway.child.pid
    if (pid === undefined) throw new Error('the gateway process has no PID')
    say(`gateway pid ${pid} on http://127.0.0.1:${gateway.port}, redis-server :${redis.port}, vendor simulator :${vendor.port} (${VENDOR_RATE_PER_SECOND} scan/s), backend simulator ${backend.url} (delivery ${DELIVERY_RATE_PER_SECOND}/s)`)
    return {
      url: `http://127.0.0.1:${gateway.port}`,
      gatewayPid: pid,
      privateKeyPem: keys.privateKeyPem,
      backend: async (question) => askBackend(backend.child, question),
      vendorContractPerSecond: VENDOR_RATE_PER_SECOND,
      deliveryConfiguredPerSecond: DELIVERY_RATE_PER_SECOND,
      stop
    }
  } catch (err) {
    await stop()
    throw err
  }
}
