// A waiting room seen from outside: its state and commitment for anyone signed in, and a ticket
// for its own device (the fallback of clients that cannot hold a WebSocket; the rate limits
// apply, so polling it gains nothing over the push).
import Type from 'typebox'
import type { FastifyPluginAsync } from 'fastify'
import { GatewayError } from '../../errors.js'
import { errorResponses } from '../../schemas/error.js'
import { RoomNameSchema, RoomOverviewSchema, TicketIdSchema, TicketViewSchema } from '../../schemas/waiting-room.js'

const waitingRooms: FastifyPluginAsync = async function (fastify) {
  const roomOf = (name: string) => {
    const room = fastify.waitingRoom.room(name)
    if (room === undefined) throw new GatewayError('GW_ERR_WR_ROOM_NOT_FOUND')
    return room
  }

  fastify.get('/v1/waiting-rooms/:room', {
    config: { roles: ['applicant', 'partner', 'officer', 'ops'] },
    schema: {
      tags: ['waiting room'],
      summary: 'A waiting room\'s phase, opening, the commitment to its draw (the seed once open), and its counts',
      security: [{ bearer: [] }],
      params: Type.Object({ room: RoomNameSchema }),
      response: { 200: RoomOverviewSchema, ...errorResponses(400, 401, 403, 404, 429, 503) }
    }
  }, async function (request) {
    return fastify.waitingRoom.overview(roomOf((request.params as { room: string }).room))
  })

  fastify.get('/v1/waiting-rooms/:room/tickets/:ticket', {
    config: { roles: ['applicant'] },
    schema: {
      tags: ['waiting room'],
      summary: 'The caller\'s own ticket: its position and estimated wait, or its admission token',
      security: [{ bearer: [] }],
      params: Type.Object({ room: RoomNameSchema, ticket: TicketIdSchema }),
      response: { 200: TicketViewSchema, ...errorResponses(400, 401, 403, 404, 429, 503) }
    }
  }, async function (request) {
    const { room, ticket } = request.params as { room: string, ticket: string }
    roomOf(room)
    const view = await fastify.waitingRoom.ticket(ticket)
    // Another account's ticket reads as unknown: a ticket seen over a shoulder gives nothing away.
    if (view === undefined || view.room !== room || !await fastify.waitingRoom.owns(ticket, request.principal?.subject as string)) throw new GatewayError('GW_ERR_WR_TICKET_NOT_FOUND')
    return view
  })
}

export default waitingRooms
