// The outbox for ops: how much is waiting and how old the oldest is, the dead letters (type, time
// and why: never a payload), and a retry of one dead letter.
import Type from 'typebox'
import type { FastifyPluginAsync } from 'fastify'
import { GatewayError } from '../../errors.js'
import { errorResponses } from '../../schemas/error.js'

const DEAD_LETTER_ID = '^[0-9]{1,4}:[0-9]{1,20}-[0-9]{1,20}$'

const outbox: FastifyPluginAsync = async function (fastify) {
  fastify.get('/v1/ops/outbox', {
    config: { roles: ['ops'] },
    schema: {
      tags: ['ops'],
      summary: 'Outbox depth, pending, lag, the configured rate and the dead letters (first 50 per partition)',
      security: [{ bearer: [] }],
      response: {
        200: Type.Object({
          depth: Type.Integer(),
          pending: Type.Integer(),
          intents: Type.Integer({ description: 'events recorded before their state change and not appended yet; recovery decides those older than GATEWAY_DELIVERY_RECOVER_AFTER_SECONDS' }),
          oldestAgeSeconds: Type.Number(),
          configuredRatePerSecond: Type.Number(),
          deadLetters: Type.Integer(),
          deadLetterSample: Type.Array(Type.Object({ id: Type.String({ description: 'partition:entry, for the retry route' }), eventId: Type.String(), type: Type.String(), time: Type.String(), reason: Type.String() }))
        }),
        ...errorResponses(401, 403, 429, 503)
      }
    }
  }, async function () {
    return { ...await fastify.delivery.service.overview(50), configuredRatePerSecond: fastify.delivery.configuredRate }
  })

  fastify.post('/v1/ops/outbox/dead-letters/:id/retry', {
    config: { roles: ['ops'], idempotent: true },
    schema: {
      tags: ['ops'],
      summary: 'Put one dead letter back in the outbox for delivery; needs Idempotency-Key',
      security: [{ bearer: [] }],
      params: Type.Object({ id: Type.String({ pattern: DEAD_LETTER_ID }) }),
      response: { 200: Type.Object({ retried: Type.Literal(true) }), ...errorResponses(400, 401, 403, 404, 409, 422, 429, 503) }
    }
  }, async function (request) {
    if (!await fastify.delivery.service.retryDeadLetter((request.params as { id: string }).id)) throw new GatewayError('GW_ERR_OUTBOX_DEAD_LETTER_NOT_FOUND')
    request.log.info({ audit: 'outbox-retry', by: request.principal?.subject, id: (request.params as { id: string }).id }, 'dead letter put back')
    return { retried: true as const }
  })
}

export default outbox
