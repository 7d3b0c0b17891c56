// The gateway as one Fastify plugin (fastify/demo src/app.ts): cross-cutting plugins first, in
// the order a request meets them, then the routes.
import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import type { Config } from '../config/load.js'
import draining from './plugins/draining.js'
import errorHandler from './plugins/error-handler.js'
import language from './plugins/language.js'
import metrics from './plugins/metrics.js'
import openapi from './plugins/openapi.js'
import requestId from './plugins/request-id.js'
import stores from './plugins/stores.js'
import health from './routes/health/index.js'
import type { Stores } from './store/ports.js'
import { version } from './version.js'

export interface AppOptions {
  config: Readonly<Config>
  stores: Stores
}

declare module 'fastify' {
  interface FastifyInstance {
    config: Readonly<Config>
  }
}

async function app (fastify: FastifyInstance, opts: AppOptions): Promise<void> {
  const { config } = opts
  fastify.decorate('config', config)
  await fastify.register(language)
  await fastify.register(errorHandler, { storeRetryAfterSeconds: config.store.unavailableRetryAfterSeconds })
  await fastify.register(metrics, config.metrics)
  await fastify.register(requestId)
  await fastify.register(draining)
  await fastify.register(stores, { stores: opts.stores })
  await fastify.register(openapi, { enabled: config.server.docs, version })

  await fastify.register(health)
}

// Not encapsulated (fastify/demo registers its app through fastify-plugin too): the error and
// not-found handlers, hooks and decorators apply to the whole server.
export default fp(app, { name: 'gateway' })
