// A stand-in for the third-party liveness ("genuine presence") vendor, for tests and surge
// rehearsals. It enforces what the real contract says (N scans per second, a total budget) the
// way a vendor's edge would, and counts exactly what arrived, so a rehearsal can prove "never more
// than N requests in any one second" instead of assuming it (OIG-24-48: the real vendor saw peaks
// of 32/s against a contract of 1/s, and throttled).
//
// Protocol (ours; kept small):
//   POST /v1/scans
//     headers  Idempotency-Key: 1 to 255 visible ASCII characters (required)
//              Content-Type: application/json
//     body     { "reference": string (1-128 chars), "photo": base64 of a JPEG (starts FF D8 FF) }
//   Checked in this order, at the moment the request arrives (its headers are in):
//     down                     the socket is reset (RST), no answer
//     not POST /v1/scans       404 { error: 'not_found' }
//     no/invalid key           400 { error: 'idempotency_key_required' }
//     key already scanned      the first answer again (after it is ready), no second scan, no
//                              rate or budget spent; only 200 answers are kept, so a key first
//                              answered 429/402/500/400 may be sent again and scanned
//     rate                     429 { error: 'rate_limited', retryAfterMs } + Retry-After (whole
//                              seconds, at least 1) when ratePerSecond requests have already passed
//                              this check in the last second (sliding window (now - 1 s, now]);
//                              a refused request does not count against later ones
//   then, once the body is read:
//     invalid body             400 { error: 'invalid_request' }; 413 { error: 'payload_too_large' } over 8 MiB
//     budget                   402 { error: 'budget_exhausted' } once totalScans scans were accepted
//     errorShare               500 { error: 'internal_error' } after latencyMs (no budget spent)
//     otherwise                200 { scanId, result: 'pass' | 'fail' } after latencyMs; the scan
//                              counts against the budget from the moment it is accepted
//   failShare and errorShare are deterministic: the k-th candidate is hit when
//   floor(k * share) > floor((k - 1) * share), so 0.25 hits every 4th.
//
// CLI (rehearsals), on 127.0.0.1 only:
//   node dist/loadtests/simulators/liveness-vendor.js --rate 1 --total 400000 --latency 200 --port 9700
//     [--fail-share 0.1] [--error-share 0] [--host ::1]
// prints "liveness vendor listening on http://127.0.0.1:9700 ..." and, on SIGINT or SIGTERM, its
// stats as one JSON line, then exits.
import type { IncomingMessage, Server, ServerResponse } from 'node:http'
import { parseArgs } from 'node:util'
import { hitsShare } from '../lib/deterministic-share.js'
import { isEntry, listenLoopback, runSimulatorCli, SimulatorServer, simulatorClock, type JsonAnswer, type LoopbackHost } from '../lib/loopback-server.js'

export interface LivenessVendorOptions {
  /** Contract rate: requests per sliding second that get past the rate check (a positive integer). */
  ratePerSecond: number
  /** Contract budget: scans accepted over the simulator's life. */
  totalScans: number
  /** Time to answer an accepted scan (and a 500), ms. Default 50. */
  latencyMs?: number
  /** Share of scans answered 'fail', 0 to 1. Default 0. */
  failShare?: number
  /** Loopback only. Default 127.0.0.1. */
  host?: '127.0.0.1' | '::1'
  /** Default 0: a free port. */
  port?: number
  /** The simulator's clock, ms; monotonic by default. Tests inject one to place arrivals exactly. */
  now?: () => number
}

export interface VendorBehaviour {
  latencyMs: number
  failShare: number
  /** Reset every connection's request instead of answering. */
  down: boolean
  /** Share of admitted, valid, in-budget requests answered 500, 0 to 1. */
  errorShare: number
  ratePerSecond: number
  totalScans: number
}

export interface VendorStats {
  /** Every request that arrived: resets, refusals and replays included. */
  received: number
  /** Scans counted against the budget. */
  accepted: number
  passed: number
  failed: number
  /** Answered again from an Idempotency-Key. */
  replayed: number
  rejected429: number
  rejected402: number
  errors500: number
  /** 400, 404 and 413 answers. */
  invalid: number
  /** Requests reset while down. */
  resets: number
  /** Most requests that arrived in any window [t, t + 1000 ms) of the simulator's clock: exact. */
  maxInAnyOneSecond: number
  /** Distinct Idempotency-Key values seen. */
  distinctKeys: number
  budgetRemaining: number
}

export interface LivenessVendorSimulator {
  url: string
  stats(): VendorStats
  set(behaviour: Partial<VendorBehaviour>): void
  close(): Promise<void>
}

const MAX_BODY_BYTES = 8 * 1024 * 1024
const KEY_PATTERN = /^[\x21-\x7e]{1,255}$/
const BASE64_PATTERN = /^[A-Za-z0-9+/]+={0,2}$/
const WINDOW_MS = 1_000

type Answer = JsonAnswer

function validate (behaviour: Partial<VendorBehaviour>): void {
  const { ratePerSecond, totalScans, latencyMs, failShare, errorShare } = behaviour
  if (ratePerSecond !== undefined && !(Number.isInteger(ratePerSecond) && ratePerSecond >= 1)) throw new RangeError('ratePerSecond must be a positive integer')
  if (totalScans !== undefined && !(Number.isInteger(totalScans) && totalScans >= 0)) throw new RangeError('totalScans must be a non-negative integer')
  if (latencyMs !== undefined && !(Number.isFinite(latencyMs) && latencyMs >= 0)) throw new RangeError('latencyMs must be a non-negative number')
  if (failShare !== undefined && !(failShare >= 0 && failShare <= 1)) throw new RangeError('failShare must be a number from 0 to 1')
  if (errorShare !== undefined && !(errorShare >= 0 && errorShare <= 1)) throw new RangeError('errorShare must be a number from 0 to 1')
}

function isJpegBase64 (photo: unknown): boolean {
  if (typeof photo !== 'string' || photo.length < 4 || photo.length % 4 !== 0 || !BASE64_PATTERN.test(photo)) return false
  const head = Buffer.from(photo.slice(0, 4), 'base64')
  return head[0] === 0xff && head[1] === 0xd8 && head[2] === 0xff
}

class Simulator extends SimulatorServer implements LivenessVendorSimulator {
  readonly #behaviour: VendorBehaviour
  /** Arrival times of requests that got past the rate check in the last second, oldest first. */
  readonly #window: number[] = []
  /** Answers by Idempotency-Key, kept for accepted scans only. */
  readonly #answers = new Map<string, Promise<Answer>>()
  readonly #keys = new Set<string>()
  readonly #counts = { received: 0, accepted: 0, passed: 0, failed: 0, replayed: 0, rejected429: 0, rejected402: 0, errors500: 0, invalid: 0, resets: 0 }
  #errorCandidates = 0

  constructor (server: Server, url: string, behaviour: VendorBehaviour, now: () => number) {
    super(server, url, now)
    this.#behaviour = behaviour
  }

  stats (): VendorStats {
    return {
      ...this.#counts,
      maxInAnyOneSecond: this.busiestSecond(),
      distinctKeys: this.#keys.size,
      budgetRemaining: Math.max(0, this.#behaviour.totalScans - this.#counts.accepted)
    }
  }

  set (behaviour: Partial<VendorBehaviour>): void {
    validate(behaviour)
    if (behaviour.down !== undefined && typeof behaviour.down !== 'boolean') throw new TypeError('down must be true or false')
    for (const [name, value] of Object.entries(behaviour)) {
      if (value !== undefined) (this.#behaviour as unknown as Record<string, unknown>)[name] = value
    }
  }

  protected arrive (req: IncomingMessage, res: ServerResponse, at: number): void {
    this.#counts.received++
    if (this.#behaviour.down) {
      this.#counts.resets++
      this.reset(req)
      return
    }
    const path = (req.url ?? '').split('?')[0]
    if (req.method !== 'POST' || path !== '/v1/scans') return this.#refuse(req, res, 404, { error: 'not_found' })
    const key = req.headers['idempotency-key']
    if (typeof key !== 'string' || !KEY_PATTERN.test(key)) return this.#refuse(req, res, 400, { error: 'idempotency_key_required' })
    this.#keys.add(key)
    const earlier = this.#answers.get(key)
    if (earlier !== undefined) {
      this.#counts.replayed++
      req.resume()
      earlier.then((answer) => this.send(res, answer))
      return
    }
    const wait = this.#admit(at)
    if (wait !== 0) {
      this.#counts.rejected429++
      res.setHeader('retry-after', String(Math.max(1, Math.ceil(wait / 1000))))
      return this.#refuse(req, res, 429, { error: 'rate_limited', retryAfterMs: Math.ceil(wait) })
    }
    this.#readBody(req).then((body) => this.#scan(req, res, key, body), () => {
      this.#counts.invalid++
      this.send(res, { status: 413, body: { error: 'payload_too_large' } }, true)
    })
  }

  /** 0 when the request may pass the rate check (and is counted), else ms until it could. */
  #admit (at: number): number {
    const window = this.#window
    while (window.length > 0 && (window[0] as number) <= at - WINDOW_MS) window.shift()
    if (window.length >= this.#behaviour.ratePerSecond) {
      // Room comes back when the request that makes the window full leaves it, WINDOW_MS after it
      // arrived (always later than `at`, so the answer is never 0). After a lower rate from set(),
      // more than one may have to leave.
      return (window[window.length - this.#behaviour.ratePerSecond] as number) + WINDOW_MS - at
    }
    window.push(at)
    return 0
  }

  #scan (req: IncomingMessage, res: ServerResponse, key: string, raw: string): void {
    let body: { reference?: unknown, photo?: unknown }
    try {
      body = JSON.parse(raw) as typeof body
    } catch {
      body = {}
    }
    const { reference, photo } = body ?? {}
    if (typeof reference !== 'string' || reference.length < 1 || reference.length > 128 || !isJpegBase64(photo)) {
      return this.#refuse(req, res, 400, { error: 'invalid_request' })
    }
    // The same key may have been accepted while this body was arriving.
    const earlier = this.#answers.get(key)
    if (earlier !== undefined) {
      this.#counts.replayed++
      earlier.then((answer) => this.send(res, answer))
      return
    }
    if (this.#counts.accepted >= this.#behaviour.totalScans) {
      this.#counts.rejected402++
      return this.send(res, { status: 402, body: { error: 'budget_exhausted' } })
    }
    if (hitsShare(++this.#errorCandidates, this.#behaviour.errorShare)) {
      this.#counts.errors500++
      this.later(() => this.send(res, { status: 500, body: { error: 'internal_error' } }), this.#behaviour.latencyMs)
      return
    }
    const n = ++this.#counts.accepted
    const result = hitsShare(n, this.#behaviour.failShare) ? 'fail' : 'pass'
    this.#counts[result === 'pass' ? 'passed' : 'failed']++
    const answer = new Promise<Answer>((resolve) => {
      this.later(() => resolve({ status: 200, body: { scanId: `scan-${n}`, result } }), this.#behaviour.latencyMs)
    })
    this.#answers.set(key, answer)
    answer.then((a) => this.send(res, a))
  }

  #refuse (req: IncomingMessage, res: ServerResponse, status: number, body: Record<string, unknown>): void {
    if (status !== 429) this.#counts.invalid++
    this.answerNow(req, res, { status, body })
  }

  async #readBody (req: IncomingMessage): Promise<string> {
    const chunks: Buffer[] = []
    let size = 0
    for await (const chunk of req) {
      size += (chunk as Buffer).length
      if (size > MAX_BODY_BYTES) throw new RangeError('body too large')
      chunks.push(chunk as Buffer)
    }
    return Buffer.concat(chunks).toString('utf8')
  }
}

/** Starts the simulator on a loopback port; resolves once it listens. */
export async function startLivenessVendor (options: LivenessVendorOptions): Promise<LivenessVendorSimulator> {
  const behaviour: VendorBehaviour = {
    ratePerSecond: options.ratePerSecond,
    totalScans: options.totalScans,
    latencyMs: options.latencyMs ?? 50,
    failShare: options.failShare ?? 0,
    errorShare: 0,
    down: false
  }
  validate(behaviour)
  const { server, url } = await listenLoopback(options)
  const now = simulatorClock(options.now)
  return new Simulator(server, url, behaviour, now)
}

if (isEntry(import.meta.url)) {
  const { values } = parseArgs({
    options: {
      rate: { type: 'string', default: '1' },
      total: { type: 'string', default: '400000' },
      latency: { type: 'string', default: '50' },
      'fail-share': { type: 'string', default: '0' },
      'error-share': { type: 'string', default: '0' },
      port: { type: 'string', default: '0' },
      host: { type: 'string', default: '127.0.0.1' }
    }
  })
  runSimulatorCli('liveness-vendor', async () => {
    const vendor = await startLivenessVendor({
      ratePerSecond: Number(values.rate),
      totalScans: Number(values.total),
      latencyMs: Number(values.latency),
      failShare: Number(values['fail-share']),
      host: values.host as LoopbackHost,
      port: Number(values.port)
    })
    vendor.set({ errorShare: Number(values['error-share']) })
    return vendor
  }, (url) => `liveness vendor listening on ${url} (rate ${values.rate}/s, budget ${values.total} scans, latency ${values.latency} ms)`)
}
