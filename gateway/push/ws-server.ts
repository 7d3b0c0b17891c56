// The waiting room's push edge: a WebSocket server on its own port (uWebSockets.js) that tells
// each waiting client its position, its admission and later results, so nobody refreshes (DESIGN.md
// §1: refresh storms on launch day). A thin adapter: tickets, admission and what a message says are
// the caller's; this file only keeps connections, subscriptions and back-pressure.
//
// Protocol. The client's first and only message is {"type":"subscribe","ticket":"..."} (a text
// frame, at most MAX_MESSAGE_BYTES). Anything else is answered {"type":"error","code","message"}
// (message in the language of the upgrade's Accept-Language) and a close with 1008: a non-JSON
// frame GW_ERR_REQUEST_MALFORMED_JSON; a binary or too long frame, another type, a ticket not
// matching TICKET_PATTERN, or any message after the subscribe (a client that wants to start over
// reconnects) GW_ERR_REQUEST_MALFORMED; no subscribe within subscribeTimeoutMs
// GW_ERR_REQUEST_TIMEOUT. A valid subscribe goes to onSubscribe: on ok the socket joins the
// topics and gets the welcome; on a refusal it gets the refusal's code and message and 1008; if
// onSubscribe throws, a GatewayError's own code (1011 when 5xx, else 1008) or
// GW_ERR_SERVER_INTERNAL (1011). Upgrades beyond maxConnections get HTTP 503
// GW_ERR_SERVER_OVERLOADED with a jittered Retry-After, so refused clients do not return in one wave.
//
// Two kinds of message:
// - publish(): best effort, through uWS pub/sub (one call reaches every subscriber of a topic). For
//   position updates, where a newer one replaces a lost one.
// - deliver(): must arrive, to every open connection subscribed with a ticket (reconnects overlap,
//   so a ticket can have several). For the admission token and results.
//
// uWS semantics this relies on (@trufflesuite/uws-js-unofficial 20.30.0-unofficial.0, the only
// uWebSockets.js build that loads on Node 20 here; checked against its typings, the uWebSockets
// sources, and test/push/ws-server.test.ts):
// - ws.send() returns 1 (sent), 0 (accepted, but it built back-pressure) or 2 (dropped: nothing
//   was sent because the socket already buffered more than maxBackpressure before this send; one
//   send can take the buffer past the limit). closeOnBackpressureLimit stays at its default, off:
//   a slow client is kept, only its best-effort messages go.
// - app.publish() hands each subscriber the message through the same send, so a subscriber over
//   maxBackpressure silently misses it while the others get it at once. This build has no
//   `dropped` handler, so those misses cannot be counted per client.
// - drain fires whenever a socket's buffered bytes went down on a write; deliver() keeps what send
//   refused in a per-connection list, in order, and retries it there. A client that leaves more
//   than MAX_PENDING messages waiting is cut, so that it reconnects and resumes with its ticket,
//   rather than held in memory forever; what it still had waiting is counted as dropped.
// - A ws may not be touched once its close handler ran (uWS.js throws "Invalid access of closed
//   uWS.WebSocket"), and end()/close() run that handler at once: each connection carries its own
//   `open` flag, checked after every await, and code returns right after ending a socket.
// - A throw out of a uWS handler surfaces as an uncaughtException (the process exits), and an
//   invalid idleTimeout given to app.ws() aborts it (a C++ terminate, not a JS error): every
//   handler catches, and the options are checked first.
// - A frame over uWS's maxPayloadLength is cut by uWS at once (1006, no close frame, before any
//   handler), so that limit is set to HARD_MAX_MESSAGE_BYTES, above ours, and frames between the
//   two get our error; it also bounds what a socket may make uWS buffer while a frame arrives.
import { randomInt } from 'node:crypto'
import { STATUS_CODES } from 'node:http'
import uWS from '@trufflesuite/uws-js-unofficial'
import type { HttpRequest, HttpResponse, TemplatedApp, WebSocket, us_listen_socket as ListenSocket, us_socket_context_t as SocketContext } from '@trufflesuite/uws-js-unofficial'
import { ERRORS, GatewayError, type ErrorCode, type Language } from '../errors.js'
import { negotiateLanguage } from '../plugins/language.js'
import { apiSecurityHeaders } from '../plugins/security-headers.js'

/** Every message pushed is a JSON object with a `type`, which the signals are counted by. */
export interface PushMessage {
  type: string
  [key: string]: unknown
}

/** onSubscribe accepted the ticket: the connection joins `topics` and is sent `welcome` first. */
export interface PushSubscription {
  ok: true
  welcome: PushMessage
  topics: readonly string[]
}

/** onSubscribe refused the ticket: the client gets this code and (already localized) message, then a close. */
export interface PushRefusal {
  ok: false
  code: string
  message: string
}

/** Hooks for metrics; called synchronously, so they must be cheap. */
export interface PushSignals {
  opened(): void
  closed(): void
  /** One message handed to uWS for one connection (welcome, deliver(), error). */
  sent(type: string): void
  /** A publish() to a topic with this many subscribers (those over maxBackpressure miss it, uncounted). */
  published(type: string, subscribers: number): void
  /** A deliver()ed or welcome message lost because its connection closed before the client could take it. */
  dropped(type: string): void
}

export interface PushServerOptions {
  /** Loopback or an interface address: '127.0.0.1', '::1', '0.0.0.0'. */
  host: string
  /** 0 picks a free port; PushServer.port tells which. */
  port: number
  /** The one path that upgrades, e.g. '/v1/waiting-room/ws'; anything else is 404. */
  path: string
  /** Heartbeats: uWS pings a client silent for half of this and closes one silent for all of it; 0 (off) or 8 to 960. */
  idleTimeoutSeconds: number
  /** Bytes a connection may have waiting; beyond, publish() skips it and deliver() holds its messages. */
  maxBackpressureBytes: number
  /** A connection without a valid subscribe after this long is closed. */
  subscribeTimeoutMs: number
  /** Open connections at most; beyond, upgrades get 503, which bounds memory. */
  maxConnections: number
  /** Strict-Transport-Security max-age on its HTTP answers, as on the API's (0 leaves it out). */
  hstsMaxAgeSeconds: number
  /** Retry-After of a 503 (plus up to as much jitter). Default 5. */
  retryAfterSeconds?: number
  /** Called once per connection, with its ticket and the language negotiated from the upgrade's Accept-Language. */
  onSubscribe(ticket: string, language: Language): Promise<PushSubscription | PushRefusal>
  signals?: PushSignals
  /** An unexpected error (a bug here or in onSubscribe); the connection concerned was closed. */
  onError?(error: unknown): void
}

/** Tickets as the waiting room issues them; anything else never reaches onSubscribe. */
export const TICKET_PATTERN = /^[A-Za-z0-9_-]{8,128}$/
/** A subscribe with the longest ticket is under 200 bytes. */
export const MAX_MESSAGE_BYTES = 1024
const HARD_MAX_MESSAGE_BYTES = 4096
/** deliver()ed messages a connection may have waiting before it is cut (see above). */
export const MAX_PENDING = 64

const CLOSE_GOING_AWAY = 1001
const CLOSE_POLICY = 1008
const CLOSE_INTERNAL = 1011
const SEND_DROPPED = 2

type State = 'waiting' | 'subscribing' | 'subscribed'

interface Pending {
  type: string
  text: string
}

interface Connection {
  readonly ws: WebSocket<UserData>
  readonly language: Language
  /** False from the moment uWS ran the close handler: the socket must not be touched again. */
  open: boolean
  state: State
  ticket: string | undefined
  timer: NodeJS.Timeout | undefined
  /** Must-arrive messages uWS has not taken yet, in order: held while subscribing, or over maxBackpressure. */
  pending: Pending[]
}

interface UserData {
  language: Language
  connection?: Connection
}

interface ValidOptions extends PushServerOptions {
  retryAfterSeconds: number
  securityHeaders: Record<string, string>
}

/** A WebSocket push server; start() it, close() it once. */
/** The push server's address could not be bound (taken, or not ours to bind). */
export class PushListenError extends Error {
  override name = 'PushListenError'
}

export class PushServer {
  readonly #options: ValidOptions
  readonly #app: TemplatedApp
  readonly #connections = new Set<Connection>()
  readonly #byTicket = new Map<string, Set<Connection>>()
  #listenSocket: ListenSocket | undefined
  #closing = false
  /** The port listened on (the one chosen when options.port was 0). */
  readonly port: number

  private constructor (options: ValidOptions) {
    this.#options = options
    this.#app = uWS.App()
    this.#app.ws<UserData>(options.path, {
      idleTimeout: options.idleTimeoutSeconds,
      sendPingsAutomatically: true,
      maxBackpressure: options.maxBackpressureBytes,
      maxPayloadLength: HARD_MAX_MESSAGE_BYTES,
      upgrade: (res, req, context) => {
        try {
          this.#upgrade(res, req, context)
        } catch (error) {
          this.#report(error)
          try { res.close() } catch {}
        }
      },
      open: (ws) => { this.#safely(() => { this.#open(ws) }) },
      message: (ws, message, isBinary) => { this.#guard(ws.getUserData().connection, (c) => { this.#message(c, message, isBinary) }) },
      drain: (ws) => { this.#guard(ws.getUserData().connection, (c) => { if (c.state === 'subscribed') this.#flush(c) }) },
      close: (ws) => { this.#safely(() => { this.#closed(ws.getUserData().connection) }) }
    })
    this.#app.any('/*', (res, req) => {
      try {
        this.#answer(res, 'GW_ERR_ROUTE_NOT_FOUND', negotiateLanguage(req.getHeader('accept-language')))
      } catch (error) {
        this.#report(error)
        try { res.close() } catch {}
      }
    })
    this.#app.listen(options.host, options.port, (socket) => { if (socket !== false) this.#listenSocket = socket })
    // uWS listens synchronously; false when the address is taken or cannot be bound.
    if (this.#listenSocket === undefined) throw new PushListenError(`push server could not listen on ${options.host} port ${options.port}`)
    this.port = uWS.us_socket_local_port(this.#listenSocket)
  }

  /** Validates the options, then listens; rejects when the address cannot be bound. */
  static async start (options: PushServerOptions): Promise<PushServer> {
    return new PushServer(validate(options))
  }

  /** Best effort, to every subscriber of the topic (uWS pub/sub): clients over maxBackpressure miss it. */
  publish (topic: string, message: PushMessage): void {
    if (this.#closing) return
    this.#app.publish(topic, JSON.stringify(message), false)
    this.#options.signals?.published(message.type, this.#app.numSubscribers(topic))
  }

  /**
   * Must arrive: to every open connection subscribed (or subscribing) with this ticket, after its
   * welcome; held and retried on drain while a connection's buffer is full, never dropped while it
   * stays open. Returns how many connections it was sent or queued to.
   */
  deliver (ticket: string, message: PushMessage): number {
    const connections = this.#byTicket.get(ticket)
    if (connections === undefined) return 0
    const item = { type: message.type, text: JSON.stringify(message) }
    let count = 0
    for (const c of connections) {
      this.#guard(c, () => {
        if (c.state === 'subscribing' || c.pending.length > 0) {
          if (this.#hold(c, item)) count++
        } else if (c.ws.send(item.text, false) === SEND_DROPPED) {
          if (this.#hold(c, item)) count++
        } else {
          this.#options.signals?.sent(item.type)
          count++
        }
      })
    }
    return count
  }

  /**
   * publish() for a message already serialized (the shared feed keeps JSON text); `type` names
   * it for the signals.
   */
  publishRaw (topic: string, type: string, text: string): void {
    if (this.#closing) return
    this.#app.publish(topic, text, false)
    this.#options.signals?.published(type, this.#app.numSubscribers(topic))
  }

  /** Whether a connection of this instance is subscribed (or subscribing) with the ticket. */
  has (ticket: string): boolean {
    return this.#byTicket.has(ticket)
  }

  /** Open connections, subscribed or not. */
  connections (): number {
    return this.#connections.size
  }

  /**
   * Stops listening and closes every connection: a GW_ERR_SERVER_SHUTTING_DOWN error and 1001,
   * or at once for a client that is not reading. Resolves when all are closed.
   */
  async close (): Promise<void> {
    if (this.#closing) return
    this.#closing = true
    if (this.#listenSocket !== undefined) uWS.us_listen_socket_close(this.#listenSocket)
    for (const c of [...this.#connections]) {
      this.#guard(c, () => {
        // A graceful end waits for the buffer to drain first, up to the ping timeout.
        if (c.ws.getBufferedAmount() > 0) c.ws.close()
        else this.#refuse(c, 'GW_ERR_SERVER_SHUTTING_DOWN', CLOSE_GOING_AWAY)
      })
    }
  }

  #upgrade (res: HttpResponse, req: HttpRequest, context: SocketContext): void {
    // HttpRequest lives only during this call: everything is read before answering.
    const language = negotiateLanguage(req.getHeader('accept-language'))
    const key = req.getHeader('sec-websocket-key')
    const protocol = req.getHeader('sec-websocket-protocol')
    const extensions = req.getHeader('sec-websocket-extensions')
    if (this.#closing) return this.#answer(res, 'GW_ERR_SERVER_SHUTTING_DOWN', language, this.#retryAfter())
    // upgrade() runs open() before it returns, so the count is exact.
    if (this.#connections.size >= this.#options.maxConnections) return this.#answer(res, 'GW_ERR_SERVER_OVERLOADED', language, this.#retryAfter())
    res.upgrade<UserData>({ language }, key, protocol, extensions, context)
  }

  #answer (res: HttpResponse, code: ErrorCode, language: Language, retryAfterSeconds?: number): void {
    const error = new GatewayError(code, retryAfterSeconds === undefined ? {} : { retryAfterSeconds })
    res.writeStatus(`${error.statusCode} ${STATUS_CODES[error.statusCode] ?? ''}`)
    // Its own port, but answers a browser may render all the same: the API's security headers.
    for (const [name, value] of Object.entries(this.#options.securityHeaders)) res.writeHeader(name, value)
    res.writeHeader('content-type', 'application/json; charset=utf-8')
    res.writeHeader('content-language', language)
    res.writeHeader('vary', 'Accept-Language')
    if (retryAfterSeconds !== undefined) res.writeHeader('retry-after', String(retryAfterSeconds))
    res.end(JSON.stringify(error.toBody(language)), true)
  }

  #retryAfter (): number {
    const base = this.#options.retryAfterSeconds
    return base + randomInt(base + 1)
  }

  #open (ws: WebSocket<UserData>): void {
    const data = ws.getUserData()
    const c: Connection = { ws, language: data.language, open: true, state: 'waiting', ticket: undefined, timer: undefined, pending: [] }
    data.connection = c
    this.#connections.add(c)
    c.timer = setTimeout(() => {
      this.#guard(c, () => { if (c.state === 'waiting') this.#refuse(c, 'GW_ERR_REQUEST_TIMEOUT') })
    }, this.#options.subscribeTimeoutMs)
    c.timer.unref()
    this.#options.signals?.opened()
  }

  #message (c: Connection, message: ArrayBuffer, isBinary: boolean): void {
    if (c.state !== 'waiting') return this.#refuse(c, 'GW_ERR_REQUEST_MALFORMED')
    clearTimeout(c.timer)
    if (isBinary || message.byteLength > MAX_MESSAGE_BYTES) return this.#refuse(c, 'GW_ERR_REQUEST_MALFORMED')
    let parsed: unknown
    try {
      // The ArrayBuffer is valid only during this call: decoded before anything else.
      parsed = JSON.parse(Buffer.from(message).toString('utf8'))
    } catch {
      return this.#refuse(c, 'GW_ERR_REQUEST_MALFORMED_JSON')
    }
    const ticket = subscribeTicket(parsed)
    if (ticket === undefined) return this.#refuse(c, 'GW_ERR_REQUEST_MALFORMED')
    // In the ticket's set before onSubscribe reads anything: a deliver() decided meanwhile is held
    // and follows the welcome, so it cannot fall between onSubscribe's read and the subscription
    // (it may then arrive twice: in the welcome and after it).
    c.state = 'subscribing'
    c.ticket = ticket
    let set = this.#byTicket.get(ticket)
    if (set === undefined) this.#byTicket.set(ticket, set = new Set())
    set.add(c)
    this.#subscribe(c, ticket).catch((error: unknown) => { this.#report(error) })
  }

  async #subscribe (c: Connection, ticket: string): Promise<void> {
    let answer: PushSubscription | PushRefusal
    try {
      answer = await this.#options.onSubscribe(ticket, c.language)
    } catch (error) {
      if (!c.open) return
      if (error instanceof GatewayError) {
        return this.#guard(c, () => { this.#refuse(c, error.code, error.statusCode >= 500 ? CLOSE_INTERNAL : CLOSE_POLICY) })
      }
      this.#report(error)
      return this.#guard(c, () => { this.#refuse(c, 'GW_ERR_SERVER_INTERNAL', CLOSE_INTERNAL) })
    }
    // The client may have left while onSubscribe ran; its socket is gone then.
    if (!c.open) return
    this.#guard(c, () => {
      if (!answer.ok) return this.#end(c, answer.code, answer.message, CLOSE_POLICY)
      c.ws.cork(() => {
        for (const topic of answer.topics) c.ws.subscribe(topic)
        c.state = 'subscribed'
        c.pending.unshift({ type: answer.welcome.type, text: JSON.stringify(answer.welcome) })
        this.#flush(c)
      })
    })
  }

  /** Sends what is waiting, in order, until uWS refuses one (over maxBackpressure): drain resumes. */
  #flush (c: Connection): void {
    c.ws.cork(() => {
      while (c.pending.length > 0) {
        const next = c.pending[0] as Pending
        if (c.ws.send(next.text, false) === SEND_DROPPED) return
        c.pending.shift()
        this.#options.signals?.sent(next.type)
      }
    })
  }

  /** Queues a must-arrive message; false (and the connection cut) when too many wait already. */
  #hold (c: Connection, item: Pending): boolean {
    if (c.pending.length >= MAX_PENDING) {
      // Forced: a close frame would only queue behind what the client is not reading.
      c.ws.close()
      return false
    }
    c.pending.push(item)
    return true
  }

  /** Sends our error, in the connection's language, and closes; the connection is closed on return. */
  #refuse (c: Connection, code: ErrorCode, closeCode = CLOSE_POLICY): void {
    this.#end(c, code, ERRORS[code].messages[c.language], closeCode)
  }

  /** Sends {"type":"error"} and closes with closeCode, the code as reason; the connection is closed on return. */
  #end (c: Connection, code: string, message: string, closeCode: number): void {
    c.ws.cork(() => {
      if (c.ws.send(JSON.stringify({ type: 'error', code, message }), false) !== SEND_DROPPED) this.#options.signals?.sent('error')
      c.ws.end(closeCode, code)
    })
  }

  #closed (c: Connection | undefined): void {
    if (c === undefined) return
    c.open = false
    clearTimeout(c.timer)
    this.#connections.delete(c)
    if (c.ticket !== undefined) {
      const set = this.#byTicket.get(c.ticket)
      set?.delete(c)
      if (set?.size === 0) this.#byTicket.delete(c.ticket)
    }
    for (const item of c.pending) this.#options.signals?.dropped(item.type)
    c.pending = []
    this.#options.signals?.closed()
  }

  /** Runs fn on an open connection so that nothing escapes (into uWS, or to deliver()'s caller); on a throw the connection is closed and the error reported. */
  #guard (c: Connection | undefined, fn: (c: Connection) => void): void {
    if (c === undefined || !c.open) return
    try {
      fn(c)
    } catch (error) {
      this.#report(error)
      if (c.open) {
        try { c.ws.close() } catch (closeError) { this.#report(closeError) }
      }
    }
  }

  #safely (fn: () => void): void {
    try { fn() } catch (error) { this.#report(error) }
  }

  #report (error: unknown): void {
    try { this.#options.onError?.(error) } catch {}
  }
}

function subscribeTicket (parsed: unknown): string | undefined {
  if (typeof parsed !== 'object' || parsed === null) return undefined
  const { type, ticket } = parsed as { type?: unknown, ticket?: unknown }
  if (type !== 'subscribe' || typeof ticket !== 'string' || !TICKET_PATTERN.test(ticket)) return undefined
  return ticket
}

const MAX_INT32 = 2 ** 31 - 1

function validate (options: PushServerOptions): ValidOptions {
  const { host, port, path, idleTimeoutSeconds, maxBackpressureBytes, subscribeTimeoutMs, maxConnections, hstsMaxAgeSeconds, retryAfterSeconds = 5, onSubscribe } = options
  if (typeof host !== 'string' || host === '') throw new RangeError('host must be a non-empty string')
  if (!(Number.isInteger(port) && port >= 0 && port <= 65535)) throw new RangeError('port must be an integer from 0 to 65535')
  if (typeof path !== 'string' || !/^\/[A-Za-z0-9._~/-]*$/.test(path)) throw new RangeError('path must start with / and hold only letters, digits and . _ ~ / -')
  // uWS terminates the process (a C++ exception, not a JS error) on any other idleTimeout.
  if (!(idleTimeoutSeconds === 0 || (Number.isInteger(idleTimeoutSeconds) && idleTimeoutSeconds >= 8 && idleTimeoutSeconds <= 960))) {
    throw new RangeError('idleTimeoutSeconds must be 0 (no heartbeats) or an integer from 8 to 960')
  }
  // 0 would mean no limit to uWS: nothing would ever be dropped for a slow client.
  if (!(Number.isInteger(maxBackpressureBytes) && maxBackpressureBytes >= 1 && maxBackpressureBytes <= MAX_INT32)) {
    throw new RangeError(`maxBackpressureBytes must be an integer from 1 to ${MAX_INT32}`)
  }
  if (!(Number.isInteger(subscribeTimeoutMs) && subscribeTimeoutMs >= 1 && subscribeTimeoutMs <= MAX_INT32)) {
    throw new RangeError(`subscribeTimeoutMs must be an integer from 1 to ${MAX_INT32}`)
  }
  if (!(Number.isInteger(maxConnections) && maxConnections >= 1)) throw new RangeError('maxConnections must be a positive integer')
  if (!(Number.isInteger(retryAfterSeconds) && retryAfterSeconds >= 1)) throw new RangeError('retryAfterSeconds must be a positive integer')
  if (!(Number.isInteger(hstsMaxAgeSeconds) && hstsMaxAgeSeconds >= 0)) throw new RangeError('hstsMaxAgeSeconds must be a non-negative integer')
  if (typeof onSubscribe !== 'function') throw new TypeError('onSubscribe must be a function')
  return { ...options, retryAfterSeconds, securityHeaders: apiSecurityHeaders(hstsMaxAgeSeconds) }
}
