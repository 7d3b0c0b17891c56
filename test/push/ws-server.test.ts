// The waiting room's WebSocket push server, over real loopback sockets (ws clients in this
// process): the subscribe protocol and its errors, must-arrive deliveries across back-pressure and
// reconnects, best-effort publishes that a stalled client does not hold up, heartbeats, limits,
// shutdown, and 5,000 clients at once.
import { readFileSync } from 'node:fs'
import type { Socket } from 'node:net'
import { setTimeout as sleep } from 'node:timers/promises'
import { afterEach, describe, expect, it } from 'vitest'
import WebSocket from 'ws'
import { ERRORS, GatewayError, type Language } from '../../gateway/errors.js'
import { API_CSP, apiSecurityHeaders } from '../../gateway/plugins/security-headers.js'
import { MAX_MESSAGE_BYTES, MAX_PENDING, PushServer, type PushMessage, type PushRefusal, type PushServerOptions, type PushSubscription } from '../../gateway/push/ws-server.js'

const PATH = '/v1/waiting-room/ws'

interface Closed {
  code: number
  reason: string
}

/** A ws client that keeps every message it got, parsed, and can wait for the next of a type. */
class Client {
  readonly messages: PushMessage[] = []
  readonly closed: Promise<Closed>
  #waiters: Array<() => void> = []

  private constructor (readonly ws: WebSocket) {
    ws.on('message', (data) => {
      this.messages.push(JSON.parse(data.toString()) as PushMessage)
      for (const wake of this.#waiters.splice(0)) wake()
    })
    ws.on('error', () => {})
    this.closed = new Promise((resolve) => ws.on('close', (code, reason) => { resolve({ code, reason: reason.toString() }) }))
  }

  static async open (port: number, options: { language?: string, autoPong?: boolean, path?: string, host?: string } = {}): Promise<Client> {
    const headers = options.language === undefined ? {} : { 'accept-language': options.language }
    const ws = new WebSocket(`ws://${options.host ?? '127.0.0.1'}:${port}${options.path ?? PATH}`, { headers, autoPong: options.autoPong ?? true })
    const client = new Client(ws)
    await new Promise<void>((resolve, reject) => {
      ws.once('open', resolve)
      ws.once('unexpected-response', (_req, res) => { reject(new Error(`HTTP ${res.statusCode ?? 0}`)) })
      ws.once('error', reject)
    })
    return client
  }

  static async subscribed (port: number, ticket: string, options: { language?: string } = {}): Promise<Client> {
    const client = await Client.open(port, options)
    client.send({ type: 'subscribe', ticket })
    await client.next('welcome')
    return client
  }

  send (message: unknown): void {
    this.ws.send(typeof message === 'string' ? message : JSON.stringify(message))
  }

  of (type: string): PushMessage[] {
    return this.messages.filter((m) => m.type === type)
  }

  /** The n-th message of this type (1 = first), as soon as it has arrived. */
  async next (type: string, n = 1): Promise<PushMessage> {
    for (;;) {
      const found = this.of(type)[n - 1]
      if (found !== undefined) return found
      await new Promise<void>((resolve) => this.#waiters.push(resolve))
    }
  }

  /** The socket under ws, to stop reading from it (a stalled client). */
  get socket (): Socket {
    return (this.ws as unknown as { _socket: Socket })._socket
  }

  close (): void {
    this.ws.terminate()
  }
}

const servers: PushServer[] = []
const clients: Client[] = []
let errors: unknown[] = []

afterEach(async () => {
  for (const client of clients.splice(0)) client.close()
  for (const server of servers.splice(0)) await server.close()
  expect(errors).toEqual([])
  errors = []
})

function counter (): { counts: Map<string, number>, signals: NonNullable<PushServerOptions['signals']> } {
  const counts = new Map<string, number>()
  const add = (key: string, by = 1) => { counts.set(key, (counts.get(key) ?? 0) + by) }
  return {
    counts,
    signals: {
      opened: () => { add('opened') },
      closed: () => { add('closed') },
      sent: (type) => { add(`sent:${type}`) },
      published: (type, subscribers) => { add(`published:${type}`, subscribers) },
      dropped: (type) => { add(`dropped:${type}`) }
    }
  }
}

/** Accepts every ticket: topics "positions" and one of its own, a welcome naming it. */
async function welcome (ticket: string, language: Language): Promise<PushSubscription> {
  return { ok: true, welcome: { type: 'welcome', ticket, language }, topics: ['positions', `ticket.${ticket}`] }
}

const HSTS_MAX_AGE = 31_536_000

/** The answer's headers among those the API's security headers name (any of them, present or not). */
function securityHeadersOf (headers: Headers): Record<string, string> {
  const names = Object.keys(apiSecurityHeaders(HSTS_MAX_AGE))
  return Object.fromEntries(names.flatMap((name) => { const value = headers.get(name); return value === null ? [] : [[name, value]] }))
}

async function start (options: Partial<PushServerOptions> = {}): Promise<PushServer> {
  const server = await PushServer.start({
    host: '127.0.0.1',
    port: 0,
    path: PATH,
    idleTimeoutSeconds: 32,
    maxBackpressureBytes: 64 * 1024,
    subscribeTimeoutMs: 5_000,
    maxConnections: 1_000,
    hstsMaxAgeSeconds: HSTS_MAX_AGE,
    onSubscribe: welcome,
    onError: (error) => { errors.push(error) },
    ...options
  })
  servers.push(server)
  return server
}

async function open (port: number, options: Parameters<typeof Client.open>[1] = {}): Promise<Client> {
  const client = await Client.open(port, options)
  clients.push(client)
  return client
}

async function subscribed (port: number, ticket: string, options: { language?: string } = {}): Promise<Client> {
  const client = await Client.subscribed(port, ticket, options)
  clients.push(client)
  return client
}

const until = async (what: () => boolean, ms = 5_000): Promise<void> => {
  const deadline = Date.now() + ms
  while (!what()) {
    if (Date.now() > deadline) throw new Error(`not within ${ms} ms`)
    await sleep(10)
  }
}

// What the kernel can hold of a connection on loopback before uWS itself has to buffer: the
// reader's receive buffer (autotuned up to tcp_rmem's maximum, 32 MB on some machines, even while
// the reader is paused) and the writer's send buffer (tcp_wmem's). Read from /proc where it
// exists; 6 MB and 4 MB otherwise.
function kernelBufferBytes (): number {
  const max = (file: string, fallback: number): number => {
    try {
      const value = Number(readFileSync(file, 'utf8').trim().split(/\s+/).at(-1))
      return Number.isFinite(value) && value > 0 ? value : fallback
    } catch {
      return fallback
    }
  }
  return max('/proc/sys/net/ipv4/tcp_rmem', 6 * 1024 ** 2) + max('/proc/sys/net/ipv4/tcp_wmem', 4 * 1024 ** 2)
}

/**
 * Stops `client` reading, then publishes filler to its own topic until uWS holds more than
 * maxBackpressure for it: a quarter past what the kernel buffers can absorb on this machine.
 */
async function stall (server: PushServer, client: Client, ticket: string): Promise<number> {
  client.socket.pause()
  const filler = { type: 'filler', pad: 'x'.repeat(8 * 1024) }
  const count = Math.max(3_000, Math.ceil(kernelBufferBytes() * 1.25 / (8 * 1024)))
  for (let i = 0; i < count; i++) {
    server.publish(`ticket.${ticket}`, filler)
    if (i % 10 === 0) await new Promise((resolve) => setImmediate(resolve))
  }
  return count
}

describe('push server: subscribe and messages', () => {
  it('welcomes a subscriber, delivers to its ticket and publishes to its topics', async () => {
    const { counts, signals } = counter()
    const languages: Language[] = []
    const server = await start({ signals, onSubscribe: async (ticket, language) => { languages.push(language); return welcome(ticket, language) } })
    const a = await subscribed(server.port, 'ticket-aaaa', { language: 'es-MX,es;q=0.9' })
    const b = await subscribed(server.port, 'ticket-bbbb')
    expect(a.messages).toEqual([{ type: 'welcome', ticket: 'ticket-aaaa', language: 'es' }])
    expect(languages).toEqual(['es', 'en'])
    expect(server.connections()).toBe(2)

    expect(server.deliver('ticket-aaaa', { type: 'admission', token: 'tok' })).toBe(1)
    expect(server.deliver('ticket-nobody', { type: 'admission', token: 'tok' })).toBe(0)
    server.publish('positions', { type: 'position', ahead: 3 })
    server.publish('ticket.ticket-bbbb', { type: 'position', ahead: 7 })
    await a.next('position')
    await b.next('position', 2)
    expect(a.messages).toEqual([
      { type: 'welcome', ticket: 'ticket-aaaa', language: 'es' },
      { type: 'admission', token: 'tok' },
      { type: 'position', ahead: 3 }
    ])
    expect(b.of('position')).toEqual([{ type: 'position', ahead: 3 }, { type: 'position', ahead: 7 }])
    expect(b.of('admission')).toEqual([])
    expect(Object.fromEntries(counts)).toEqual({ opened: 2, 'sent:welcome': 2, 'sent:admission': 1, 'published:position': 3 })

    a.close()
    await until(() => server.connections() === 1)
    expect(counts.get('closed')).toBe(1)
    expect(server.deliver('ticket-aaaa', { type: 'admission', token: 'tok' })).toBe(0)
  })

  it('listens on IPv6 loopback too', async () => {
    const server = await start({ host: '::1' })
    const client = await open(server.port, { host: '[::1]' })
    client.send({ type: 'subscribe', ticket: 'ticket-ipv6' })
    expect(await client.next('welcome')).toEqual({ type: 'welcome', ticket: 'ticket-ipv6', language: 'en' })
  })

  it('delivers to every open connection of a ticket, and a reconnect resumes', async () => {
    const server = await start()
    const first = await subscribed(server.port, 'ticket-same')
    const second = await subscribed(server.port, 'ticket-same')
    expect(server.deliver('ticket-same', { type: 'result', n: 1 })).toBe(2)
    expect(await first.next('result')).toEqual({ type: 'result', n: 1 })
    expect(await second.next('result')).toEqual({ type: 'result', n: 1 })

    first.close()
    await until(() => server.connections() === 1)
    expect(server.deliver('ticket-same', { type: 'result', n: 2 })).toBe(1)
    expect(await second.next('result', 2)).toEqual({ type: 'result', n: 2 })

    const again = await subscribed(server.port, 'ticket-same')
    expect(server.deliver('ticket-same', { type: 'result', n: 3 })).toBe(2)
    expect(await again.next('result')).toEqual({ type: 'result', n: 3 })
    expect(await second.next('result', 3)).toEqual({ type: 'result', n: 3 })
    expect(first.of('result')).toEqual([{ type: 'result', n: 1 }])
  })

  it('holds a deliver() made while onSubscribe runs, and sends it after the welcome', async () => {
    let answer!: () => void
    const server = await start({
      onSubscribe: async (ticket, language) => {
        await new Promise<void>((resolve) => { answer = resolve })
        return welcome(ticket, language)
      }
    })
    const client = await open(server.port)
    client.send({ type: 'subscribe', ticket: 'ticket-early' })
    await until(() => answer !== undefined)
    expect(server.deliver('ticket-early', { type: 'admission', token: 'early' })).toBe(1)
    answer()
    await client.next('admission')
    expect(client.messages.map((m) => m.type)).toEqual(['welcome', 'admission'])
  })

  it('passes a refusal on as an error and closes with 1008', async () => {
    const refusal: PushRefusal = { ok: false, code: 'GW_ERR_WAITROOM_TICKET_UNKNOWN', message: 'Ticket desconocido. Vuelva a la sala de espera.' }
    const server = await start({ onSubscribe: async () => refusal })
    const client = await open(server.port)
    client.send({ type: 'subscribe', ticket: 'ticket-refused' })
    expect(await client.closed).toEqual({ code: 1008, reason: 'GW_ERR_WAITROOM_TICKET_UNKNOWN' })
    expect(client.messages).toEqual([{ type: 'error', code: refusal.code, message: refusal.message }])
    expect(server.connections()).toBe(0)
  })

  it('answers an onSubscribe that throws: its GatewayError localized, anything else as internal and reported', async () => {
    let failure: unknown = new GatewayError('GW_ERR_STORE_UNAVAILABLE')
    const server = await start({ onSubscribe: async () => { throw failure } })
    const unavailable = await open(server.port, { language: 'ht' })
    unavailable.send({ type: 'subscribe', ticket: 'ticket-store' })
    expect(await unavailable.closed).toEqual({ code: 1011, reason: 'GW_ERR_STORE_UNAVAILABLE' })
    expect(unavailable.messages).toEqual([{ type: 'error', code: 'GW_ERR_STORE_UNAVAILABLE', message: ERRORS.GW_ERR_STORE_UNAVAILABLE.messages.ht }])
    expect(errors).toEqual([])

    failure = new Error('bug in onSubscribe')
    const broken = await open(server.port)
    broken.send({ type: 'subscribe', ticket: 'ticket-bug1' })
    expect(await broken.closed).toEqual({ code: 1011, reason: 'GW_ERR_SERVER_INTERNAL' })
    expect(broken.messages).toEqual([{ type: 'error', code: 'GW_ERR_SERVER_INTERNAL', message: ERRORS.GW_ERR_SERVER_INTERNAL.messages.en }])
    expect(errors).toEqual([failure])
    errors = []
  })

  it('never touches a connection that closed while onSubscribe ran', async () => {
    const { counts, signals } = counter()
    let answer!: () => void
    const server = await start({
      signals,
      onSubscribe: async (ticket, language) => {
        await new Promise<void>((resolve) => { answer = resolve })
        return welcome(ticket, language)
      }
    })
    const client = await open(server.port)
    client.send({ type: 'subscribe', ticket: 'ticket-gone' })
    await until(() => answer !== undefined)
    expect(server.deliver('ticket-gone', { type: 'admission', token: 'held' })).toBe(1)
    client.close()
    await until(() => server.connections() === 0)
    answer()
    await sleep(50)
    expect(server.deliver('ticket-gone', { type: 'admission', token: 'late' })).toBe(0)
    // The held admission went with the connection, and is counted so.
    expect(counts.get('dropped:admission')).toBe(1)
    expect(counts.get('sent:welcome')).toBeUndefined()
  })
})

describe('push server: bad input gets an error and 1008, never a crash', () => {
  const cases: Array<[string, (client: Client) => void, string]> = [
    ['text that is not JSON', (c) => { c.send('{"type":"subscribe",') }, 'GW_ERR_REQUEST_MALFORMED_JSON'],
    ['a message of another type', (c) => { c.send({ type: 'position' }) }, 'GW_ERR_REQUEST_MALFORMED'],
    ['JSON that is not an object', (c) => { c.send('null') }, 'GW_ERR_REQUEST_MALFORMED'],
    ['a ticket that is too short', (c) => { c.send({ type: 'subscribe', ticket: 'short' }) }, 'GW_ERR_REQUEST_MALFORMED'],
    ['a ticket with other characters', (c) => { c.send({ type: 'subscribe', ticket: 'ticket/../../x' }) }, 'GW_ERR_REQUEST_MALFORMED'],
    ['a ticket that is not a string', (c) => { c.send({ type: 'subscribe', ticket: 12345678 }) }, 'GW_ERR_REQUEST_MALFORMED'],
    ['a ticket that is too long', (c) => { c.send({ type: 'subscribe', ticket: 'a'.repeat(129) }) }, 'GW_ERR_REQUEST_MALFORMED'],
    ['a binary frame', (c) => { c.ws.send(Buffer.from(JSON.stringify({ type: 'subscribe', ticket: 'ticket-binary' }))) }, 'GW_ERR_REQUEST_MALFORMED'],
    [`a frame over ${MAX_MESSAGE_BYTES} bytes`, (c) => { c.send({ type: 'subscribe', ticket: 'ticket-long', pad: 'x'.repeat(MAX_MESSAGE_BYTES) }) }, 'GW_ERR_REQUEST_MALFORMED']
  ]

  for (const [what, send, code] of cases) {
    it(`refuses ${what} with ${code}`, async () => {
      let subscribes = 0
      const server = await start({ onSubscribe: async (ticket, language) => { subscribes++; return welcome(ticket, language) } })
      const client = await open(server.port, { language: 'ru' })
      send(client)
      expect(await client.closed).toEqual({ code: 1008, reason: code })
      expect(client.messages).toEqual([{ type: 'error', code, message: ERRORS[code as keyof typeof ERRORS].messages.ru }])
      expect(subscribes).toBe(0)
      expect(server.connections()).toBe(0)
      // Still serving.
      await subscribed(server.port, 'ticket-after')
    })
  }

  it('refuses a second message on a subscribed connection', async () => {
    const server = await start()
    const client = await subscribed(server.port, 'ticket-twice')
    client.send({ type: 'subscribe', ticket: 'ticket-twice' })
    expect(await client.closed).toEqual({ code: 1008, reason: 'GW_ERR_REQUEST_MALFORMED' })
    expect(client.messages.map((m) => m.type)).toEqual(['welcome', 'error'])
    expect(server.deliver('ticket-twice', { type: 'admission' })).toBe(0)
  })

  it('cuts a frame over uWS\'s own limit at once (no close frame), and keeps serving', async () => {
    const server = await start()
    const client = await open(server.port)
    client.send({ type: 'subscribe', ticket: 'ticket-huge', pad: 'x'.repeat(100_000) })
    expect((await client.closed).code).toBe(1006)
    expect(client.messages).toEqual([])
    await until(() => server.connections() === 0)
    await subscribed(server.port, 'ticket-after')
  })

  it('closes a connection that sends no subscribe within subscribeTimeoutMs, and only that one', async () => {
    const server = await start({ subscribeTimeoutMs: 300 })
    const silent = await open(server.port, { language: 'es' })
    const prompt = await subscribed(server.port, 'ticket-prompt')
    expect(await silent.closed).toEqual({ code: 1008, reason: 'GW_ERR_REQUEST_TIMEOUT' })
    expect(silent.messages).toEqual([{ type: 'error', code: 'GW_ERR_REQUEST_TIMEOUT', message: ERRORS.GW_ERR_REQUEST_TIMEOUT.messages.es }])
    await sleep(400)
    expect(prompt.ws.readyState).toBe(WebSocket.OPEN)
    expect(server.connections()).toBe(1)
  })

  it('answers 404 on any other path, with the API\'s security headers and its language', async () => {
    const server = await start()
    await expect(open(server.port, { path: '/elsewhere' })).rejects.toThrow('HTTP 404')
    const response = await fetch(`http://127.0.0.1:${server.port}/elsewhere`, { headers: { 'accept-language': 'ht' } })
    expect(response.status).toBe(404)
    expect(await response.json()).toEqual({ code: 'GW_ERR_ROUTE_NOT_FOUND', message: ERRORS.GW_ERR_ROUTE_NOT_FOUND.messages.ht })
    expect(securityHeadersOf(response.headers)).toEqual(apiSecurityHeaders(HSTS_MAX_AGE))
    expect(response.headers.get('x-content-type-options')).toBe('nosniff')
    expect(response.headers.get('x-frame-options')).toBe('DENY')
    expect(response.headers.get('content-security-policy')).toBe(API_CSP)
    expect(response.headers.get('content-type')).toBe('application/json; charset=utf-8')
    expect(response.headers.get('content-language')).toBe('ht')
    expect(response.headers.get('vary')).toBe('Accept-Language')
  })

  it('leaves Strict-Transport-Security out when hstsMaxAgeSeconds is 0, as the API does', async () => {
    const server = await start({ hstsMaxAgeSeconds: 0 })
    const response = await fetch(`http://127.0.0.1:${server.port}/elsewhere`)
    expect(response.status).toBe(404)
    expect(response.headers.get('strict-transport-security')).toBeNull()
    expect(securityHeadersOf(response.headers)).toEqual(apiSecurityHeaders(0))
    await response.body?.cancel()
  })
})

describe('push server: liveness and limits', () => {
  it('pings: a client that answers stays, one that does not is closed after idleTimeout', async () => {
    const server = await start({ idleTimeoutSeconds: 8 })
    const answering = await subscribed(server.port, 'ticket-pongs')
    const silent = await open(server.port, { autoPong: false })
    silent.send({ type: 'subscribe', ticket: 'ticket-silent' })
    await silent.next('welcome')
    // uWS pings at about half the idle timeout and closes at the timeout (4 s granularity).
    expect((await silent.closed).code).toBe(1006)
    expect(answering.ws.readyState).toBe(WebSocket.OPEN)
    expect(server.connections()).toBe(1)
    expect(server.deliver('ticket-pongs', { type: 'admission' })).toBe(1)
    await answering.next('admission')
  }, 20_000)

  it('refuses upgrades beyond maxConnections with 503 and a jittered Retry-After', async () => {
    const server = await start({ maxConnections: 2, retryAfterSeconds: 3 })
    const first = await subscribed(server.port, 'ticket-one1')
    await open(server.port)
    const refused = await new Promise<{ status: number, retryAfter: string | undefined, headers: Record<string, unknown>, body: unknown }>((resolve, reject) => {
      const ws = new WebSocket(`ws://127.0.0.1:${server.port}${PATH}`, { headers: { 'accept-language': 'ru' } })
      ws.on('error', reject)
      ws.on('unexpected-response', (req, res) => {
        let body = ''
        res.on('data', (chunk: Buffer) => { body += chunk.toString() })
        res.on('end', () => {
          resolve({ status: res.statusCode ?? 0, retryAfter: res.headers['retry-after'], headers: res.headers, body: JSON.parse(body) })
          req.destroy()
        })
      })
    })
    expect(refused.status).toBe(503)
    expect(Object.fromEntries(Object.keys(apiSecurityHeaders(HSTS_MAX_AGE)).map((name) => [name, refused.headers[name]]))).toEqual(apiSecurityHeaders(HSTS_MAX_AGE))
    expect(refused.headers['content-language']).toBe('ru')
    const seconds = Number(refused.retryAfter)
    expect(seconds).toBeGreaterThanOrEqual(3)
    expect(seconds).toBeLessThanOrEqual(6)
    expect(refused.body).toEqual({ code: 'GW_ERR_SERVER_OVERLOADED', message: ERRORS.GW_ERR_SERVER_OVERLOADED.messages.ru, retryAfterSeconds: seconds })
    expect(server.connections()).toBe(2)

    first.close()
    await until(() => server.connections() === 1)
    await subscribed(server.port, 'ticket-three')
  })

  it('close() tells connected clients and closes them, stops listening, and can be called again', async () => {
    const { counts, signals } = counter()
    const server = await start({ signals })
    const subscriber = await subscribed(server.port, 'ticket-close', { language: 'es' })
    const waiting = await open(server.port)
    await server.close()
    expect(server.connections()).toBe(0)
    expect(await subscriber.closed).toEqual({ code: 1001, reason: 'GW_ERR_SERVER_SHUTTING_DOWN' })
    expect(subscriber.messages.at(-1)).toEqual({ type: 'error', code: 'GW_ERR_SERVER_SHUTTING_DOWN', message: ERRORS.GW_ERR_SERVER_SHUTTING_DOWN.messages.es })
    expect((await waiting.closed).code).toBe(1001)
    expect(counts.get('closed')).toBe(2)
    await expect(open(server.port)).rejects.toThrow(/ECONNREFUSED/)
    expect(server.deliver('ticket-close', { type: 'admission' })).toBe(0)
    server.publish('positions', { type: 'position' })
    await server.close()
  })

  it('rejects start() on an address already in use', async () => {
    const server = await start()
    await expect(start({ port: server.port })).rejects.toThrow(`push server could not listen on 127.0.0.1 port ${server.port}`)
  })

  describe('validates its options', () => {
    const cases: Array<[Partial<PushServerOptions>, string]> = [
      [{ host: '' }, 'host must be a non-empty string'],
      [{ port: 65536 }, 'port must be an integer from 0 to 65535'],
      [{ port: 1.5 }, 'port must be an integer from 0 to 65535'],
      [{ path: 'ws' }, 'path must start with / and hold only letters, digits and . _ ~ / -'],
      [{ path: '/ws/*' }, 'path must start with / and hold only letters, digits and . _ ~ / -'],
      [{ path: '/ws/:id' }, 'path must start with / and hold only letters, digits and . _ ~ / -'],
      [{ idleTimeoutSeconds: 7 }, 'idleTimeoutSeconds must be 0 (no heartbeats) or an integer from 8 to 960'],
      [{ idleTimeoutSeconds: 961 }, 'idleTimeoutSeconds must be 0 (no heartbeats) or an integer from 8 to 960'],
      [{ maxBackpressureBytes: 0 }, 'maxBackpressureBytes must be an integer from 1 to 2147483647'],
      [{ subscribeTimeoutMs: 0 }, 'subscribeTimeoutMs must be an integer from 1 to 2147483647'],
      [{ subscribeTimeoutMs: 2 ** 31 }, 'subscribeTimeoutMs must be an integer from 1 to 2147483647'],
      [{ maxConnections: 0 }, 'maxConnections must be a positive integer'],
      [{ retryAfterSeconds: 0 }, 'retryAfterSeconds must be a positive integer'],
      [{ hstsMaxAgeSeconds: -1 }, 'hstsMaxAgeSeconds must be a non-negative integer'],
      [{ onSubscribe: undefined as unknown as PushServerOptions['onSubscribe'] }, 'onSubscribe must be a function']
    ]
    for (const [options, message] of cases) {
      it(`${JSON.stringify(options)}: ${message}`, async () => {
        await expect(start(options)).rejects.toThrow(message)
      })
    }
  })
})

describe('push server: back-pressure', () => {
  it('a stalled client does not hold up the others; its deliver()ed message waits and arrives once it reads', async () => {
    const { counts, signals } = counter()
    const server = await start({ signals, maxBackpressureBytes: 16 * 1024, idleTimeoutSeconds: 0 })
    const others = await Promise.all(Array.from({ length: 200 }, async (_, i) => subscribed(server.port, `ticket-other-${i}`)))
    const stalled = await subscribed(server.port, 'ticket-stalled')
    const filler = await stall(server, stalled, 'ticket-stalled')

    const started = performance.now()
    for (let n = 1; n <= 20; n++) {
      server.publish('positions', { type: 'position', n })
      await sleep(5)
    }
    await Promise.all(others.map(async (client) => client.next('position', 20)))
    console.log(`200 clients got 20 positions each in ${Math.round(performance.now() - started)} ms while one client was stalled`)
    for (const client of others) expect(client.of('position').map((m) => m.n)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1))

    // Over maxBackpressure, send refuses it: held, not sent yet.
    expect(server.deliver('ticket-stalled', { type: 'admission', token: 'stalled' })).toBe(1)
    expect(server.deliver('ticket-other-0', { type: 'admission', token: 'other' })).toBe(1)
    expect(counts.get('sent:admission')).toBe(1)
    await others[0]?.next('admission')

    stalled.socket.resume()
    expect(await stalled.next('admission')).toEqual({ type: 'admission', token: 'stalled' })
    expect(counts.get('sent:admission')).toBe(2)
    // Best effort: the positions published while it was stalled were dropped for it alone, and
    // part of the filler too; the admission came after everything it had taken before.
    expect(stalled.of('position')).toEqual([])
    expect(stalled.of('filler').length).toBeLessThan(filler)
    expect(stalled.messages.at(-1)).toEqual({ type: 'admission', token: 'stalled' })
    expect(counts.get('dropped:admission')).toBeUndefined()
  })

  it(`cuts a stalled client with more than ${MAX_PENDING} messages waiting, and counts what it lost`, async () => {
    const { counts, signals } = counter()
    const server = await start({ signals, maxBackpressureBytes: 16 * 1024, idleTimeoutSeconds: 0 })
    const stalled = await subscribed(server.port, 'ticket-hoarder')
    await stall(server, stalled, 'ticket-hoarder')
    for (let n = 1; n <= MAX_PENDING; n++) expect(server.deliver('ticket-hoarder', { type: 'result', n })).toBe(1)
    expect(server.deliver('ticket-hoarder', { type: 'result', n: MAX_PENDING + 1 })).toBe(0)
    expect(server.connections()).toBe(0)
    expect(counts.get('dropped:result')).toBe(MAX_PENDING)
    expect(counts.get('sent:result')).toBeUndefined()
  })
})

describe('push server: 5,000 clients', () => {
  it('connects, subscribes and delivers to 5,000 concurrent clients on loopback', async () => {
    const total = 5_000
    const server = await start({ maxConnections: total })
    const rssBefore = process.memoryUsage().rss
    const connecting = performance.now()
    const all: Client[] = []
    // In waves, so the listen backlog never overflows (a dropped SYN costs a 1 s retransmit).
    for (let i = 0; i < total; i += 500) {
      all.push(...await Promise.all(Array.from({ length: Math.min(500, total - i) }, async (_, j) => subscribed(server.port, `ticket-${String(i + j).padStart(6, '0')}`))))
    }
    const connected = performance.now()
    expect(server.connections()).toBe(total)

    const received: number[] = []
    for (const [i, client] of all.entries()) {
      client.ws.on('message', () => { received[i] ??= performance.now() })
    }
    const delivering = performance.now()
    for (let i = 0; i < total; i++) expect(server.deliver(`ticket-${String(i).padStart(6, '0')}`, { type: 'admission', token: `t${i}` })).toBe(1)
    await Promise.all(all.map(async (client, i) => expect(await client.next('admission')).toEqual({ type: 'admission', token: `t${i}` })))
    const lags = received.map((t) => t - delivering).sort((a, b) => a - b)
    const rss = process.memoryUsage().rss
    console.log([
      `${total} clients connected and subscribed in ${Math.round(connected - connecting)} ms;`,
      `admission after deliver(): p50 ${Math.round(lags[Math.floor(total * 0.5)] ?? 0)} ms,`,
      `p99 ${Math.round(lags[Math.floor(total * 0.99)] ?? 0)} ms, max ${Math.round(lags.at(-1) ?? 0)} ms;`,
      `RSS of this process (server and all clients) ${Math.round(rss / 2 ** 20)} MB (${Math.round((rss - rssBefore) / 2 ** 20)} MB more)`
    ].join(' '))
    expect(received.filter((t) => t !== undefined)).toHaveLength(total)
    expect(rss).toBeLessThan(512 * 2 ** 20)
  }, 60_000)
})
