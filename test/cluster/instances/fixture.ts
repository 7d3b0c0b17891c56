// Several gateway instances as operators run them: `npm run start:cluster -- --instances N`'s entry
// (dist/gateway/cluster.js) as a real process tree, on a private redis-server, with the key files
// of loadtests/lib/gateway-env.ts and applicant tokens signed by their private half. Everything on
// 127.0.0.1; stopped by the handles and PIDs this file started.
import { spawn, type ChildProcess } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { existsSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { createSigner } from 'fast-jwt'
import { request } from 'undici'
import { defaults } from '../../../config/defaults.js'
import { gatewayKeys } from '../../../loadtests/lib/gateway-env.js'
import { startRedis, stopRedis } from '../../../loadtests/lib/redis-server.js'

export const CLUSTER_ENTRY = fileURLToPath(new URL('../../../dist/gateway/cluster.js', import.meta.url))

/** One instance as the supervisor announces it. */
export interface InstanceInfo {
  instance: number
  instancePid: number
  url: string
  wsPort: number | null
}

/** A JSON line the supervisor (name gateway-cluster) wrote. */
export type SupervisorLine = Record<string, unknown> & { msg: string }

export interface ClusterProcess {
  child: ChildProcess
  stdout: () => string
  stderr: () => string
  /** The supervisor's own log lines so far, parsed. */
  lines: () => SupervisorLine[]
  /** Resolves with the exit code (or signal name) once the supervisor has ended. */
  exited: Promise<number | string>
  /** Resolves once every instance listens, with them in instance order. */
  listening: Promise<InstanceInfo[]>
  /** Every instance PID the supervisor said it started. */
  pids: () => number[]
  /** The instance PIDs whose exit the supervisor logged, or the test saw (markExited). */
  exitedPids: () => number[]
  /** Instance PIDs the test saw gone itself (after killing the supervisor, which logs no exit). */
  markExited: (pids: readonly number[]) => void
}

/** Runs the start:cluster entry with `--instances n` and exactly `env` (plus PATH). */
export function startCluster (n: number, env: Record<string, string>): ClusterProcess {
  if (!existsSync(CLUSTER_ENTRY)) throw new Error(`${CLUSTER_ENTRY} is missing: run npm run test:cluster, which builds first`)
  const child = spawn(process.execPath, [CLUSTER_ENTRY, '--instances', String(n)], {
    // Shedding off, as startGateway does: three gateways on two shared cores stall each other's
    // event loops now and then, and a shed request is not what these tests count.
    env: { PATH: process.env.PATH ?? '', GATEWAY_SHED_MAX_EVENT_LOOP_DELAY_MS: '0', ...env },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  let out = ''
  let err = ''
  let partial = ''
  const lines: SupervisorLine[] = []
  const watchers = new Set<() => void>()
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
    out += chunk
    // Keep a tail only: three instances can log a good deal.
    if (out.length > 1_000_000) out = out.slice(-200_000)
    const parts = (partial + chunk).split('\n')
    partial = parts.pop() ?? ''
    for (const line of parts) {
      if (!line.includes('"name":"gateway-cluster"')) continue
      try {
        lines.push(JSON.parse(line) as SupervisorLine)
      } catch {}
    }
    for (const watch of watchers) watch()
  })
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => { err += chunk })
  const exited = new Promise<number | string>((resolve) => {
    child.once('exit', (code, signal) => resolve(code ?? signal ?? 'unknown'))
  })
  const listening = new Promise<InstanceInfo[]>((resolve, reject) => {
    const look = (): void => {
      const all = lines.find((l) => Array.isArray(l.instances))
      if (all === undefined) return
      watchers.delete(look)
      resolve(all.instances as InstanceInfo[])
    }
    watchers.add(look)
    exited.then((code) => reject(new Error(`start:cluster exited (${code}) before every instance listened:\n${err}\n${out.slice(-4000)}`)), () => {})
  })
  listening.catch(() => {})
  const pids = (): number[] => [...new Set(lines.flatMap((l) => typeof l.instancePid === 'number' ? [l.instancePid] : []))]
  const seenExited = new Set<number>()
  // The supervisor's exit lines carry how long the instance ran (exited, crashed, refused ...).
  const exitedPids = (): number[] => [...new Set([...seenExited, ...lines.flatMap((l) => typeof l.instancePid === 'number' && typeof l.ranMs === 'number' ? [l.instancePid] : [])])]
  const markExited = (gone: readonly number[]): void => { for (const pid of gone) seenExited.add(pid) }
  return { child, stdout: () => out, stderr: () => err, lines: () => lines, exited, listening, pids, exitedPids, markExited }
}

/** Whether a process of this PID exists (signal 0 probes without signalling). */
export function alive (pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

/**
 * SIGTERM to the supervisor (it drains every instance) and its exit; SIGKILL for it after 20 s.
 * Then SIGKILL to any instance still alive whose exit nobody saw: `swept`, empty when the
 * supervisor stopped them all as it should.
 */
export async function stopCluster (cluster: ClusterProcess | undefined): Promise<{ code: number | string | undefined, swept: number[] }> {
  if (cluster === undefined) return { code: undefined, swept: [] }
  if (cluster.child.exitCode === null && cluster.child.signalCode === null) cluster.child.kill('SIGTERM')
  const timer = setTimeout(() => { cluster.child.kill('SIGKILL') }, 20_000)
  const code = await cluster.exited
  clearTimeout(timer)
  // Instances drain on their own once their supervisor is gone; one that a failed test left
  // behind is still this test's own process, by PID. Only those with no exit on record: the PID
  // of one that exited (a crashed, restarted instance) may belong to a stranger by now.
  const exited = new Set(cluster.exitedPids())
  const swept = cluster.pids().filter((pid) => !exited.has(pid) && alive(pid))
  for (const pid of swept) process.kill(pid, 'SIGKILL')
  return { code, swept }
}

export const sleep = async (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

/** Polls `what` every 50 ms until true; throws with `why()` after `ms`. */
export async function waitFor (what: () => boolean | Promise<boolean>, ms: number, why: () => string = () => ''): Promise<void> {
  const until = Date.now() + ms
  while (Date.now() < until) {
    if (await what()) return
    await sleep(50)
  }
  throw new Error(`not within ${ms} ms ${why()}`)
}

/** A private redis-server, the key files, and a signer of applicant tokens. */
export interface Bench {
  dir: string
  redisUrl: string
  /** REDIS_URL, the key files, 127.0.0.1, ports 0 (HTTP and WebSocket), no access log, no automatic draw. */
  env: Record<string, string>
  /** Headers of a signed-in applicant: a fresh account and device unless given. */
  applicant(options?: { sub?: string, device?: string }): Record<string, string>
  close(): Promise<void>
}

export async function startBench (options: { waitingRoom?: boolean } = {}): Promise<Bench> {
  const dir = await mkdtemp(join(tmpdir(), 'gateway-instances-'))
  const redis = await startRedis(dir)
  const keys = await gatewayKeys(dir, options)
  const sign = createSigner({ key: keys.privateKeyPem, algorithm: 'ES256', expiresIn: 3_600_000 })
  return {
    dir,
    redisUrl: `redis://127.0.0.1:${redis.port}`,
    env: {
      ...keys.env,
      REDIS_URL: `redis://127.0.0.1:${redis.port}`,
      // Every instance its own free WebSocket port too (the default 8081 + i may be taken).
      GATEWAY_WS_PORT: '0',
      GATEWAY_ALLOCATION_AUTO_DRAW: 'false'
    },
    applicant: ({ sub = `inst-${randomUUID()}`, device = randomUUID() } = {}) => ({
      authorization: `Bearer ${sign({ sub, role: 'applicant', iss: defaults.auth.issuer, aud: defaults.auth.audience })}`,
      'x-device-id': device
    }),
    close: async () => {
      await stopRedis(redis.child)
      await rm(dir, { recursive: true, force: true })
    }
  }
}

/** One member of a registration; `i` makes the identity unique. */
export function member (i: number): Record<string, unknown> {
  return { firstName: `Inst${i}`, lastName: 'Ance', dateOfBirth: '1990-01-01', nationality: 'HTI', usAddress: { line1: '1 A St', city: 'Miami', state: 'FL', zip: '33101' } }
}

export interface Answer { status: number, body: Record<string, unknown>, headers: Record<string, string | string[] | undefined> }

/** One HTTP request to an instance, its JSON answer read whole. */
export async function call (url: string, options: { method?: 'GET' | 'POST', headers?: Record<string, string>, body?: unknown } = {}): Promise<Answer> {
  const res = await request(url, {
    method: options.method ?? 'GET',
    headers: { ...options.headers, ...(options.body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: options.body === undefined ? undefined : JSON.stringify(options.body),
    headersTimeout: 15_000,
    bodyTimeout: 15_000
  })
  const text = await res.body.text()
  let body: Record<string, unknown> = {}
  try {
    body = JSON.parse(text) as Record<string, unknown>
  } catch {}
  return { status: res.statusCode, body, headers: res.headers }
}

/** POST /v1/registrations on `url` for `who`, one member of identity `i`. */
export async function register (url: string, who: Record<string, string>, i: number): Promise<Answer> {
  return call(`${url}/v1/registrations`, { method: 'POST', headers: { ...who, 'idempotency-key': randomUUID() }, body: { members: [member(i)], preferredLanguage: 'ht' } })
}

/** One series of an instance's /metrics, summed over its labels matching `labels` (a substring). */
export async function metric (url: string, name: string, labels = ''): Promise<number> {
  const res = await request(`${url}/metrics`, { headersTimeout: 15_000, bodyTimeout: 15_000 })
  const text = await res.body.text()
  let sum = 0
  let seen = false
  for (const line of text.split('\n')) {
    const match = /^([a-z_]+)(\{[^}]*\})? ([0-9.e+-]+|\+Inf|NaN)$/.exec(line)
    if (match === null || match[1] !== name || !(match[2] ?? '').includes(labels)) continue
    sum += Number(match[3])
    seen = true
  }
  if (!seen) throw new Error(`${url}/metrics has no ${name}${labels}`)
  return sum
}

/** Runs `work` over `items`, at most `inFlight` at once. */
export async function pool<T> (items: readonly T[], inFlight: number, work: (item: T, index: number) => Promise<void>): Promise<void> {
  let next = 0
  await Promise.all(Array.from({ length: Math.min(inFlight, items.length) }, async () => {
    for (let i = next++; i < items.length; i = next++) await work(items[i] as T, i)
  }))
}
