// The WebSocket server (uWebSockets.js, gateway/push/ws-server.ts) on its own port, wired to
// what it pushes:
//   - a waiting-room ticket subscribes to its room's progress (one message a second to all of
//     the room's clients at once, uWS pub/sub; each client works out its own place from its
//     welcome) and gets its admission the moment any instance admits it (the room's admission
//     log, read by every instance every round);
//   - a watch ticket (POST /v1/registrations/:id/watch) subscribes to its registration's results:
//     liveness verdicts and the draw's outcome, from the shared feed every instance reads.
// On when a waiting room is configured, or with GATEWAY_WS_ENABLED=true (results only).
import fp from 'fastify-plugin'
import { Counter, Gauge } from 'prom-client'
import { registrationTopic } from '../domain/events.js'
import { isWatchTicket, ResultWatchService } from '../domain/result-watch.js'
import type { RoomRules, TicketView } from '../domain/waiting-room.js'
import { ERRORS, GatewayError, type ErrorCode, type Language } from '../errors.js'
import { PushServer, type PushRefusal, type PushSubscription } from '../push/ws-server.js'
import { StoreUnavailableError } from '../store/errors.js'
import { pushEnabled, WS_PATH } from './waiting-room.js'

declare module 'fastify' {
  interface FastifyInstance {
    /** Watch tickets for a registration's results; undefined while the WebSocket is off. */
    resultWatch: ResultWatchService | undefined
  }
}

const ROUND_MS = 100
const FEED_PAGE = 1_000
const GAP_MS = 2_000
const WATCH_TTL_MS = 3_600_000

export default fp(async function push (fastify) {
  const { config, stores, clock, waitingRoom } = fastify
  const rules = config.waitingRoom
  fastify.decorate('resultWatch', undefined)
  if (!pushEnabled(config)) return
  const watch = new ResultWatchService({ stores, clock, registrations: fastify.registrations, ttlMs: WATCH_TTL_MS })
  fastify.resultWatch = watch

  const connections = new Gauge({ name: 'gateway_ws_connections', help: 'Open WebSocket connections to this instance.', registers: [fastify.metrics] })
  const sent = new Counter({ name: 'gateway_ws_messages_total', help: 'WebSocket messages sent to one connection, by type (welcome, watching, admitted, error).', labelNames: ['type'] as const, registers: [fastify.metrics] })
  const published = new Counter({ name: 'gateway_ws_published_total', help: 'WebSocket messages published to a topic, counted once per subscriber offered it, by type (progress, result); a client too slow to read misses some.', labelNames: ['type'] as const, registers: [fastify.metrics] })
  const dropped = new Counter({ name: 'gateway_ws_dropped_total', help: 'Messages that had to arrive (an admission) lost because their connection closed first (a client stalled past 64 of them is closed to reconnect), by type.', labelNames: ['type'] as const, registers: [fastify.metrics] })

  const refusal = (code: ErrorCode, language: Language) => ({ ok: false as const, code, message: ERRORS[code].messages[language] })
  const admittedMessage = (view: Extract<TicketView, { status: 'admitted' }>) => ({ type: 'admitted', room: view.room, ticket: view.ticket, admissionToken: view.admissionToken, expiresAt: view.expiresAt, decidedAt: Date.parse(view.admittedAt) })

  let server: PushServer | undefined
  const timers: NodeJS.Timeout[] = []
  let round: Promise<unknown> | undefined
  // Per room: the period read, the last admission number read with none missing before it, and
  // the numbers read beyond a gap (a parallel batch may write its log out of order).
  const logs = new Map<string, { period: number | null, cursor: number, ahead: Set<number>, gapSince: number | undefined }>()
  let feedCursor: string | null = null

  // Each admission to whichever instance holds its client's connection. A reader starts at the
  // admissions of the moment (a client connecting later is told in its welcome), and waits up to
  // GAP_MS for a missing number before it reads on without it.
  async function pushAdmissions (room: RoomRules): Promise<void> {
    const log = logs.get(room.name)
    const start = await waitingRoom.admittedSince(room, log?.cursor ?? null)
    if (log === undefined || start.period !== log.period) {
      logs.set(room.name, { period: start.period, cursor: start.total, ahead: new Set(), gapSince: undefined })
      return
    }
    const mine: string[] = []
    for (const { ticket, seq } of start.entries) {
      if (log.ahead.has(seq)) continue
      log.ahead.add(seq)
      if (server?.has(ticket) === true) mine.push(ticket)
    }
    // Read in parallel: a second's admissions come in a few rounds, and each waits on its reads.
    await Promise.all(mine.map(async (ticket) => {
      const view = await waitingRoom.ticket(ticket)
      if (view?.status === 'admitted') server?.deliver(ticket, admittedMessage(view))
    }))
    const advance = (): void => { while (log.ahead.delete(log.cursor + 1)) log.cursor++ }
    advance()
    if (log.ahead.size === 0) {
      log.gapSince = undefined
    } else if (log.gapSince === undefined) {
      log.gapSince = performance.now()
    } else if (performance.now() - log.gapSince > GAP_MS) {
      // An admission number never written (its admitter died between count and log): skip it.
      log.cursor = Math.min(...log.ahead) - 1
      advance()
      log.gapSince = undefined
    }
  }

  // Results to the registrations watched here; a reader that falls behind reads in pages until
  // it has caught up.
  async function pushResults (): Promise<void> {
    for (;;) {
      const { entries, cursor } = await stores.feed.read(feedCursor, FEED_PAGE)
      feedCursor = cursor
      for (const entry of entries) server?.publishRaw(entry.topic, 'result', entry.message)
      if (entries.length < FEED_PAGE) return
    }
  }

  async function subscribe (ticket: string, language: Language): Promise<PushSubscription | PushRefusal> {
    if (isWatchTicket(ticket)) {
      const registrationId = await watch.resolve(ticket)
      if (registrationId === undefined) return refusal('GW_ERR_WR_TICKET_NOT_FOUND', language)
      return { ok: true, welcome: { type: 'watching', registrationId }, topics: [registrationTopic(registrationId)] }
    }
    const view = await waitingRoom.ticket(ticket)
    if (view === undefined) return refusal('GW_ERR_WR_TICKET_NOT_FOUND', language)
    if (view.status === 'admitted') return { ok: true, welcome: admittedMessage(view), topics: [] }
    return { ok: true, welcome: { type: 'welcome', ...view }, topics: [`progress/${view.room}`] }
  }

  fastify.addHook('onReady', async () => {
    server = await PushServer.start({
      host: rules.wsHost,
      port: rules.wsPort,
      path: WS_PATH,
      idleTimeoutSeconds: rules.wsIdleTimeoutSeconds,
      maxBackpressureBytes: rules.wsMaxBackpressureBytes,
      maxConnections: rules.wsMaxConnections,
      subscribeTimeoutMs: 10_000,
      hstsMaxAgeSeconds: config.server.hstsMaxAgeSeconds,
      onSubscribe: async (ticket, language) => subscribe(ticket, language).catch((err: unknown) => {
        // The store away: the client is told so (and reconnects), not that something broke.
        if (err instanceof StoreUnavailableError) throw new GatewayError('GW_ERR_STORE_UNAVAILABLE', { cause: err })
        throw err
      }),
      signals: {
        opened: () => connections.inc(),
        closed: () => connections.dec(),
        sent: (type) => sent.inc({ type }),
        published: (type, subscribers) => published.inc({ type }, subscribers),
        dropped: (type) => dropped.inc({ type })
      },
      onError: (err) => {
        fastify.log.error({ err: { type: (err as Error).name, message: (err as Error).message } }, 'WebSocket server error; the connection concerned was closed')
      }
    })
    fastify.pushPort = server.port
    feedCursor = (await stores.feed.read(null, 1)).cursor
    fastify.log.info({ port: server.port }, 'WebSocket server listening')

    timers.push(setInterval(() => {
      round ??= (async () => {
        for (const room of waitingRoom.rooms) await pushAdmissions(room)
        await pushResults()
      })().catch((err: unknown) => {
        fastify.log.warn({ err: { type: (err as Error).name, message: (err as Error).message } }, 'push round failed; the next one tries again')
      }).finally(() => { round = undefined })
    }, ROUND_MS))
    // Progress: one message a second per room in a period.
    if (waitingRoom.rooms.length > 0) {
      timers.push(setInterval(() => {
        Promise.all(waitingRoom.rooms.map(async (room) => waitingRoom.overview(room))).then((all) => {
          for (const o of all) if (o.phase !== 'idle') server?.publish(`progress/${o.room}`, { type: 'progress', room: o.room, phase: o.phase, admitted: o.admitted, waiting: o.waiting, admitPerSecond: o.admitPerSecond })
        }, () => {
          // The store away for a second: the next second publishes again.
        })
      }, 1_000))
    }
    for (const t of timers) t.unref()
  })

  fastify.addHook('onClose', async () => {
    for (const t of timers) clearInterval(t)
    await round
    await server?.close()
  })
}, { name: 'push', dependencies: ['stores', 'metrics', 'waiting-room', 'registrations'] })
