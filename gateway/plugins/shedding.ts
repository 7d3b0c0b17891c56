// Load shedding, first on every request: when the event loop lags or memory runs high, answer
// 503 with Retry-After at once rather than queue work we cannot finish in time
// (@fastify/under-pressure). Health checks and metrics stay answered (config.shed: false).
import underPressure from '@fastify/under-pressure'
import fp from 'fastify-plugin'
import { Counter } from 'prom-client'
import type { Config } from '../../config/load.js'
import { GatewayError } from '../errors.js'

/** What @fastify/under-pressure reports as over its threshold. */
const SHED_REASONS = ['eventLoopDelay', 'eventLoopUtilization', 'heapUsedBytes', 'rssBytes'] as const

export default fp<Config['shedding']>(async function shedding (fastify, opts) {
  const shed = new Counter({
    name: 'gateway_shed_total',
    help: 'Requests shed with 503 under pressure, by what was over its threshold.',
    labelNames: ['reason'] as const,
    registers: [fastify.metrics]
  })
  // At 0 from the start, so the first shed request is an increase rate() sees (alerts.yml,
  // GatewayShedding) and the dashboards show 0 rather than no data.
  for (const reason of SHED_REASONS) shed.labels({ reason }).inc(0)
  // under-pressure reads an interval with no event-loop sample at all as an infinite delay. The
  // first interval after boot has none (the loop was busy loading), so every request of the
  // first ~100 ms was shed, on every (re)start, surge or not. An infinite reading within two
  // intervals of ready is taken for the boot it is; a real stall later still sheds.
  let readyAt = Infinity
  fastify.addHook('onReady', async () => { readyAt = performance.now() })
  await fastify.register(underPressure, {
    maxEventLoopDelay: opts.maxEventLoopDelayMs,
    maxEventLoopUtilization: opts.maxEventLoopUtilization,
    eventLoopUtilizationMode: 'interval',
    maxHeapUsedBytes: opts.maxHeapUsedBytes,
    maxRssBytes: opts.maxRssBytes,
    sampleInterval: opts.sampleIntervalMs,
    pressureHandler: (request, _reply, type, value) => {
      if (request.routeOptions.config.shed === false) return undefined
      if (type === 'eventLoopDelay' && value === Infinity && performance.now() - readyAt < 2 * opts.sampleIntervalMs) return undefined
      shed.inc({ reason: type })
      return Promise.reject(new GatewayError('GW_ERR_SERVER_OVERLOADED', { retryAfterSeconds: opts.retryAfterSeconds }))
    }
  })
}, { name: 'shedding', dependencies: ['metrics', 'error-handler'] })
