// The daily draw for ops: run it for a date (idempotent: a second run returns the first result),
// read its summary, and export its full record for `npm run audit:allocation`.
import Type from 'typebox'
import type { FastifyPluginAsync } from 'fastify'
import { errorResponses } from '../../schemas/error.js'
import { BeaconSchema as BEACON, DrawSummarySchema as Summary } from '../../schemas/allocation.js'
import { DateSchema } from '../../schemas/registration.js'

const DATE = DateSchema('pool date, YYYY-MM-DD')
const allocations: FastifyPluginAsync = async function (fastify) {
  fastify.post('/v1/ops/allocations', {
    config: { roles: ['ops'], idempotent: true },
    schema: {
      tags: ['ops'],
      summary: 'Run the draw for a pool date (a second run returns the first result); needs Idempotency-Key',
      security: [{ bearer: [] }],
      body: Type.Object({ date: DATE, beacon: Type.Optional(BEACON) }, { additionalProperties: false }),
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
      summary: 'The draw of a pool date at its stage: commitment from before the window opens, pool digest once sealed, revealed seed, digests and counts per port and rule once drawn',
      security: [{ bearer: [] }],
      params: Type.Object({ date: DATE }),
      response: { 200: Summary, ...errorResponses(400, 401, 403, 404) }
    }
  }, async function (request) {
    return fastify.allocations.summary((request.params as { date: string }).date)
  })

  fastify.put('/v1/ops/allocations/:date/beacon', {
    config: { roles: ['ops'] },
    schema: {
      tags: ['ops'],
      summary: 'Set the public beacon of a sealed pool date before its draw (once; the same value again is a no-op)',
      security: [{ bearer: [] }],
      params: Type.Object({ date: DATE }),
      body: Type.Object({ beacon: BEACON }, { additionalProperties: false }),
      response: { 200: Summary, ...errorResponses(400, 401, 403, 404, 409) }
    }
  }, async function (request) {
    const { date } = request.params as { date: string }
    const summary = await fastify.allocations.setBeacon(date, (request.body as { beacon: string }).beacon)
    request.log.info({ audit: 'allocation-beacon', by: request.principal?.subject, date }, 'beacon set')
    return summary
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
