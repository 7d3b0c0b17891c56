// POST /v1/appointments/:confirmationNumber/confirm and …/extend: the winner's two steps. The
// number travels in the path, so logs carry the route template only; another account gets 404.
import Type from 'typebox'
import type { FastifyPluginAsync } from 'fastify'
import { viewOf } from '../../domain/appointment-requests.js'
import { errorResponses } from '../../schemas/error.js'
import { LocationSchema } from '../../schemas/registration.js'

const Params = Type.Object({ confirmationNumber: Type.String({ pattern: '^[0-9A-Za-z]{16}$' }) })

const appointments: FastifyPluginAsync = async function (fastify) {
  fastify.post('/v1/appointments/:confirmationNumber/confirm', {
    config: { roles: ['applicant'], idempotent: true },
    schema: {
      tags: ['appointment requests'],
      summary: 'Confirm a drawn appointment before its confirm-by time, with a passed liveness check and a location inside the geofence; needs Idempotency-Key',
      security: [{ bearer: [] }],
      params: Params,
      body: Type.Object({
        livenessId: Type.String({ minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9_-]+$' }),
        location: LocationSchema
      }, { additionalProperties: false }),
      response: { 200: { $ref: 'AppointmentRequest#' }, ...errorResponses(400, 401, 403, 404, 409, 422, 429, 503) }
    }
  }, async function (request) {
    const { livenessId, location } = request.body as { livenessId: string, location: { latitude: number, longitude: number, accuracyMeters: number } }
    return viewOf(await fastify.confirmations.confirm(request.principal?.subject as string, (request.params as { confirmationNumber: string }).confirmationNumber, livenessId, location))
  })

  fastify.post('/v1/appointments/:confirmationNumber/extend', {
    config: { roles: ['applicant'], idempotent: true },
    schema: {
      tags: ['appointment requests'],
      summary: 'Extend the confirm-by time once; needs Idempotency-Key',
      security: [{ bearer: [] }],
      params: Params,
      response: { 200: { $ref: 'AppointmentRequest#' }, ...errorResponses(400, 401, 403, 404, 409, 422, 429, 503) }
    }
  }, async function (request) {
    return viewOf(await fastify.confirmations.extend(request.principal?.subject as string, (request.params as { confirmationNumber: string }).confirmationNumber))
  })
}

export default appointments
