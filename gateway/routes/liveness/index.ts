// POST /v1/liveness and GET /v1/liveness/:id: a member's live photo, pre-checked at once (a poor
// photo gets a 4xx saying what to fix) and then checked by the vendor at the contract's pace.
import type { FastifyPluginAsync } from 'fastify'
import { ERRORS, GatewayError } from '../../errors.js'
import { errorResponses } from '../../schemas/error.js'
import { LivenessAcceptedSchema, LivenessParams, LivenessViewSchema, livenessUploadSchema } from '../../schemas/liveness.js'

// A valid upload holds a handful of brackets (base64 has none), so more than this means a body
// built to make JSON.parse work hard: a few MB of nested arrays take it most of a second.
const MAX_BRACKETS = 64

/** Whether `text` holds more than `max` of [ and {, counted by native scans, stopping early. */
export function tooManyBrackets (text: string, max: number): boolean {
  let count = 0
  for (const bracket of ['[', '{']) {
    for (let at = text.indexOf(bracket); at !== -1; at = text.indexOf(bracket, at + 1)) {
      if (++count > max) return true
    }
  }
  return false
}

const liveness: FastifyPluginAsync = async function (fastify) {
  const { maxPhotoBytes } = fastify.config.liveness
  const body = livenessUploadSchema(maxPhotoBytes, fastify.config.registrations.maxMembers)

  // This plugin is encapsulated: the parser below serves only these routes, the one place a body
  // of megabytes is allowed. It refuses a deeply nested body before parsing, then parses as the
  // rest of the gateway does (prototype poisoning refused).
  const parseJson = fastify.getDefaultJsonParser('error', 'error')
  fastify.removeContentTypeParser('application/json')
  fastify.addContentTypeParser('application/json', { parseAs: 'string' }, (request, text, done) => {
    if (tooManyBrackets(text as string, MAX_BRACKETS)) {
      done(new GatewayError('GW_ERR_REQUEST_MALFORMED_JSON'), undefined)
      return
    }
    parseJson(request, text as string, done)
  })

  fastify.post('/v1/liveness', {
    config: { roles: ['applicant'], idempotent: true },
    // The photo in base64 plus the rest of the body: larger than the default limit on purpose.
    bodyLimit: Math.ceil(maxPhotoBytes / 3) * 4 + 16 * 1024,
    schema: {
      tags: ['liveness'],
      summary: 'Upload a live photo of one member (JSON, photo in base64); 202 once it passed the pre-check and waits for the vendor; needs Idempotency-Key',
      security: [{ bearer: [] }],
      body,
      response: { 202: LivenessAcceptedSchema, ...errorResponses(400, 401, 403, 404, 409, 413, 415, 422, 429, 503) }
    }
  }, async function (request, reply) {
    const input = request.body as { registrationId: string, memberIndex: number, photo: string }
    const photo = Buffer.from(input.photo, 'base64')
    // Buffer.from skips what is not base64; a length that does not add up means it was not.
    const padding = input.photo.endsWith('==') ? 2 : input.photo.endsWith('=') ? 1 : 0
    if (input.photo.length % 4 !== 0 || photo.length !== input.photo.length / 4 * 3 - padding) throw new GatewayError('GW_ERR_REQUEST_INVALID', { fields: ['/body/photo'] })
    const accepted = await fastify.liveness.upload(request.principal?.subject as string, { registrationId: input.registrationId, memberIndex: input.memberIndex, photo })
    return reply.code(202).send(accepted)
  })

  fastify.get('/v1/liveness/:id', {
    config: { roles: ['applicant'] },
    schema: {
      tags: ['liveness'],
      summary: 'The caller\'s own check: checking, queued (position, estimated wait), passed or failed (reason); anyone else gets 404',
      security: [{ bearer: [] }],
      params: LivenessParams,
      response: { 200: LivenessViewSchema, ...errorResponses(400, 401, 403, 404, 429, 503) }
    }
  }, async function (request) {
    const view = await fastify.liveness.get(request.principal?.subject as string, (request.params as { id: string }).id)
    // A failed check says what to do next, as an error would.
    if (view.status !== 'failed') return view
    const code = view.reason === 'expired' ? 'GW_ERR_LIVENESS_EXPIRED' : 'GW_ERR_LIVENESS_NOT_LIVE'
    return { ...view, code, message: ERRORS[code].messages[request.language] }
  })
}

export default liveness
