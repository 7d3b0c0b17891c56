// The public face of the commit-reveal: anyone signed in can read a pool day's commitment before
// its window opens, its pool digest once sealed, and its revealed seed and counts after the draw,
// and so check the draw with `npm run audit:allocation`. Nothing in it is personal.
import Type from 'typebox'
import type { FastifyPluginAsync } from 'fastify'
import { DrawSummarySchema } from '../../schemas/allocation.js'
import { errorResponses } from '../../schemas/error.js'
import { DateSchema } from '../../schemas/registration.js'

const allocations: FastifyPluginAsync = async function (fastify) {
  fastify.get('/v1/allocations/:date', {
    config: { roles: ['applicant', 'partner', 'officer', 'ops'] },
    schema: {
      tags: ['allocations'],
      summary: 'The published draw of a pool date: commitment before the window opens, pool digest once sealed, seed and counts once drawn',
      security: [{ bearer: [] }],
      params: Type.Object({ date: DateSchema('pool date, YYYY-MM-DD') }),
      response: { 200: DrawSummarySchema, ...errorResponses(400, 401, 403, 404, 429, 503) }
    }
  }, async function (request) {
    return fastify.allocations.summary((request.params as { date: string }).date)
  })
}

export default allocations
