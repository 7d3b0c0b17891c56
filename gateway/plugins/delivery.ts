// Delivery to the backend services, wired: the shared pace (the contract limiter of
// gateway/vendor/, at the configured delivery rate), the HTTP client, and the consumer that starts
// with the server and stops with it; with its metrics (outbox depth, pending, lag, dead letters,
// deliveries and retries by event type). No backend configured: events wait in the outbox.
import { randomBytes } from 'node:crypto'
import fp from 'fastify-plugin'
import { Counter, Gauge } from 'prom-client'
import { BackendClient } from '../delivery/backend-client.js'
import { DeliveryService } from '../domain/delivery.js'
import type { OutboxStats } from '../store/ports.js'
import { perScrape } from '../lib/scrape-cache.js'
import { createContractLimiter, pacedRate } from '../vendor/contract-limiter.js'

declare module 'fastify' {
  interface FastifyInstance {
    delivery: { service: DeliveryService, configuredRate: number }
  }
}

export default fp(async function delivery (fastify) {
  const { config, stores, clock } = fastify
  const rules = config.delivery
  const pace = createContractLimiter({
    id: 'delivery',
    ratePerSecond: pacedRate(rules.ratePerSecond * rules.pacing),
    maxConcurrent: rules.maxConcurrent,
    redis: stores.redisClient === undefined ? undefined : { client: stores.redisClient }
  })
  const backend = new BackendClient({ url: rules.url, urls: rules.urls, timeoutMs: rules.timeoutMs })
  const delivered = new Counter({ name: 'gateway_delivery_events_total', help: 'Events delivered to backend services (acknowledged 2xx), by event type.', labelNames: ['type'] as const, registers: [fastify.metrics] })
  const retries = new Counter({ name: 'gateway_delivery_retries_total', help: 'Delivery attempts that will be retried (429, 408, 5xx, timeout, reset), by event type.', labelNames: ['type'] as const, registers: [fastify.metrics] })
  const dead = new Counter({ name: 'gateway_delivery_dead_letters_total', help: 'Events moved to the dead letters (refused, or out of attempts), by event type.', labelNames: ['type'] as const, registers: [fastify.metrics] })
  const errors = new Counter({ name: 'gateway_delivery_errors_total', help: 'Errors of the delivery consumer itself (the store away); it goes on.', registers: [fastify.metrics] })
  const service = new DeliveryService({
    stores,
    clock,
    backend,
    pace,
    consumer: `gw-${randomBytes(6).toString('hex')}`,
    rules: { maxConcurrent: rules.maxConcurrent, maxAttempts: rules.maxAttempts, retryBaseMs: rules.retryBaseMs, claimIdleMs: rules.claimIdleMs, idleMs: 100 },
    signals: {
      delivered: (type) => delivered.inc({ type }),
      retried: (type) => retries.inc({ type }),
      deadLettered: (type) => dead.inc({ type }),
      failed: (err) => {
        errors.inc()
        fastify.log.error({ err: { type: (err as Error).name, message: (err as Error).message } }, 'delivery consumer error; it goes on')
      }
    }
  })

  const read = perScrape(async () => stores.outbox.stats())
  for (const [name, help, value] of [
    ['gateway_outbox_depth', 'Events in the outbox not yet delivered, across instances.', (s: OutboxStats) => s.depth],
    ['gateway_outbox_pending', 'Events handed to a consumer and not yet delivered.', (s: OutboxStats) => s.pending],
    ['gateway_outbox_intents', 'Events recorded before their state change and not yet appended: normally a handful in flight; a growing number means appends fail.', (s: OutboxStats) => s.intents],
    ['gateway_outbox_lag_seconds', 'Age of the oldest undelivered event; 0 when the outbox is empty.', (s: OutboxStats) => s.oldestTime === null ? 0 : Math.max(0, clock.now() - s.oldestTime) / 1000],
    ['gateway_outbox_dead_letters', 'Events in the dead letters, waiting for ops (POST /v1/ops/outbox/dead-letters/:id/retry).', (s: OutboxStats) => s.deadLetters]
  ] as const) {
    // eslint-disable-next-line no-new -- registered in the registry by the constructor
    new Gauge({ name, help, registers: [fastify.metrics], async collect () { const s = await read(); if (s !== undefined) this.set(value(s)) } })
  }
  // eslint-disable-next-line no-new -- registered in the registry by the constructor
  new Gauge({ name: 'gateway_delivery_configured_rate', help: 'The configured delivery rate, events per second (GATEWAY_DELIVERY_RATE_PER_SECOND), to draw beside the delivery rate.', registers: [fastify.metrics], collect () { this.set(rules.ratePerSecond) } })

  fastify.decorate('delivery', { service, configuredRate: rules.ratePerSecond })
  if (!backend.configured) fastify.log.warn('no backend service configured (GATEWAY_DELIVERY_URL / GATEWAY_DELIVERY_URLS): events wait in the outbox')
  fastify.addHook('onReady', async () => { if (backend.configured) service.start() })
  fastify.addHook('onClose', async () => {
    await Promise.all([pace.close(), service.stop()])
    await backend.close()
  })
}, { name: 'delivery', dependencies: ['stores', 'metrics'] })
