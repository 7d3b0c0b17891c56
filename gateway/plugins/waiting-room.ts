// The waiting room, wired: in front of the routes a room names while it is pre-open or open, a
// request from a device without a valid admission gets `200 { status: "waiting", ticket, ... }`
// instead of the route (DESIGN.md §4: a ticket, not an error, so phones stop refreshing), and
// the admission rounds. Positions and admissions are pushed by gateway/plugins/push.ts. Off
// unless GATEWAY_WAITING_ROOMS names a room. Runs after the rate limits: a refresh storm spends
// its buckets like any other request.
import type { KeyObject } from 'node:crypto'
import fp from 'fastify-plugin'
import type { Config } from '../../config/load.js'
import { Counter, Gauge, Histogram } from 'prom-client'
import { admissionTokens } from '../auth/admission-tokens.js'
import { WaitingRoomService } from '../domain/waiting-room.js'
import { perScrape } from '../lib/scrape-cache.js'

declare module 'fastify' {
  interface FastifyInstance {
    waitingRoom: WaitingRoomService
    /** The WebSocket URL a client that called `hostname` is told to use. */
    waitingRoomWsUrl(hostname: string): string
    /** The WebSocket server's port, once listening; undefined while it is off. */
    pushPort: number | undefined
  }
}

export interface WaitingRoomOptions {
  /** Signs admission tokens (gateway/auth/admission-tokens.ts loads it). */
  admissionKey: KeyObject
}

export const WS_PATH = '/v1/waiting-room/ws'

/** The WebSocket server runs when a waiting room is configured, or when asked for (results only). */
export function pushEnabled (config: Pick<Config, 'waitingRoom'>): boolean {
  return config.waitingRoom.rooms.length > 0 || config.waitingRoom.wsEnabled
}
const ROUND_MS = 100

export default fp<WaitingRoomOptions>(async function waitingRoom (fastify, opts) {
  const { config, stores, clock } = fastify
  const rules = config.waitingRoom
  const labelNames = ['room'] as const
  const joined = new Counter({ name: 'gateway_waiting_room_joined_total', help: 'Tickets given out (a device asking again keeps its ticket), by room.', labelNames, registers: [fastify.metrics] })
  const admitted = new Counter({ name: 'gateway_waiting_room_admitted_total', help: 'Tickets admitted, by room: rate() of it is the admission rate.', labelNames, registers: [fastify.metrics] })
  const waited = new Histogram({ name: 'gateway_waiting_room_wait_seconds', help: 'Time from arrival (or from the opening, for those who came before it) to admission, by room.', labelNames, buckets: [1, 5, 15, 30, 60, 120, 300, 600, 1200, 1800, 3600], registers: [fastify.metrics] })
  const service = new WaitingRoomService({
    stores,
    clock,
    rules: { rooms: rules.rooms, timezone: config.schedule.timezone, requestWindowOpensAt: config.schedule.requestWindowOpensAt, admissionTtlMs: rules.admissionTtlSeconds * 1000 },
    tokens: admissionTokens(opts.admissionKey, { now: () => clock.now() }),
    signals: {
      joined: (room) => joined.inc({ room }),
      admitted: (room, seconds) => {
        admitted.inc({ room })
        waited.observe({ room }, seconds)
      }
    }
  })
  fastify.decorate('waitingRoom', service)
  fastify.decorate('pushPort', undefined)
  fastify.decorate('waitingRoomWsUrl', (hostname: string) => rules.wsPublicUrl !== '' ? rules.wsPublicUrl : `ws://${hostname}:${fastify.pushPort ?? rules.wsPort}${WS_PATH}`)
  if (rules.rooms.length === 0) return

  const overviews = perScrape(async () => Promise.all(service.rooms.map(async (room) => service.overview(room))))
  for (const [name, help, value] of [
    ['gateway_waiting_room_size', 'Tickets waiting, by room.', (o: { waiting: number }) => o.waiting],
    ['gateway_waiting_room_active', 'Admissions still valid, by room (capped by maxActive).', (o: { active: number }) => o.active]
  ] as const) {
    // eslint-disable-next-line no-new -- registered in the registry by the constructor
    new Gauge({
      name,
      help,
      labelNames,
      registers: [fastify.metrics],
      async collect () {
        const all = await overviews()
        if (all !== undefined) for (const o of all) this.set({ room: o.room }, value(o))
      }
    })
  }
  // Every route a room names must exist: a typo would leave the route unguarded in a surge.
  const routes = new Set<string>()
  fastify.addHook('onRoute', (route) => {
    for (const method of [route.method].flat()) routes.add(`${method} ${route.url}`)
  })

  fastify.addHook('onRequest', async (request, reply) => {
    // HEAD runs the GET handler: it queues like the GET.
    const room = service.guarding(`${request.method === 'HEAD' ? 'GET' : request.method} ${request.routeOptions.url ?? ''}`)
    // Only applicants queue: partners, officers and ops carry no device and pass.
    const subject = request.principal?.subject
    if (room === undefined || request.deviceId === undefined || subject === undefined) return
    const token = request.headers['x-admission-token']
    if (typeof token === 'string' && service.admits(room, token, request.deviceId)) return
    const view = await service.enter(room, { subject, deviceId: request.deviceId })
    if (view === undefined) return
    // Admitted already (its token lost, or asked again before using it): let it through, and
    // hand the token back for the next request.
    if (view.status === 'admitted') {
      reply.header('x-admission-token', view.admissionToken)
      return
    }
    const body = { ...view, wsUrl: fastify.waitingRoomWsUrl(request.hostname), pageUrl: `/waiting-room?room=${room.name}&ticket=${view.ticket}` }
    // A string, so the route's own response schema does not strip the ticket's fields.
    return reply.code(200).header('content-type', 'application/json; charset=utf-8').header('cache-control', 'no-store').header('x-waiting-room', room.name).send(JSON.stringify(body))
  })

  // Admission rounds, on every instance; the store lets one admit at a time (the lease).
  let timer: NodeJS.Timeout | undefined
  let round: Promise<unknown> | undefined
  fastify.addHook('onReady', async () => {
    const missing = rules.rooms.flatMap((room) => room.routes.filter((r) => !routes.has(r)).map((r) => `${room.name}: ${r}`))
    if (missing.length > 0) throw new Error(`waitingRoom.rooms (GATEWAY_WAITING_ROOMS) names routes the gateway does not have: ${missing.join(', ')}`)
    // Off only in tests that run the rounds themselves (GATEWAY_WAITING_ROOM_AUTO_ADMIT).
    if (!rules.autoAdmit) return
    timer = setInterval(() => {
      round ??= service.admit(ROUND_MS / 1000).catch((err: unknown) => {
        fastify.log.warn({ err: { type: (err as Error).name, message: (err as Error).message } }, 'waiting-room admission round failed; the next one tries again')
      }).finally(() => { round = undefined })
    }, ROUND_MS)
    timer.unref()
  })
  fastify.addHook('onClose', async () => {
    clearInterval(timer)
    await round
  })
}, { name: 'waiting-room', dependencies: ['stores', 'metrics', 'auth'] })
