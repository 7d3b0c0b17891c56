// A stand-in for the backend services (systems of record) that the gateway's outbox delivers
// events to, for tests and surge rehearsals. It records what it receives once per
// Idempotency-Key, the way a backend that deduplicates would, and counts exactly what arrived, so
// a rehearsal can prove "never more than the delivery rate in any one second" and "every event
// exactly once" instead of assuming them.
//
// Protocol (ours; kept small):
//   POST <any path>
//     headers  Idempotency-Key: the event id, 1 to 255 visible ASCII characters (required)
//              Content-Type: application/json
//     body     { "id": string, "type": string, "time": ..., "payload": ... } (only id and type,
//              both non-empty strings, are checked)
//   Checked in this order, at the moment the request arrives (its headers are in):
//     down                     the socket is reset (RST), no answer
//     status override          that status at once, nothing recorded; 429 carries Retry-After: 1
//     not POST                 405 { error: 'method_not_allowed' } + Allow: POST
//     no/invalid key           400 { error: 'idempotency_key_required' }
//   then, once the body is read:
//     over 1 MiB               413 { error: 'payload_too_large' } (the body is drained, not kept)
//     invalid body             400 { error: 'invalid_event' }
//     failShare                503 { error: 'unavailable' } after latencyMs, nothing recorded, so
//                              the same key may be sent again and recorded
//     key recorded before      200 { duplicate: true } after latencyMs: counted as a duplicate
//                              (also when the first delivery's answer is still on its way)
//     otherwise                recorded, then 200 { accepted: true } after latencyMs
//   failShare is deterministic over valid requests (new or duplicate): the k-th is answered 503
//   when floor(k * share) > floor((k - 1) * share), so 0.25 fails every 4th.
//
// CLI (rehearsals), on 127.0.0.1 or ::1 only:
//   node dist/loadtests/simulators/backend.js --port 9800 [--latency 5] [--fail-share 0.1] [--host ::1]
// prints "backend simulator listening on http://127.0.0.1:9800 ..." and, on SIGINT or SIGTERM,
// its stats as one JSON line, then exits.
import type { IncomingMessage, Server, ServerResponse } from 'node:http'
import { parseArgs } from 'node:util'
import { hitsShare } from '../lib/deterministic-share.js'
import { isEntry, listenLoopback, runSimulatorCli, SimulatorServer, simulatorClock, type JsonAnswer, type LoopbackHost } from '../lib/loopback-server.js'

export interface BackendOptions {
  /** Time to answer a valid event (accepted, duplicate or 503), ms. Default 5. */
  latencyMs?: number
  /** Share of valid requests answered 503 and not recorded, 0 to 1, in a fixed pattern. Default 0. */
  failShare?: number
  /** Loopback only. Default 127.0.0.1. */
  host?: '127.0.0.1' | '::1'
  /** Default 0: a free port. */
  port?: number
  /** The simulator's clock, ms; monotonic by default. Tests inject one to place arrivals exactly. */
  now?: () => number
  /** Keep each recorded event's body (its first delivery), for tests that read payloads. Default false. */
  keepBodies?: boolean
}

export interface BackendBehaviour {
  latencyMs: number
  failShare: number
  /** Reset every request's connection instead of answering. */
  down: boolean
  /** Answer every request with this status (200 to 599), recording nothing; undefined: off. */
  status: number | undefined
}

export interface BackendStats {
  /** Every request that arrived: resets, refusals and duplicates included. */
  received: number
  /** Events recorded: distinct Idempotency-Key values answered 200 { accepted: true }. */
  accepted: number
  /** Requests answered 200 { duplicate: true }: a key recorded before. */
  duplicates: number
  /** Requests answered 503 by failShare. */
  failed: number
  /** 400, 405 and 413 answers, and answers from a status override. */
  rejected: number
  /** Requests reset while down. */
  resets: number
  /** Most requests that arrived in any window [t, t + 1000 ms) of the simulator's clock: exact. */
  maxInAnyOneSecond: number
  /** Recorded events by their type. */
  byType: Record<string, number>
  /** Distinct valid Idempotency-Key values seen, recorded or not. */
  distinctKeys: number
}

/** One recorded event: its type and how many deliveries of it were answered 200. */
export interface ReceivedEvent {
  type: string
  count: number
  /** The parsed body of its first delivery, with keepBodies. */
  body?: { id: string, type: string, time: number, payload: unknown }
}

export interface BackendSimulator {
  url: string
  stats(): BackendStats
  set(behaviour: Partial<BackendBehaviour>): void
  /** A snapshot of the recorded events by Idempotency-Key. */
  received(): ReadonlyMap<string, ReceivedEvent>
  close(): Promise<void>
}

const MAX_BODY_BYTES = 1024 * 1024
const KEY_PATTERN = /^[\x21-\x7e]{1,255}$/

type Answer = JsonAnswer

function validate (behaviour: Partial<BackendBehaviour>): void {
  const { latencyMs, failShare, down, status } = behaviour
  if (latencyMs !== undefined && !(Number.isFinite(latencyMs) && latencyMs >= 0)) throw new RangeError('latencyMs must be a non-negative number')
  if (failShare !== undefined && !(failShare >= 0 && failShare <= 1)) throw new RangeError('failShare must be a number from 0 to 1')
  if (down !== undefined && typeof down !== 'boolean') throw new TypeError('down must be true or false')
  if (status !== undefined && !(Number.isInteger(status) && status >= 200 && status <= 599)) throw new RangeError('status must be an integer from 200 to 599, or undefined')
}

class Simulator extends SimulatorServer implements BackendSimulator {
  readonly #behaviour: BackendBehaviour
  /** Recorded events by Idempotency-Key. */
  readonly #events = new Map<string, ReceivedEvent>()
  readonly #keys = new Set<string>()
  readonly #byType = new Map<string, number>()
  readonly #counts = { received: 0, accepted: 0, duplicates: 0, failed: 0, rejected: 0, resets: 0 }
  #candidates = 0
  readonly #keepBodies: boolean

  constructor (server: Server, url: string, behaviour: BackendBehaviour, now: () => number, keepBodies: boolean) {
    super(server, url, now)
    this.#behaviour = behaviour
    this.#keepBodies = keepBodies
  }

  stats (): BackendStats {
    return {
      ...this.#counts,
      maxInAnyOneSecond: this.busiestSecond(),
      byType: Object.fromEntries(this.#byType),
      distinctKeys: this.#keys.size
    }
  }

  set (behaviour: Partial<BackendBehaviour>): void {
    validate(behaviour)
    const { latencyMs, failShare, down } = behaviour
    if (latencyMs !== undefined) this.#behaviour.latencyMs = latencyMs
    if (failShare !== undefined) this.#behaviour.failShare = failShare
    if (down !== undefined) this.#behaviour.down = down
    // { status: undefined } turns the override off; leaving the property out keeps it.
    if (Object.hasOwn(behaviour, 'status')) this.#behaviour.status = behaviour.status
  }

  received (): ReadonlyMap<string, ReceivedEvent> {
    const copy = new Map<string, ReceivedEvent>()
    for (const [key, event] of this.#events) copy.set(key, { ...event })
    return copy
  }

  protected arrive (req: IncomingMessage, res: ServerResponse): void {
    this.#counts.received++
    if (this.#behaviour.down) {
      this.#counts.resets++
      this.reset(req)
      return
    }
    const header = req.headers['idempotency-key']
    const key = typeof header === 'string' && KEY_PATTERN.test(header) ? header : undefined
    if (key !== undefined) this.#keys.add(key)
    const status = this.#behaviour.status
    if (status !== undefined) {
      return this.#refuse(req, res, {
        status,
        body: { error: status === 429 ? 'rate_limited' : 'forced_status', status },
        ...(status === 429 ? { headers: { 'retry-after': '1' } } : {})
      })
    }
    if (req.method !== 'POST') return this.#refuse(req, res, { status: 405, body: { error: 'method_not_allowed' }, headers: { allow: 'POST' } })
    if (key === undefined) return this.#refuse(req, res, { status: 400, body: { error: 'idempotency_key_required' } })
    this.#readBody(req).then((raw) => this.#deliver(res, key, raw), () => {
      // The client went away mid-body: there is no one to answer.
    })
  }

  #deliver (res: ServerResponse, key: string, raw: string | undefined): void {
    if (raw === undefined) {
      this.#counts.rejected++
      return this.send(res, { status: 413, body: { error: 'payload_too_large' } })
    }
    const type = eventType(raw)
    if (type === undefined) {
      this.#counts.rejected++
      return this.send(res, { status: 400, body: { error: 'invalid_event' } })
    }
    if (hitsShare(++this.#candidates, this.#behaviour.failShare)) {
      this.#counts.failed++
      return this.#later(res, { status: 503, body: { error: 'unavailable' } })
    }
    // Recorded now, before the answer leaves: a delivery of the same key arriving meanwhile is a
    // duplicate, as it would be against a backend that commits before it answers.
    const earlier = this.#events.get(key)
    if (earlier !== undefined) {
      earlier.count++
      this.#counts.duplicates++
      return this.#later(res, { status: 200, body: { duplicate: true } })
    }
    this.#events.set(key, { type, count: 1, ...(this.#keepBodies ? { body: JSON.parse(raw) as ReceivedEvent['body'] } : {}) })
    this.#byType.set(type, (this.#byType.get(type) ?? 0) + 1)
    this.#counts.accepted++
    this.#later(res, { status: 200, body: { accepted: true } })
  }

  #later (res: ServerResponse, answer: Answer): void {
    this.later(() => this.send(res, answer), this.#behaviour.latencyMs)
  }

  #refuse (req: IncomingMessage, res: ServerResponse, answer: Answer): void {
    this.#counts.rejected++
    this.answerNow(req, res, answer)
  }

  /** The body as text, or undefined when it was over the limit (read to the end and dropped). */
  async #readBody (req: IncomingMessage): Promise<string | undefined> {
    // Reading to the end rather than closing early lets the client read the 413 instead of
    // seeing a reset mid-upload; memory stays bounded by the limit.
    const chunks: Buffer[] = []
    let size = 0
    for await (const chunk of req) {
      size += (chunk as Buffer).length
      if (size <= MAX_BODY_BYTES) chunks.push(chunk as Buffer)
      else chunks.length = 0
    }
    return size > MAX_BODY_BYTES ? undefined : Buffer.concat(chunks).toString('utf8')
  }
}

/** The event's type when the body is a JSON object with non-empty string id and type. */
function eventType (raw: string): string | undefined {
  let body: unknown
  try {
    body = JSON.parse(raw)
  } catch {
    return undefined
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return undefined
  const { id, type } = body as { id?: unknown, type?: unknown }
  if (typeof id !== 'string' || id === '' || typeof type !== 'string' || type === '') return undefined
  return type
}

/** Starts the simulator on a loopback port; resolves once it listens. */
export async function startBackend (options: BackendOptions = {}): Promise<BackendSimulator> {
  const behaviour: BackendBehaviour = {
    latencyMs: options.latencyMs ?? 5,
    failShare: options.failShare ?? 0,
    down: false,
    status: undefined
  }
  validate(behaviour)
  const { server, url } = await listenLoopback(options)
  const now = simulatorClock(options.now)
  return new Simulator(server, url, behaviour, now, options.keepBodies ?? false)
}

if (isEntry(import.meta.url)) {
  const { values } = parseArgs({
    options: {
      latency: { type: 'string', default: '5' },
      'fail-share': { type: 'string', default: '0' },
      port: { type: 'string', default: '0' },
      host: { type: 'string', default: '127.0.0.1' }
    }
  })
  runSimulatorCli('backend', async () => startBackend({
    latencyMs: Number(values.latency),
    failShare: Number(values['fail-share']),
    host: values.host as LoopbackHost,
    port: Number(values.port)
  }), (url) => `backend simulator listening on ${url} (latency ${values.latency} ms, fail share ${values['fail-share']})`)
}
