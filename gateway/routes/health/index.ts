// Liveness and readiness for load balancers and orchestrators. Neither says anything about
// the deployment beyond up/ready, so both stay open without authentication.
import Type from 'typebox'
import type { FastifyPluginAsync } from 'fastify'
import { GatewayError } from '../../errors.js'

const Status = Type.Object({ status: Type.String() })

const health: FastifyPluginAsync = async function (fastify) {
  fastify.get('/healthz', {
    config: { shed: false },
    schema: {
      tags: ['health'],
      summary: 'The process is up',
      response: { 200: Status }
    }
  }, async function () {
    return { status: 'ok' }
  })

  fastify.get('/readyz', {
    config: { shed: false },
    schema: {
      tags: ['health'],
      summary: 'The stores answer and the process is not draining',
      response: { 200: Status, 503: { $ref: 'ErrorBody#' } }
    }
  }, async function () {
    try {
      await fastify.stores.ping()
    } catch (err) {
      throw new GatewayError('GW_ERR_STORE_UNAVAILABLE', { retryAfterSeconds: fastify.config.store.unavailableRetryAfterSeconds, cause: err })
    }
    return { status: 'ready' }
  })
}

export default health
