// Once close() starts, requests that arrive on open keep-alive connections get a localized 503
// with Connection: close, so the client retries elsewhere; requests already in flight finish.
// (Fastify's own return503OnClosing answers in its own shape and English only.)
import fp from 'fastify-plugin'
import { GatewayError } from '../errors.js'

declare module 'fastify' {
  interface FastifyInstance {
    /** True from the start of a graceful close. */
    readonly draining: boolean
  }
}

export default fp(async function draining (fastify) {
  let closing = false
  fastify.decorate('draining', { getter: () => closing })
  fastify.addHook('preClose', async () => { closing = true })
  fastify.addHook('onRequest', async function (_request, reply) {
    if (!closing) return
    reply.header('connection', 'close')
    throw new GatewayError('GW_ERR_SERVER_SHUTTING_DOWN', { retryAfterSeconds: 1 })
  })
}, { name: 'draining', dependencies: ['error-handler'] })
