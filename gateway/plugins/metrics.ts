// Prometheus metrics: Node's defaults (event-loop lag, heap, GC, handles), one HTTP histogram
// labelled by route template, method and status, and a counter of the deliberate refusals among its
// 503s. Labels never carry raw paths, ids or anything a client chose freely, so their number stays
// bounded and free of personal data.
import type { FastifyReply, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client'
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
  // The availability SLI (grafana/prometheus/alerts.yml) counts every 5xx but these, as the
  // rehearsal runner does: a 503 with Retry-After is a refusal the client is told to retry
  // (shedding, draining, a busy liveness queue, a store that is away); a 503 without it (the vendor
  // budget spent) and every other 5xx are failures. Its series appear at the first refusal, as the
  // histogram's do, so rate() of both misses the same first one.
  const refusals = new Counter({
    name: 'gateway_http_deliberate_refusals_total',
    help: 'Responses 503 with Retry-After (deliberate refusals, outside the availability SLI), by route template and method.',
    labelNames: ['route', 'method'] as const,
    registers: [registry]
  })
  fastify.decorate('metrics', registry)

  fastify.addHook('onResponse', function (request: FastifyRequest, reply: FastifyReply, done: () => void) {
    const route = routeLabel(request)
    const method = METHODS.has(request.method) ? request.method : 'OTHER'
    duration.observe({ route, method, status_code: String(reply.statusCode) }, reply.elapsedTime / 1000)
    if (reply.statusCode === 503 && reply.hasHeader('retry-after')) refusals.inc({ route, method })
    done()
  })

  fastify.get('/metrics', { config: { shed: false }, schema: { hide: true } }, async function (_request, reply) {
    reply.type(registry.contentType)
    return registry.metrics()
  })
}, { name: 'metrics' })
