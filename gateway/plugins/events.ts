// The event publisher every producing service shares (gateway/domain/events.ts), with the
// recovery of intents left by an instance that died between a change and its append: run on
// every instance, twice per GATEWAY_DELIVERY_RECOVER_AFTER_SECONDS, whether or not a backend is
// configured (recovery fills the outbox; delivery empties it).
import fp from 'fastify-plugin'
import { Counter } from 'prom-client'
import { EventPublisher } from '../domain/events.js'
import { pushEnabled } from './waiting-room.js'

declare module 'fastify' {
  interface FastifyInstance {
    events: EventPublisher
  }
}

export default fp(async function events (fastify) {
  const { config, stores, clock } = fastify
  const appended = new Counter({ name: 'gateway_outbox_appended_total', help: 'Events appended to the outbox by the services that produce them, by event type.', labelNames: ['type'] as const, registers: [fastify.metrics] })
  const recovered = new Counter({ name: 'gateway_outbox_recovered_total', help: 'Intents decided by recovery (their instance died between change and append), by event type and outcome: appended (the change happened) or dropped (it did not).', labelNames: ['type', 'outcome'] as const, registers: [fastify.metrics] })
  const lost = new Counter({ name: 'gateway_push_notices_lost_total', help: 'Results that could not be put on the feed for the client\'s WebSocket (the store away), by event type; the client still reads them over HTTP.', labelNames: ['type'] as const, registers: [fastify.metrics] })
  const errors = new Counter({ name: 'gateway_outbox_recovery_errors_total', help: 'Recovery rounds that failed (the store away); the next round tries again.', registers: [fastify.metrics] })
  const recoverAfterMs = config.delivery.recoverAfterSeconds * 1000
  const publisher = new EventPublisher({
    outbox: stores.outbox,
    clock,
    recoverAfterMs,
    // Results go on the feed only where a WebSocket server can pass them on.
    ...(pushEnabled(config) ? { feed: stores.feed } : {}),
    signals: {
      appended: (type) => appended.inc({ type }),
      recovered: (type, outcome) => recovered.inc({ type, outcome }),
      noticeLost: (type) => lost.inc({ type })
    }
  })
  fastify.decorate('events', publisher)

  let timer: NodeJS.Timeout | undefined
  let round: Promise<unknown> | undefined
  fastify.addHook('onReady', async () => {
    timer = setInterval(() => {
      // One round at a time: a slow one is not joined by the next.
      round ??= publisher.recover().catch((err: unknown) => {
        errors.inc()
        fastify.log.warn({ err: { type: (err as Error).name, message: (err as Error).message } }, 'outbox recovery round failed; the next one tries again')
      }).finally(() => { round = undefined })
    }, Math.max(500, Math.floor(recoverAfterMs / 2)))
    timer.unref()
  })
  fastify.addHook('onClose', async () => {
    clearInterval(timer)
    await round
  })
}, { name: 'events', dependencies: ['stores', 'metrics'] })
