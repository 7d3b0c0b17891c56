import Type from 'typebox'

export const ScheduleSchema = Type.Object({
  now: Type.String({ description: 'server time in the schedule time zone (ISO 8601), to the second' }),
  timezone: Type.String(),
  requestWindow: Type.Object({
    open: Type.Boolean({ description: 'appointment requests are accepted now' }),
    opensAt: Type.String({ description: 'local opening time, HH:MM' }),
    closesAt: Type.String({ description: 'local closing time, HH:MM (the next day when earlier than opensAt)' }),
    nextChangeAt: Type.String({ description: 'when the window next opens (if closed) or closes (if open), ISO 8601' })
  }),
  nextAllocationAt: Type.String({ description: 'when the next draw runs, ISO 8601' }),
  poolDate: Type.String({ description: 'local date of the draw a request made now joins, YYYY-MM-DD' }),
  poes: Type.Array(Type.Object({
    slug: Type.String(),
    name: Type.String(),
    state: Type.String(),
    dailyCapacity: Type.Integer({ description: 'appointments (people) per day' })
  }))
}, { $id: 'Schedule' })
