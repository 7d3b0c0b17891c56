// POST /v1/partner/validations (partner role): { confirmationNumber, dateOfBirth } → { valid }.
// Nothing else comes back: no names, port, time or group size. Every query is audit-logged by
// partner and outcome, never with its inputs; a strict per-partner bucket stops enumeration
// (rule "partner" in GATEWAY_RATE_LIMIT_RULES).
import Type from 'typebox'
import type { FastifyPluginAsync } from 'fastify'
import { errorResponses } from '../../schemas/error.js'
import { DateSchema } from '../../schemas/registration.js'

const partner: FastifyPluginAsync = async function (fastify) {
  fastify.post('/v1/partner/validations', {
    config: { roles: ['partner'] },
    schema: {
      tags: ['partner'],
      summary: 'Does the holder of this confirmation number, born on this date, hold a valid appointment? Yes or no only.',
      security: [{ bearer: [] }],
      body: Type.Object({
        confirmationNumber: Type.String({ minLength: 1, maxLength: 64, pattern: '^[0-9A-Za-z-]+$' }),
        dateOfBirth: DateSchema()
      }, { additionalProperties: false }),
      response: { 200: Type.Object({ valid: Type.Boolean() }, { additionalProperties: false }), ...errorResponses(400, 401, 403, 429, 503) }
    }
  }, async function (request) {
    const { confirmationNumber, dateOfBirth } = request.body as { confirmationNumber: string, dateOfBirth: string }
    const valid = await fastify.partnerValidation.validate(confirmationNumber, dateOfBirth)
    request.log.info({ audit: 'partner-validation', partner: request.principal?.subject, valid }, 'partner validation')
    return { valid }
  })
}

export default partner
