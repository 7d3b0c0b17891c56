// npm run bench:waiting-room: the waiting room's push edge at the size of an opening, as its
// clients see it. One gateway process (dist/gateway/server.js) on a private redis-server, its
// WebSocket server on, and every client in this process, all on 127.0.0.1.
//   1. Tickets: each client GETs /v1/schedule (its own account token and device id, a bounded
//      number in flight) while the room is pre-open, so it gets a ticket in the draw and nobody
//      is admitted yet: the room opens --lead-seconds after the gateway is configured.
//   2. Subscribe: each client opens the wsUrl its ticket came with and subscribes; its welcome
//      ends the phase. The last --slow clients then stop reading (their socket paused) until every
//      other client has its admission: they stand for phones that do not read, which must not
//      hold up anyone else.
//   3. Admission: at the opening the gateway admits at --rate a second; each client records when
//      its `admitted` message arrives. Push latency = arrival − decidedAt (the admitting
//      instance's clock, epoch ms; the same machine's clock here). Then the slow clients read
//      again and must all find their admission (a client the gateway closed for silence, past
//      GATEWAY_WS_IDLE_TIMEOUT_SECONDS, reconnects with its ticket, as the protocol says).
// All along, the gateway's VmRSS (/proc/<pid>/status) is sampled every 200 ms.
// Reported: the phases, push latency of the reading clients (p50/p99/max) and of the slow ones,
// the admission rate measured from decidedAt over the configured one, the busiest rolling second,
// RSS, and the gateway's own counters from /metrics.
// Options: --clients N (5000, at most 20000), --rate R (admitPerSecond, 1000), --slow N (50),
// --lead-seconds S (time from configuring the gateway to the opening; by default enough for N
// clients at the ticket and subscribe rates measured on a 2-core machine, with room to spare).
// Last line: waiting-room-bench: clients=<n> admitted_per_s=<n> push_p99_ms=<ms> rss_mb=<n>
// Exit 0 when every client got its admission, push_p99_ms <= 1000 and rss_mb < 512; 1 otherwise.
import { randomUUID } from 'node:crypto'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { cpus, loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { monitorEventLoopDelay } from 'node:perf_hooks'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { createSigner } from 'fast-jwt'
import { Agent, request } from 'undici'
import WebSocket from 'ws'
import { defaults } from '../../config/defaults.js'
import { startChildServer, type ChildServer } from '../lib/child-server.js'
import { gatewayKeys } from '../lib/gateway-env.js'
import { cleanupSteps, runBench } from '../lib/run-bench.js'
import { startRedis, stopRedis } from '../lib/redis-server.js'
import { maxInAnyWindow } from '../lib/sliding-window.js'
import { quantile } from '../lib/stats.js'

const here = (path: string): string => fileURLToPath(new URL(path, import.meta.url))
const say = (line: string): void => { process.stderr.write(`waiting-room-bench: ${line}\n`) }
const sleep = async (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

const ROOM = 'bench'
const MAX_CLIENTS = 20_000
// Requests and WebSocket handshakes in flight: enough to keep both processes busy on two cores,
// few enough that the gateway's event loop does not lag into shedding under them.
const TICKETS_IN_FLIGHT = 64
const CONNECTS_IN_FLIGHT = 128
// Sockets besides the clients' in either process: Redis, HTTP, the files of a Node process.
const SPARE_FILES = 256
const RSS_SAMPLE_MS = 200
const POLL_MS = 50
const PROGRESS_EVERY_MS = 5_000
// The issue's bounds.
const PUSH_P99_LIMIT_MS = 1_000
const RSS_LIMIT_MB = 512
// Attempts per client: a ticket after a shed 503, a socket after a refused upgrade or a close.
const ATTEMPTS = 5
// How long the slow clients have, once they read again, to find their admissions.
const SLOW_GRACE_MS = 30_000
const MAX_ADMISSION_SECONDS = 600
// A ticket request or a metrics scrape that takes longer has failed.
const REQUEST_TIMEOUT_MS = 10_000

class OptionError extends Error {}

interface Options { clients: number, rate: number, slow: number, leadSeconds: number, leadGiven: boolean }

function integer (name: string, raw: string | undefined, fallback: number, min: number, max: number): number {
  if (raw === undefined) return fallback
  const n = Number(raw)
  if (raw.trim() === '' || !Number.isInteger(n) || n < min) throw new OptionError(`${name} must be ${min === 0 ? 'a non-negative' : 'a positive'} integer, got "${raw}"`)
  // Bounded load: the machine is shared, and the run must end by itself.
  if (n > max) throw new OptionError(`${name} must be at most ${max}, got "${raw}"`)
  return n
}

/**
 * Seconds from configuring the gateway to the opening, for `clients`: 3 s for its start (0.9 to
 * 2.6 s measured on 2 shared cores), the tickets at 1,000 a second and the subscriptions at 1,500
 * (1,100 to 1,400 and 1,500 to 2,500 measured), and 3 s to spare: 15 s for 5,000 clients, which
 * took 7 to 9 s. Too short and the bench says so and fails; too long only idles, and keeps the
 * slow clients paused longer (see the idle timeout).
 */
function defaultLeadSeconds (clients: number): number {
  return Math.ceil(3 + 3 + clients / 1_000 + clients / 1_500)
}

function options (): Options {
  const { values } = parseArgs({
    options: {
      clients: { type: 'string' },
      rate: { type: 'string' },
      slow: { type: 'string' },
      'lead-seconds': { type: 'string' }
    }
  })
  const clients = integer('--clients', values.clients, 5_000, 1, MAX_CLIENTS)
  const rate = Number(values.rate ?? 1_000)
  // The bounds of a room's admitPerSecond.
  if (values.rate?.trim() === '' || !(rate > 0 && rate <= 100_000)) throw new OptionError(`--rate must be a number greater than 0 and at most 100000, got "${values.rate ?? ''}"`)
  const slow = integer('--slow', values.slow, Math.min(50, clients - 1), 0, MAX_CLIENTS)
  // Somebody has to read: the slow ones resume only once the others have their admissions.
  if (slow >= clients) throw new OptionError(`--slow must be less than --clients (${clients}), got "${values.slow ?? ''}"`)
  const leadSeconds = integer('--lead-seconds', values['lead-seconds'], defaultLeadSeconds(clients), 1, 600)
  // Bounded in time: the admissions themselves must not take longer than this either.
  if (clients / rate > MAX_ADMISSION_SECONDS) throw new OptionError(`--clients ÷ --rate must be at most ${MAX_ADMISSION_SECONDS} s of admissions, got ${clients} ÷ ${rate}`)
  return { clients, rate, slow, leadSeconds, leadGiven: values['lead-seconds'] !== undefined }
}

/** The soft limit on open files of this process (the gateway, its child, inherits it); undefined off Linux. */
async function openFilesLimit (): Promise<number | undefined> {
  const limits = await readFile('/proc/self/limits', 'utf8').catch(() => undefined)
  const match = limits === undefined ? null : /^Max open files\s+(\d+|unlimited)/m.exec(limits)
  if (match === null) return undefined
  return match[1] === 'unlimited' ? Infinity : Number(match[1])
}

/** One waiting client: an applicant's device with its ticket and WebSocket. */
interface Client {
  index: number
  headers: Record<string, string>
  slow: boolean
  ticket?: string
  wsUrl?: string
  ws?: WebSocket
  /** Sockets opened for it; more than one means it reconnected. */
  sockets: number
  welcomedAt?: number
  progress: number
  /** Arrival of its first `admitted` message, and the decision it carries; epoch ms. */
  admittedAt?: number
  decidedAt?: number
  /** Its admission came in a welcome after a reconnect, not pushed to its first socket. */
  admittedOnReconnect: boolean
  duplicates: number
  errors: string[]
}

/** Everything the clients see, and the switches the bench flips. */
class Crowd {
  readonly clients: Client[]
  /** While true the slow clients' sockets stay paused, reconnected ones too. */
  holdSlow = true
  #stopping = false
  readonly #timers = new Set<NodeJS.Timeout>()

  constructor (clients: Client[]) {
    this.clients = clients
  }

  /** Opens a socket for the client and subscribes; resolves at its welcome (or admission), rejects when it closes first. */
  async connect (client: Client): Promise<void> {
    const url = client.wsUrl as string
    const ws = new WebSocket(url, { perMessageDeflate: false, handshakeTimeout: 15_000 })
    client.ws = ws
    client.sockets++
    return new Promise<void>((resolve, reject) => {
      let welcomed = false
      ws.on('open', () => { ws.send(JSON.stringify({ type: 'subscribe', ticket: client.ticket })) })
      ws.on('message', (data) => {
        const at = Date.now()
        let message: { type?: string, decidedAt?: number, code?: string }
        try {
          message = JSON.parse(String(data)) as typeof message
        } catch {
          client.errors.push('a frame that is not JSON')
          return
        }
        switch (message.type) {
          case 'welcome':
            client.welcomedAt ??= at
            break
          case 'progress':
            client.progress++
            break
          case 'admitted':
            if (client.admittedAt !== undefined) {
              client.duplicates++
            } else {
              client.admittedAt = at
              client.decidedAt = message.decidedAt
              // Admitted in the welcome of a second socket: the resume, not the push.
              client.admittedOnReconnect = !welcomed && client.sockets > 1
              client.welcomedAt ??= at
            }
            break
          case 'error':
            client.errors.push(message.code ?? 'an error without a code')
            break
          default:
            client.errors.push(`a message of type ${String(message.type)}`)
        }
        if (!welcomed && (message.type === 'welcome' || message.type === 'admitted')) {
          welcomed = true
          if (client.slow && this.holdSlow) ws.pause()
          resolve()
        }
      })
      ws.on('error', (err) => {
        client.errors.push((err as { code?: string }).code ?? err.message)
      })
      ws.on('close', (code) => {
        if (!welcomed) reject(new Error(`closed (${code}) before its welcome`))
        // Closed by the gateway before the admission came: resume with the ticket, as a client of
        // the protocol does.
        else if (!this.#stopping && client.admittedAt === undefined && client.ws === ws) this.#reconnect(client)
      })
    })
  }

  /** The slow clients read again. */
  release (): void {
    this.holdSlow = false
    for (const c of this.clients) if (c.slow) c.ws?.resume()
  }

  /** Closes every socket at once (terminate: no close handshake to wait for). */
  stop (): void {
    this.#stopping = true
    for (const t of this.#timers) clearTimeout(t)
    for (const c of this.clients) c.ws?.terminate()
  }

  #reconnect (client: Client): void {
    if (client.sockets >= ATTEMPTS) return
    const timer = setTimeout(() => {
      this.#timers.delete(timer)
      if (this.#stopping) return
      // Closed before its welcome: again, while attempts remain.
      this.connect(client).catch(() => { this.#reconnect(client) })
    }, 100 + Math.random() * 400)
    this.#timers.add(timer)
  }
}

/** Runs `work` over `items` with at most `inFlight` at once. */
async function pool<T> (items: readonly T[], inFlight: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0
  await Promise.all(Array.from({ length: Math.min(inFlight, items.length) }, async () => {
    for (let i = next++; i < items.length; i = next++) await work(items[i] as T)
  }))
}

/** Every client's ticket, from GET /v1/schedule while the room is pre-open. */
async function takeTickets (clients: readonly Client[], baseUrl: string): Promise<Record<string, number>> {
  const agent = new Agent({ connections: TICKETS_IN_FLIGHT })
  const statuses: Record<string, number> = {}
  const tally = (key: string): void => { statuses[key] = (statuses[key] ?? 0) + 1 }
  try {
    await pool(clients, TICKETS_IN_FLIGHT, async (client) => {
      for (let attempt = 1; attempt <= ATTEMPTS; attempt++) {
        try {
          const res = await request(`${baseUrl}/v1/schedule`, { headers: client.headers, dispatcher: agent, headersTimeout: REQUEST_TIMEOUT_MS, bodyTimeout: REQUEST_TIMEOUT_MS })
          const text = await res.body.text()
          tally(String(res.statusCode))
          if (res.statusCode === 200 && res.headers['x-waiting-room'] === ROOM) {
            const body = JSON.parse(text) as { status: string, ticket: string, wsUrl?: string }
            if (body.status === 'waiting' && body.wsUrl !== undefined) {
              client.ticket = body.ticket
              client.wsUrl = body.wsUrl
              return
            }
          }
          // Shed (503) or store trouble: a moment, then again. Anything else is final.
          if (res.statusCode !== 503) {
            client.errors.push(`GET /v1/schedule answered ${res.statusCode}: ${text.slice(0, 200)}`)
            return
          }
        } catch (err) {
          tally((err as { code?: string }).code ?? (err as Error).name)
        }
        await sleep(100 * attempt)
      }
    })
    return statuses
  } finally {
    await agent.close()
  }
}

/** Every client with a ticket subscribed; resolves when all are welcomed or have given up. */
async function subscribeAll (crowd: Crowd): Promise<void> {
  await pool(crowd.clients.filter((c) => c.ticket !== undefined), CONNECTS_IN_FLIGHT, async (client) => {
    for (let attempt = 1; attempt <= ATTEMPTS; attempt++) {
      try {
        await crowd.connect(client)
        return
      } catch {
        await sleep(100 * attempt)
      }
    }
  })
}

/** Waits until `done()` or the deadline (epoch ms), saying how far it got now and then; true when done. */
async function until (done: () => boolean, deadline: number, progress: () => string): Promise<boolean> {
  let lastSaid = Date.now()
  while (!done()) {
    if (Date.now() >= deadline) return false
    if (Date.now() - lastSaid >= PROGRESS_EVERY_MS) {
      lastSaid = Date.now()
      say(progress())
    }
    await sleep(POLL_MS)
  }
  return true
}

/** The gateway's VmRSS, sampled from /proc every RSS_SAMPLE_MS. */
class RssSampler {
  readonly #file: string
  readonly #timer: NodeJS.Timeout
  maxKb = 0
  lastKb = 0
  samples = 0

  constructor (pid: number) {
    this.#file = `/proc/${pid}/status`
    this.#timer = setInterval(() => { this.sample().catch(() => {}) }, RSS_SAMPLE_MS)
  }

  async sample (): Promise<number> {
    const status = await readFile(this.#file, 'utf8')
    const kb = Number(/^VmRSS:\s+(\d+) kB/m.exec(status)?.[1])
    if (!Number.isFinite(kb)) throw new Error(`no VmRSS in ${this.#file}`)
    this.lastKb = kb
    if (kb > this.maxKb) this.maxKb = kb
    this.samples++
    return kb
  }

  stop (): void {
    clearInterval(this.#timer)
  }
}

/** Each named series of the gateway's /metrics (name with its labels, as printed), summed per name too. */
async function metrics (baseUrl: string): Promise<Map<string, number>> {
  const res = await request(`${baseUrl}/metrics`, { headersTimeout: REQUEST_TIMEOUT_MS, bodyTimeout: REQUEST_TIMEOUT_MS })
  const text = await res.body.text()
  if (res.statusCode !== 200) throw new Error(`GET ${baseUrl}/metrics answered ${res.statusCode}`)
  const series = new Map<string, number>()
  for (const line of text.split('\n')) {
    const match = /^([a-z_]+)(\{[^}]*\})? ([0-9.e+-]+)$/.exec(line)
    if (match === null) continue
    const [, name, labels, value] = match as unknown as [string, string, string | undefined, string]
    series.set(name, (series.get(name) ?? 0) + Number(value))
    if (labels !== undefined) series.set(`${name}${labels}`, Number(value))
  }
  return series
}

// Stopped in reverse order of starting, once, whether the run ends, fails or is interrupted.
const { cleanups, cleanUp } = cleanupSteps(say)

const mb = (kb: number): number => kb / 1024
const ms1 = (ms: number): string => String(Math.round(ms * 10) / 10)

async function main (): Promise<number> {
  const { clients: count, rate, slow, leadSeconds, leadGiven } = options()
  const files = await openFilesLimit()
  if (files !== undefined && count + SPARE_FILES > files) {
    throw new OptionError(`--clients ${count} needs about ${count + SPARE_FILES} open files in this process and as many in the gateway, but the limit (ulimit -n) is ${files}`)
  }
  // Past this the run has gone wrong somewhere: every phase has its own deadline well inside it.
  const bound = (leadSeconds + 2 * count / rate + SLOW_GRACE_MS / 1000 + 120) * 1000
  const watchdog = setTimeout(() => {
    say(`still running after ${Math.round(bound / 1000)} s: stopping`)
    cleanUp().finally(() => process.exit(1))
  }, bound)
  watchdog.unref()

  const dir = await mkdtemp(join(tmpdir(), 'waiting-room-bench-'))
  cleanups.push(async () => rm(dir, { recursive: true, force: true }))
  const redis = await startRedis(dir)
  cleanups.push(async () => stopRedis(redis.child))

  const keys = await gatewayKeys(dir, { waitingRoom: true })

  // The clients, with their tokens, before any clock starts: signing is not the gateway's time.
  const sign = createSigner({ key: keys.privateKeyPem, algorithm: 'ES256', expiresIn: 3_600_000 })
  const crowd = new Crowd(Array.from({ length: count }, (_, index) => ({
    index,
    headers: {
      authorization: `Bearer ${sign({ sub: `waiting-room-bench-${index}`, role: 'applicant', iss: defaults.auth.issuer, aud: defaults.auth.audience })}`,
      'x-device-id': randomUUID()
    },
    // The last to subscribe: their pause, from their welcome to the others' last admission, is
    // then as short as this design allows (see the idle timeout below).
    slow: index >= count - slow,
    sockets: 0,
    progress: 0,
    admittedOnReconnect: false,
    duplicates: 0,
    errors: []
  })))
  cleanups.push(async () => { crowd.stop() })

  // Whole seconds: the opening is an ISO instant in the configuration.
  const openingAt = Math.ceil((Date.now() + leadSeconds * 1000) / 1000) * 1000
  const room = {
    name: ROOM,
    routes: ['GET /v1/schedule'],
    openings: [new Date(openingAt).toISOString()],
    // Pre-open from before the gateway starts: every ticket is taken into the draw.
    preOpenMinutes: Math.ceil(leadSeconds / 60) + 1,
    activeMinutes: 30,
    admitPerSecond: rate,
    // Never the limit here: the rate is what is measured.
    maxActive: 10_000_000
  }
  const env = {
    ...keys.env,
    REDIS_URL: `redis://127.0.0.1:${redis.port}`,
    GATEWAY_WAITING_ROOMS: JSON.stringify([room]),
    GATEWAY_WS_ENABLED: 'true',
    GATEWAY_WS_HOST: '127.0.0.1',
    GATEWAY_WS_PORT: '0',
    GATEWAY_WS_MAX_CONNECTIONS: String(count + SPARE_FILES),
    // The buckets belong to bench:edge: here every client is one device asking once.
    GATEWAY_RATE_LIMIT_RULES: '[]',
    // Shedding stays on, above the lag a burst of handshakes on two cores causes; a shed ticket is
    // asked for again and counted. (The first ~100 ms after the gateway listens are shed whatever
    // the load: its first event-loop sample still holds the boot.)
    GATEWAY_SHED_MAX_EVENT_LOOP_DELAY_MS: '1000',
    GATEWAY_ALLOCATION_AUTO_DRAW: 'false'
  }
  const configuredAt = Date.now()
  const gateway: ChildServer = await startChildServer(here('../../gateway/server.js'), env)
  cleanups.push(async () => gateway.stop())
  const baseUrl = `http://127.0.0.1:${gateway.port}`
  // The gateway's warnings and errors, for the report (its info lines are only the start).
  const gatewayProblems: string[] = []
  gateway.child.stdout?.on('data', (chunk: string) => {
    for (const line of chunk.split('\n')) if (/"level":(40|50|60)/.test(line)) gatewayProblems.push(line)
  })
  const pid = gateway.child.pid as number
  const rss = new RssSampler(pid)
  cleanups.push(async () => { rss.stop() })
  const rssAtStart = await rss.sample()
  // A first scrape resets the gateway's event-loop histogram (prom-client resets it on each
  // collect), so the last one covers the run and not the boot.
  await metrics(baseUrl)
  say(`gateway pid ${pid} at ${baseUrl} on redis-server :${redis.port}; room "${ROOM}" opens at ${new Date(openingAt).toISOString()} (${((openingAt - Date.now()) / 1000).toFixed(1)} s from now), admitting ${rate}/s; ${count} clients, ${slow} of them slow`)

  // 1. Tickets.
  const ticketsFrom = Date.now()
  const ticketStatuses = await takeTickets(crowd.clients, baseUrl)
  const ticketsTo = Date.now()
  const ticketed = crowd.clients.filter((c) => c.ticket !== undefined)
  const wsUrls = new Set(ticketed.map((c) => new URL(c.wsUrl as string).host))
  for (const host of wsUrls) if (!/^127\.0\.0\.1:\d+$/.test(host)) throw new Error(`the gateway sent clients to ${host}, not to loopback`)
  say(`${ticketed.length} tickets in ${((ticketsTo - ticketsFrom) / 1000).toFixed(2)} s (answers ${JSON.stringify(ticketStatuses)})`)

  // 2. Subscriptions.
  const subscribeFrom = Date.now()
  await subscribeAll(crowd)
  const subscribeTo = Date.now()
  const welcomed = crowd.clients.filter((c) => c.welcomedAt !== undefined)
  const rssSubscribed = await rss.sample()
  say(`${welcomed.length} subscribed in ${((subscribeTo - subscribeFrom) / 1000).toFixed(2)} s; the opening is ${((openingAt - subscribeTo) / 1000).toFixed(1)} s away`)
  const readyInTime = subscribeTo <= openingAt
  if (!readyInTime) say(`the room opened before every client had subscribed: admissions raced the subscriptions, so push latency is not what this measures; give more --lead-seconds (${leadSeconds} now)`)

  // 3. Admissions: first the reading clients, then the slow ones.
  const fast = crowd.clients.filter((c) => !c.slow && c.welcomedAt !== undefined)
  const slowOnes = crowd.clients.filter((c) => c.slow)
  // This process's own lag from the opening on: it times every arrival.
  const delay = monitorEventLoopDelay({ resolution: 10 })
  delay.enable()
  setTimeout(() => { delay.reset() }, Math.max(0, openingAt - Date.now())).unref()
  const fastDone = await until(
    () => fast.every((c) => c.admittedAt !== undefined),
    openingAt + (2 * count / rate + 30) * 1000,
    () => `${fast.filter((c) => c.admittedAt !== undefined).length} of ${fast.length} reading clients admitted`
  )
  delay.disable()
  const rssAdmitted = await rss.sample()
  // What the gateway had sent while the slow clients were not reading.
  const sentWhilePaused = (await metrics(baseUrl)).get('gateway_ws_messages_total{type="admitted"}') ?? 0
  const releasedAt = Date.now()
  crowd.release()
  const slowDone = await until(
    () => slowOnes.every((c) => c.admittedAt !== undefined),
    Date.now() + SLOW_GRACE_MS,
    () => `${slowOnes.filter((c) => c.admittedAt !== undefined).length} of ${slowOnes.length} slow clients admitted`
  )
  if (!fastDone || !slowDone) say('gave up waiting for admissions')

  // The gateway's own word, with every socket still open.
  const m = await metrics(baseUrl)
  const rssEnd = await rss.sample()
  rss.stop()
  crowd.stop()

  // Figures.
  const all = crowd.clients
  const admitted = all.filter((c) => c.admittedAt !== undefined && c.decidedAt !== undefined)
  const decided = admitted.map((c) => c.decidedAt as number).sort((a, b) => a - b)
  const latency = (list: readonly Client[]): number[] => list.filter((c) => c.admittedAt !== undefined && c.decidedAt !== undefined).map((c) => (c.admittedAt as number) - (c.decidedAt as number)).sort((a, b) => a - b)
  const fastLatency = latency(fast)
  const slowLatency = latency(slowOnes)
  const firstDecided = decided[0] ?? 0
  const lastDecided = decided.at(-1) ?? 0
  const spanSeconds = (lastDecided - firstDecided) / 1000
  // The rate over the whole seconds from the first decision. Admissions are decided in rounds
  // (every 100 ms, as many as the rolling second and the admitter's speed allow), so when the
  // rolling second is what limits they come in bursts of up to admitPerSecond about a second
  // apart: n over the span from the first to the last would overstate the rate by nearly a
  // burst (the issue's "admissions / (last − first)", printed beside it), and n over span + 1 s
  // understate it when the admitter itself is what limits and they come evenly.
  const wholeSeconds = Math.max(1, Math.floor(spanSeconds))
  const admittedPerSecond = decided.filter((t) => t < firstDecided + wholeSeconds * 1000).length / wholeSeconds
  const rawPerSecond = spanSeconds > 0 ? decided.length / spanSeconds : decided.length
  const perWholeSecond = Array.from({ length: Math.floor(spanSeconds) + 1 }, (_, i) => decided.filter((t) => t >= firstDecided + i * 1000 && t < firstDecided + (i + 1) * 1000).length)
  const busiestSecond = maxInAnyWindow(decided)
  const slowAdmitted = slowOnes.filter((c) => c.admittedAt !== undefined)
  const reconnected = all.filter((c) => c.sockets > 1)
  const rssMb = Math.ceil(mb(rss.maxKb))
  const pushP99 = fastLatency.length === 0 ? Infinity : quantile(fastLatency, 0.99)
  const q = (sorted: readonly number[], p: number): string => sorted.length === 0 ? '-' : ms1(quantile(sorted, p))
  const perSecond = (n: number, ms: number): string => ms > 0 ? (n / (ms / 1000)).toFixed(0) : '-'
  const progressPerClient = fast.length === 0 ? 0 : fast.reduce((s, c) => s + c.progress, 0) / fast.length
  const errors = new Map<string, number>()
  for (const c of all) for (const e of c.errors) errors.set(e, (errors.get(e) ?? 0) + 1)
  const metric = (name: string): string => String(m.get(name) ?? 'absent')
  const everyoneAdmitted = admitted.length === count
  const ok = (good: boolean): string => good ? 'ok' : 'FAILED'

  const out = (line: string): void => { process.stdout.write(`${line}\n`) }
  out(`machine: ${cpus().length} x ${cpus()[0]?.model ?? 'cpu'}, load average ${loadavg().map((l) => l.toFixed(2)).join(' ')}, node ${process.version}; one gateway process (WebSocket on), one redis-server, ${count} clients in the bench process, all on 127.0.0.1; open files limit ${files ?? 'unknown'}`)
  out(`room: admitPerSecond ${rate}, maxActive ${room.maxActive}; opening ${leadSeconds} s after the gateway was configured (${leadGiven ? '--lead-seconds' : 'default for this many clients'}); ${slow} slow clients`)
  out('| phase | from → to | clients | seconds | per second |')
  out('| --- | --- | --- | --- | --- |')
  out(`| tickets | first GET /v1/schedule → last ticket | ${ticketed.length} | ${((ticketsTo - ticketsFrom) / 1000).toFixed(2)} | ${perSecond(ticketed.length, ticketsTo - ticketsFrom)} |`)
  out(`| subscribe | first socket opened → last welcome | ${welcomed.length} | ${((subscribeTo - subscribeFrom) / 1000).toFixed(2)} | ${perSecond(welcomed.length, subscribeTo - subscribeFrom)} |`)
  out(`| ready → opening | last welcome → opening (slack of the lead time; gateway start ${((ticketsFrom - configuredAt) / 1000).toFixed(2)} s) | - | ${((openingAt - subscribeTo) / 1000).toFixed(2)} | - |`)
  out(`| admission | first decidedAt → last decidedAt | ${decided.length} | ${spanSeconds.toFixed(2)} | ${admittedPerSecond.toFixed(0)} (in the first ${wholeSeconds} whole s); ${rawPerSecond.toFixed(0)} (n ÷ span) |`)
  out(`admissions in each second from the first decision: ${perWholeSecond.join(' ')}`)
  out(`| reading clients admitted | opening → last admission received | ${fast.filter((c) => c.admittedAt !== undefined).length} of ${fast.length} | ${((Math.max(...fast.map((c) => c.admittedAt ?? 0)) - openingAt) / 1000).toFixed(2)} | - |`)
  out('| push latency (arrival − decidedAt) | clients | p50 ms | p99 ms | max ms |')
  out('| --- | --- | --- | --- | --- |')
  out(`| reading clients | ${fastLatency.length} | ${q(fastLatency, 0.5)} | ${q(fastLatency, 0.99)} | ${q(fastLatency, 1)} |`)
  out(`| slow clients (paused until the others had theirs) | ${slowLatency.length} | ${q(slowLatency, 0.5)} | ${q(slowLatency, 0.99)} | ${q(slowLatency, 1)} |`)
  const pausedFrom = Math.min(...slowOnes.map((c) => c.welcomedAt ?? releasedAt))
  if (slowOnes.length === 0) out('slow clients: none (--slow 0)')
  else out(`slow clients: ${slowOnes.length}, not reading for up to ${((releasedAt - pausedFrom) / 1000).toFixed(1)} s (from their welcome until every reading client had its admission; GATEWAY_WS_IDLE_TIMEOUT_SECONDS ${defaults.waitingRoom.wsIdleTimeoutSeconds}); ${slowOnes.filter((c) => c.decidedAt !== undefined && c.decidedAt < releasedAt).length} of their admissions decided meanwhile, and the gateway had sent ${sentWhilePaused} admitted messages in all by then; reading again, ${slowAdmitted.length} of ${slowOnes.length} found their admission (${slowAdmitted.filter((c) => c.admittedOnReconnect).length} by reconnecting with their ticket): ${ok(slowAdmitted.length === slowOnes.length)}`)
  out(`clients: ${reconnected.length} reconnected (${reconnected.filter((c) => !c.slow).length} reading ones); ${all.reduce((s, c) => s + c.duplicates, 0)} admissions received twice; progress messages per reading client ${progressPerClient.toFixed(1)}; errors ${errors.size === 0 ? 'none' : JSON.stringify(Object.fromEntries(errors))}`)
  out(`bench process event loop during the admission: p99 ${ms1(delay.percentile(99) / 1e6)} ms, max ${ms1(delay.max / 1e6)} ms (it times every arrival: its own lag counts in push latency)`)
  out(`gateway RSS (VmRSS, MiB): at start ${mb(rssAtStart).toFixed(0)}, all subscribed ${mb(rssSubscribed).toFixed(0)} (${((rssSubscribed - rssAtStart) / Math.max(1, welcomed.length)).toFixed(1)} KiB a client), all admitted ${mb(rssAdmitted).toFixed(0)}, at the end ${mb(rssEnd).toFixed(0)}, max ${mb(rss.maxKb).toFixed(1)} over ${rss.samples} samples`)
  out('| measured in this run | value | what it says |')
  out('| --- | --- | --- |')
  out(`| admitted/s ÷ configured | ${(admittedPerSecond / rate).toFixed(3)} | admissions in the whole seconds from the first decision, per second; 1 when the rolling second is what limits, less when the admitter is slower |`)
  out(`| admissions ÷ span ÷ configured | ${(rawPerSecond / rate).toFixed(3)} | the same as n ÷ (last − first decidedAt): above 1 by up to a burst when the rolling second limits |`)
  out(`| busiest rolling second ÷ configured | ${(busiestSecond / rate).toFixed(3)} | ${busiestSecond} decisions in the busiest [t, t + 1 s); ${ok(busiestSecond <= rate)} when at most 1 |`)
  out(`| push p99 ÷ limit | ${(pushP99 / PUSH_P99_LIMIT_MS).toFixed(3)} | reading clients' p99 over the issue's ${PUSH_P99_LIMIT_MS} ms |`)
  out(`| rss ÷ limit | ${(mb(rss.maxKb) / RSS_LIMIT_MB).toFixed(3)} | the gateway's largest RSS over the issue's ${RSS_LIMIT_MB} MB |`)
  out(`gateway /metrics at the end: gateway_ws_connections ${metric('gateway_ws_connections')}, gateway_waiting_room_admitted_total ${metric(`gateway_waiting_room_admitted_total{room="${ROOM}"}`)}, gateway_waiting_room_joined_total ${metric(`gateway_waiting_room_joined_total{room="${ROOM}"}`)}, gateway_ws_messages_total{type="admitted"} ${metric('gateway_ws_messages_total{type="admitted"}')}, gateway_ws_dropped_total ${metric('gateway_ws_dropped_total')}, gateway_ws_published_total{type="progress"} ${metric('gateway_ws_published_total{type="progress"}')}, nodejs_heap_size_used_bytes ${(Number(m.get('nodejs_heap_size_used_bytes') ?? 0) / 1024 ** 2).toFixed(0)} MiB, nodejs_external_memory_bytes ${(Number(m.get('nodejs_external_memory_bytes') ?? 0) / 1024 ** 2).toFixed(0)} MiB, nodejs_eventloop_lag_max_seconds ${metric('nodejs_eventloop_lag_max_seconds')}, gateway_shed_total ${metric('gateway_shed_total')}${[...m].filter(([k]) => k.startsWith('gateway_shed_total{')).map(([k, v]) => ` ${k.slice('gateway_shed_total'.length)} ${v}`).join(',')}`)
  out(`checks: every client admitted ${admitted.length} of ${count}: ${ok(everyoneAdmitted)}; push p99 ${ms1(pushP99)} ms <= ${PUSH_P99_LIMIT_MS}: ${ok(pushP99 <= PUSH_P99_LIMIT_MS)}; rss ${rssMb} MB < ${RSS_LIMIT_MB}: ${ok(rssMb < RSS_LIMIT_MB)}; subscribed before the opening: ${ok(readyInTime)}; gateway warnings and errors ${gatewayProblems.length}`)
  for (const line of gatewayProblems.slice(0, 5)) say(`gateway said: ${line.slice(0, 500)}`)
  out(`waiting-room-bench: clients=${count} admitted_per_s=${admittedPerSecond.toFixed(0)} push_p99_ms=${Number.isFinite(pushP99) ? ms1(pushP99) : 'none'} rss_mb=${rssMb}`)
  return everyoneAdmitted && pushP99 <= PUSH_P99_LIMIT_MS && rssMb < RSS_LIMIT_MB && readyInTime ? 0 : 1
}

await runBench(main, { say, cleanUp, isUsageError: (err) => err instanceof OptionError })
