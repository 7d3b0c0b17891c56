// Once close() starts, requests that arrive on open keep-alive connections get a localized 503
// with Connection: close, so the client retries elsewhere; requests already in flight finish and
// their connections close behind them.
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
  fastify.addHook('onRequest', function (_request, reply, done) {
    if (!closing) return done()
    reply.header('connection', 'close')
    done(new GatewayError('GW_ERR_SERVER_SHUTTING_DOWN', { retryAfterSeconds: 1 }))
  })
  // A request admitted before the close still gets its answer, but its keep-alive connection
  // must end with it, or close() would wait for the client to hang up.
  fastify.addHook('onSend', function (_request, reply, payload, done) {
    if (closing) reply.header('connection', 'close')
    done(null, payload)
  })
}, { name: 'draining', dependencies: ['error-handler'] })
