// Prometheus metrics: Node's defaults (event-loop lag, heap, GC, handles) and one HTTP histogram
// labelled by route template, method and status. Labels never carry raw paths, ids or anything a
// client chose freely, so their number stays bounded and free of personal data.
import type { FastifyReply, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import { Histogram, Registry, collectDefaultMetrics } from 'prom-client'
import { routeLabel } from '../logger.js'

declare module 'fastify' {
  interface FastifyInstance {
    /** The gateway's metric registry: plugins register their metrics here. */
    metrics: Registry
  }
}

export interface MetricsOptions {
  httpDurationBuckets: readonly number[]
  eventLoopPrecisionMs: number
}

const METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'])

export default fp<MetricsOptions>(async function metrics (fastify, opts) {
  // A registry per app, not prom-client's global one, so several apps can live in one process.
  const registry = new Registry()
  collectDefaultMetrics({ register: registry, eventLoopMonitoringPrecision: opts.eventLoopPrecisionMs })
  const duration = new Histogram({
    name: 'http_request_duration_seconds',
    help: 'Time from request received to response sent, by route template, method and status.',
    labelNames: ['route', 'method', 'status_code'] as const,
    buckets: [...opts.httpDurationBuckets],
    registers: [registry]
  })
  fastify.decorate('metrics', registry)

  fastify.addHook('onResponse', function (request: FastifyRequest, reply: FastifyReply, done: () => void) {
    duration.observe({
      route: routeLabel(request),
      method: METHODS.has(request.method) ? request.method : 'OTHER',
      status_code: String(reply.statusCode)
    }, reply.elapsedTime / 1000)
    done()
  })

  fastify.get('/metrics', { config: { shed: false }, schema: { hide: true } }, async function (_request, reply) {
    reply.type(registry.contentType)
    return registry.metrics()
  })
}, { name: 'metrics' })
