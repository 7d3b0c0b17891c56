// The daily draw for ops: run it for a date (idempotent: a second run returns the first result),
// read its summary, and export its full record for `npm run audit:allocation`.
import Type from 'typebox'
import type { FastifyPluginAsync } from 'fastify'
import { errorResponses } from '../../schemas/error.js'
import { DateSchema } from '../../schemas/registration.js'

const DATE = DateSchema('pool date, YYYY-MM-DD')
const Summary = Type.Object({
  date: Type.String(),
  commitment: Type.String({ description: 'sha256 of the server seed, published before the pool opened' }),
  serverSeed: Type.String({ description: 'the seed, revealed after the draw' }),
  beacon: Type.Optional(Type.String()),
  poolDigest: Type.String(),
  assignmentsDigest: Type.String(),
  entries: Type.Integer(),
  counts: Type.Record(Type.String(), Type.Object({
    capacity: Type.Integer(),
    entries: Type.Integer(),
    oldest: Type.Object({ groups: Type.Integer(), people: Type.Integer() }),
    random: Type.Object({ groups: Type.Integer(), people: Type.Integer() })
  })),
  ranAt: Type.String()
})

const allocations: FastifyPluginAsync = async function (fastify) {
  fastify.post('/v1/ops/allocations', {
    config: { roles: ['ops'], idempotent: true },
    schema: {
      tags: ['ops'],
      summary: 'Run the draw for a pool date (a second run returns the first result); needs Idempotency-Key',
      security: [{ bearer: [] }],
      body: Type.Object({ date: DATE, beacon: Type.Optional(Type.String({ minLength: 1, maxLength: 256, pattern: '^[\\x21-\\x7E]+$' })) }, { additionalProperties: false }),
      response: { 200: Summary, ...errorResponses(400, 401, 403, 409, 422, 503) }
    }
  }, async function (request) {
    const { date, beacon } = request.body as { date: string, beacon?: string }
    const summary = await fastify.allocations.run(date, beacon)
    request.log.info({ audit: 'allocation-run', by: request.principal?.subject, date, entries: summary.entries }, 'draw run')
    return summary
  })

  fastify.get('/v1/ops/allocations/:date', {
    config: { roles: ['ops'] },
    schema: {
      tags: ['ops'],
      summary: 'The draw of a pool date: commitment, revealed seed, digests and counts per port and rule',
      security: [{ bearer: [] }],
      params: Type.Object({ date: DATE }),
      response: { 200: Summary, ...errorResponses(400, 401, 403, 404) }
    }
  }, async function (request) {
    return fastify.allocations.summary((request.params as { date: string }).date)
  })

  fastify.get('/v1/ops/allocations/:date/record', {
    config: { roles: ['ops'] },
    schema: {
      tags: ['ops'],
      summary: 'The full draw record (pool as keyed hashes and registration ids, slots, seed) for npm run audit:allocation',
      security: [{ bearer: [] }],
      params: Type.Object({ date: DATE }),
      response: { ...errorResponses(400, 401, 403, 404) }
    }
  }, async function (request) {
    return fastify.allocations.record((request.params as { date: string }).date)
  })
}

export default allocations
