// The gateway as one Fastify plugin (fastify/demo src/app.ts): cross-cutting plugins first, in
// the order a request meets them, then the routes.
import { generateKeyPairSync, type KeyObject } from 'node:crypto'
import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import type { Config } from '../config/load.js'
import type { VerificationKeys } from './auth/keys.js'
import auth from './plugins/auth.js'
import bodyLimits from './plugins/body-limits.js'
import cors from './plugins/cors.js'
import draining from './plugins/draining.js'
import delivery from './plugins/delivery.js'
import drawScheduler from './plugins/draw-scheduler.js'
import idempotency from './plugins/idempotency.js'
import jsonBody from './plugins/json-body.js'
import errorHandler from './plugins/error-handler.js'
import events from './plugins/events.js'
import language from './plugins/language.js'
import liveness from './plugins/liveness.js'
import metrics from './plugins/metrics.js'
import openapi from './plugins/openapi.js'
import push from './plugins/push.js'
import rateLimit from './plugins/rate-limit.js'
import registrationServices from './plugins/registrations.js'
import requestId from './plugins/request-id.js'
import securityHeaders from './plugins/security-headers.js'
import shedding from './plugins/shedding.js'
import waitingRoom from './plugins/waiting-room.js'
import stores from './plugins/stores.js'
import workers from './plugins/workers.js'
import publishedAllocations from './routes/allocations/index.js'
import appointmentRequests from './routes/appointment-requests/index.js'
import appointments from './routes/appointments/index.js'
import health from './routes/health/index.js'
import allocations from './routes/ops/allocations.js'
import identities from './routes/ops/identities.js'
import outbox from './routes/ops/outbox.js'
import trends from './routes/ops/trends.js'
import livenessRoutes from './routes/liveness/index.js'
import partner from './routes/partner/index.js'
import registrations from './routes/registrations/index.js'
import schedule from './routes/schedule/index.js'
import waitingRooms from './routes/waiting-rooms/index.js'
import waitingRoomPage from './routes/waiting-rooms/page.js'
import { systemClock, type Clock } from './store/clock.js'
import type { Stores } from './store/ports.js'
import { version } from './version.js'

export interface AppOptions {
  config: Readonly<Config>
  stores: Stores
  /** Keys that verify bearer tokens (gateway/auth/keys.ts loads them from config). */
  keys: VerificationKeys
  /** Secret that keys identity hashes (gateway/auth/identity-key.ts loads it). */
  identityKey: Buffer
  /** Ed25519 key that signs waiting-room admissions (gateway/auth/admission-tokens.ts loads it); one made here when absent. */
  admissionKey?: KeyObject
  clock?: Clock
  /** The photo-check worker file; tests put one that injects faults (a crash, a throw) here. */
  livenessWorkerFile?: string
}

declare module 'fastify' {
  interface FastifyInstance {
    config: Readonly<Config>
    /** Wall-clock time for every decision; injected so tests can move it. */
    clock: Clock
  }
}

async function app (fastify: FastifyInstance, opts: AppOptions): Promise<void> {
  const { config } = opts
  const clock = opts.clock ?? systemClock
  fastify.decorate('config', config)
  fastify.decorate('clock', clock)
  await fastify.register(language)
  await fastify.register(errorHandler, { storeRetryAfterSeconds: config.store.unavailableRetryAfterSeconds })
  // Before any route, so every route (metrics and docs too) gets their hooks and limits.
  await fastify.register(securityHeaders, { hstsMaxAgeSeconds: config.server.hstsMaxAgeSeconds })
  await fastify.register(cors, config.cors)
  await fastify.register(bodyLimits, { routes: config.server.routeBodyLimits })
  await fastify.register(jsonBody, { maxDepth: config.server.maxJsonDepth })
  await fastify.register(metrics, config.metrics)
  await fastify.register(stores, { stores: opts.stores })
  await fastify.register(openapi, { enabled: config.server.docs, version })

  // onRequest hooks run in this order: id, draining, shedding, authentication, rate limits.
  await fastify.register(requestId)
  await fastify.register(draining)
  await fastify.register(shedding, config.shedding)
  await fastify.register(auth, { auth: config.auth, keys: opts.keys, clock })
  await fastify.register(rateLimit, { rateLimit: config.rateLimit, storeRetryAfterSeconds: config.store.unavailableRetryAfterSeconds, clock })
  // After the rate limits: a device refreshing in the waiting room spends its buckets.
  await fastify.register(waitingRoom, { admissionKey: opts.admissionKey ?? generateKeyPairSync('ed25519').privateKey })
  // preHandler, after validation: writes marked idempotent replay or claim their key.
  await fastify.register(idempotency, config.idempotency)

  await fastify.register(workers, config.workers)
  await fastify.register(events)
  await fastify.register(registrationServices, { identityKey: opts.identityKey })
  await fastify.register(drawScheduler)
  await fastify.register(delivery)
  await fastify.register(liveness, opts.livenessWorkerFile === undefined ? {} : { workerFile: opts.livenessWorkerFile })
  await fastify.register(push)

  await fastify.register(health)
  await fastify.register(schedule)
  await fastify.register(registrations)
  await fastify.register(appointmentRequests)
  await fastify.register(appointments)
  await fastify.register(identities)
  await fastify.register(allocations)
  await fastify.register(publishedAllocations)
  await fastify.register(partner)
  await fastify.register(livenessRoutes)
  await fastify.register(outbox)
  await fastify.register(trends)
  await fastify.register(waitingRooms)
  await fastify.register(waitingRoomPage)
}

// Not encapsulated (fastify/demo registers its app through fastify-plugin too): the error and
// not-found handlers, hooks and decorators apply to the whole server.
export default fp(app, { name: 'gateway' })
