// Baseline (b): Fastify + @fastify/rate-limit with its Redis store, keyed by X-Device-Id, limits
// high enough never to refuse: what it costs to ask Redis on every request the usual way.
import rateLimit from '@fastify/rate-limit'
import Fastify from 'fastify'
import { Redis } from 'ioredis'
import { scheduleRouteOptions, scheduleView } from './schedule-body.js'

const redis = new Redis(process.env.REDIS_URL as string, { connectTimeout: 500, maxRetriesPerRequest: 1 })
const app = Fastify({ logger: false })
await app.register(rateLimit, {
  redis,
  max: 1_000_000,
  timeWindow: 60_000,
  keyGenerator: (request) => (request.headers['x-device-id'] as string | undefined) ?? request.ip
})
app.get('/v1/schedule', scheduleRouteOptions, async () => scheduleView())
await app.listen({ host: '127.0.0.1', port: Number(process.env.PORT ?? 0) })
process.stdout.write(`listening ${(app.server.address() as { port: number }).port}\n`)
process.once('SIGTERM', () => { app.close().then(() => { redis.disconnect(); process.exit(0) }, () => process.exit(1)) })
