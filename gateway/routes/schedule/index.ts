// GET /v1/schedule: what every phone asks at 9 a.m. Cheap by design (recomputed once a second,
// serialized by a compiled schema), and the route the edge benchmark measures.
import type { FastifyPluginAsync } from 'fastify'
import { scheduleViewer } from '../../domain/schedule.js'
import { ScheduleSchema } from '../../schemas/schedule.js'

const schedule: FastifyPluginAsync = async function (fastify) {
  const { schedule: rules, poes } = fastify.config
  const view = scheduleViewer(rules, poes.map(({ slug, name, state, dailyCapacity }) => ({ slug, name, state, dailyCapacity })), () => fastify.clock.now())

  fastify.get('/v1/schedule', {
    config: { roles: ['applicant'] },
    schema: {
      tags: ['schedule'],
      summary: 'Whether the request window is open, when the next draw runs, and each port of entry\'s capacity',
      security: [{ bearer: [] }],
      response: { 200: ScheduleSchema }
    }
  }, async function () {
    return view()
  })
}

export default schedule
