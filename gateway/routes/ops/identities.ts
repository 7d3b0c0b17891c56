// POST /v1/ops/identities/release (officer): after review, frees a person's identity so they can
// be registered again, e.g. when someone registered them without consent. Audit-logged by who
// and when, never by whom it concerned.
import type { FastifyPluginAsync } from 'fastify'
import type { PersonIdentity } from '../../domain/identity.js'
import { IdentitySchema } from '../../schemas/registration.js'
import { errorResponses } from '../../schemas/error.js'

const identities: FastifyPluginAsync = async function (fastify) {
  fastify.post('/v1/ops/identities/release', {
    config: { roles: ['officer'], idempotent: true },
    schema: {
      tags: ['ops'],
      summary: 'Release a claimed identity after review; needs Idempotency-Key',
      security: [{ bearer: [] }],
      body: IdentitySchema,
      response: {
        200: { type: 'object', properties: { released: { type: 'boolean' } }, required: ['released'] },
        ...errorResponses(400, 401, 403, 409, 422)
      }
    }
  }, async function (request) {
    const released = await fastify.registrations.releaseIdentity(request.body as PersonIdentity)
    request.log.info({ audit: 'identity-release', officer: request.principal?.subject, released }, 'identity released by an officer')
    return { released }
  })
}

export default identities
