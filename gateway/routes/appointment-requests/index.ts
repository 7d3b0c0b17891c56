// POST /v1/appointment-requests and GET /v1/appointment-requests/:id: into the day's pool.
import type { FastifyPluginAsync } from 'fastify'
import type { NewAppointmentRequest } from '../../domain/appointment-requests.js'
import { attemptOf } from '../../plugins/idempotency.js'
import { newAppointmentRequestSchema, RequestParams } from '../../schemas/registration.js'
import { errorResponses } from '../../schemas/error.js'

const appointmentRequests: FastifyPluginAsync = async function (fastify) {
  const body = newAppointmentRequestSchema(fastify.config.poes.map((p) => p.slug))

  fastify.post('/v1/appointment-requests', {
    config: { roles: ['applicant'], idempotent: true },
    schema: {
      tags: ['appointment requests'],
      summary: 'Ask for an appointment at a port of entry in the next draw; one per registration per pool day; needs Idempotency-Key',
      security: [{ bearer: [] }],
      body,
      response: {
        202: { $ref: 'AppointmentRequest#' },
        200: { $ref: 'AppointmentRequest#' },
        ...errorResponses(400, 401, 403, 404, 409, 422, 429, 503)
      }
    }
  }, async function (request, reply) {
    const { created, request: pooled } = await fastify.appointmentRequests.request(request.principal?.subject as string, request.body as NewAppointmentRequest, attemptOf(request))
    // A repeat for the same registration and pool day answers with the request it already has.
    return reply.code(created ? 202 : 200).send(pooled)
  })

  fastify.get('/v1/appointment-requests/:id', {
    config: { roles: ['applicant'] },
    schema: {
      tags: ['appointment requests'],
      summary: 'The caller\'s own request: pooled, selected, not-selected, confirmed or lapsed (anyone else: 404)',
      security: [{ bearer: [] }],
      params: RequestParams,
      response: { 200: { $ref: 'AppointmentRequest#' }, ...errorResponses(400, 401, 403, 404, 429, 503) }
    }
  }, async function (request) {
    return fastify.appointmentRequests.get(request.principal?.subject as string, (request.params as { id: string }).id)
  })
}

export default appointmentRequests
