// POST /v1/registrations, GET and DELETE /v1/registrations/:id: an applicant's groups.
import type { FastifyPluginAsync } from 'fastify'
import { clientNetwork } from '../../domain/rate-limit-rules.js'
import type { NewRegistration } from '../../domain/registrations.js'
import { GatewayError } from '../../errors.js'
import { attemptOf } from '../../plugins/idempotency.js'
import { newRegistrationSchema, registrationBodyLimit, RegistrationParams } from '../../schemas/registration.js'
import { errorResponses } from '../../schemas/error.js'

const registrations: FastifyPluginAsync = async function (fastify) {
  const NewRegistrationSchema = newRegistrationSchema(fastify.config.registrations.maxMembers)

  fastify.post('/v1/registrations', {
    config: { roles: ['applicant'], idempotent: true },
    // The largest group escaped at its longest (schemas/registration.ts); GATEWAY_ROUTE_BODY_LIMITS
    // may raise it (config/load.ts refuses one below).
    bodyLimit: registrationBodyLimit(fastify.config.registrations.maxMembers),
    schema: {
      tags: ['registrations'],
      summary: 'Register a group (1 to N people); needs Idempotency-Key',
      security: [{ bearer: [] }],
      body: NewRegistrationSchema,
      response: { 201: { $ref: 'Registration#' }, ...errorResponses(400, 401, 403, 409, 422, 429, 503) }
    }
  }, async function (request, reply) {
    const body = request.body as NewRegistration
    checkDatesOfBirth(body, fastify.clock.now())
    const created = await fastify.registrations.create({
      subject: request.principal?.subject as string,
      deviceId: request.deviceId as string,
      network: clientNetwork(request.ip)
    // The idempotency plugin has checked the key: a retry cut off mid-way resumes under it.
    }, body, attemptOf(request))
    return reply.code(201).send(created)
  })

  fastify.get('/v1/registrations/:id', {
    config: { roles: ['applicant'] },
    schema: {
      tags: ['registrations'],
      summary: 'The caller\'s own registration (anyone else: 404)',
      security: [{ bearer: [] }],
      params: RegistrationParams,
      response: { 200: { $ref: 'Registration#' }, ...errorResponses(400, 401, 403, 404, 429, 503) }
    }
  }, async function (request) {
    return fastify.registrations.view(request.principal?.subject as string, (request.params as { id: string }).id)
  })

  fastify.delete('/v1/registrations/:id', {
    config: { roles: ['applicant'], idempotent: true },
    schema: {
      tags: ['registrations'],
      summary: 'Withdraw the caller\'s registration and free its members\' identities; needs Idempotency-Key',
      security: [{ bearer: [] }],
      params: RegistrationParams,
      response: {
        200: { type: 'object', properties: { registrationId: { type: 'string' }, status: { type: 'string', enum: ['withdrawn'] } }, required: ['registrationId', 'status'] },
        ...errorResponses(400, 401, 403, 404, 409, 422, 429, 503)
      }
    }
  }, async function (request) {
    const id = (request.params as { id: string }).id
    await fastify.registrations.withdraw(request.principal?.subject as string, id)
    return { registrationId: id, status: 'withdrawn' }
  })

  // Only where the WebSocket server runs (GATEWAY_WS_ENABLED).
  const watch = fastify.resultWatch
  if (watch !== undefined) {
    fastify.post('/v1/registrations/:id/watch', {
      config: { roles: ['applicant'], idempotent: true },
      schema: {
        tags: ['registrations'],
        summary: 'A watch ticket: subscribe with it on the WebSocket to be told the registration\'s liveness verdicts and draw outcomes as they happen; needs Idempotency-Key',
        security: [{ bearer: [] }],
        params: RegistrationParams,
        response: {
          201: { type: 'object', properties: { watchTicket: { type: 'string' }, registrationId: { type: 'string' }, expiresAt: { type: 'string' }, wsUrl: { type: 'string' } }, required: ['watchTicket', 'registrationId', 'expiresAt', 'wsUrl'] },
          ...errorResponses(400, 401, 403, 404, 409, 422, 429, 503)
        }
      }
    }, async function (request, reply) {
      const issued = await watch.issue(request.principal?.subject as string, (request.params as { id: string }).id)
      return reply.code(201).send({ ...issued, wsUrl: fastify.waitingRoomWsUrl(request.hostname) })
    })
  }
}

// The schema checks the form; a date of birth must also be a past date within a human life.
function checkDatesOfBirth (body: NewRegistration, now: number): void {
  const today = new Date(now).toISOString().slice(0, 10)
  const fields = body.members
    .map((m, i) => (m.dateOfBirth > today || m.dateOfBirth < '1900-01-01' ? `/body/members/${i}/dateOfBirth` : undefined))
    .filter((f): f is string => f !== undefined)
  if (fields.length > 0) throw new GatewayError('GW_ERR_REQUEST_INVALID', { fields })
}

export default registrations
