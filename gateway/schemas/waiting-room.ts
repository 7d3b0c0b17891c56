// Waiting-room shapes: a room's public state, and a ticket as its holder sees it.
import Type from 'typebox'

export const RoomNameSchema = Type.String({ pattern: '^[a-z][a-z0-9-]{0,31}$', description: 'the room\'s name' })
export const TicketIdSchema = Type.String({ pattern: '^wrt_[A-Za-z0-9_-]{22}$', description: 'a waiting-room ticket' })

export const RoomOverviewSchema = Type.Object({
  room: Type.String(),
  phase: Type.Union([Type.Literal('idle'), Type.Literal('pre-open'), Type.Literal('open')], { description: 'idle: not in front of its routes; pre-open: arrivals join the opening draw; open: first come, first served after the draw' }),
  opensAt: Type.Union([Type.String(), Type.Null()], { description: 'the opening of this period (the next one when idle)' }),
  closesAt: Type.Union([Type.String(), Type.Null()], { description: 'when the room stops standing in front of its routes' }),
  commitment: Type.Union([Type.String(), Type.Null()], { description: 'SHA-256 (hex) of the seed that orders everyone who came before the opening; published from the first arrival' }),
  seed: Type.Union([Type.String(), Type.Null()], { description: 'the seed itself, once open: the draw order is HMAC-SHA256(seed, ticket), ascending' }),
  waiting: Type.Integer(),
  admitted: Type.Integer(),
  active: Type.Integer({ description: 'admissions still valid' }),
  admitPerSecond: Type.Number()
})

export const TicketViewSchema = Type.Object({
  status: Type.Union([Type.Literal('waiting'), Type.Literal('admitted')]),
  room: Type.String(),
  ticket: Type.String(),
  position: Type.Optional(Type.Integer({ description: 'place in line (1 is next); before the opening, how many are in the opening draw' })),
  estimatedWaitSeconds: Type.Optional(Type.Integer()),
  opensAt: Type.Optional(Type.String()),
  admitted: Type.Integer({ description: 'admitted so far in this period' }),
  admissionToken: Type.Optional(Type.String({ description: 'send as X-Admission-Token on the room\'s routes' })),
  admittedAt: Type.Optional(Type.String()),
  expiresAt: Type.Optional(Type.String())
})
