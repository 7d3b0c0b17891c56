// Baseline (a): bare Fastify answering GET /v1/schedule with the gateway's body and schema.
import Fastify from 'fastify'
import { scheduleRouteOptions, scheduleView } from './schedule-body.js'

const app = Fastify({ logger: false })
app.get('/v1/schedule', scheduleRouteOptions, async () => scheduleView())
await app.listen({ host: '127.0.0.1', port: Number(process.env.PORT ?? 0) })
process.stdout.write(`listening ${(app.server.address() as { port: number }).port}\n`)
process.once('SIGTERM', () => { app.close().then(() => process.exit(0), () => process.exit(1)) })
