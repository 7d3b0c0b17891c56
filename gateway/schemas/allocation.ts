// The daily draw as the API shows it (gateway/domain/allocations.ts).
import Type from 'typebox'

export const BeaconSchema = Type.String({ minLength: 1, maxLength: 256, pattern: '^[\\x21-\\x7E]+$', description: 'a public random value published after the pool was sealed (printable ASCII, no spaces)' })
/** A draw at its stage; nothing personal at any stage, so every role may read it. */
export const DrawSummarySchema = Type.Object({
  date: Type.String(),
  status: Type.Enum(['committed', 'sealed', 'drawn'], { description: 'committed: seed drawn, hash published; sealed: pool fixed and digested; drawn: results written, seed revealed' }),
  commitment: Type.String({ description: 'sha256 of the server seed, published before the window opened' }),
  opensAt: Type.String({ description: 'when the pool day\'s request window opened' }),
  closesAt: Type.String(),
  drawAt: Type.String({ description: 'when the draw is scheduled' }),
  poolDigest: Type.Optional(Type.String({ description: 'sha256 of the sealed pool in canonical order' })),
  entries: Type.Optional(Type.Integer()),
  sealedAt: Type.Optional(Type.String()),
  beacon: Type.Optional(Type.String()),
  serverSeed: Type.Optional(Type.String({ description: 'the seed, revealed after the draw' })),
  assignmentsDigest: Type.Optional(Type.String()),
  counts: Type.Optional(Type.Record(Type.String(), Type.Object({
    capacity: Type.Integer(),
    entries: Type.Integer(),
    oldest: Type.Object({ groups: Type.Integer(), people: Type.Integer() }),
    random: Type.Object({ groups: Type.Integer(), people: Type.Integer() })
  }))),
  fairness: Type.Optional(Type.Object({
    at: Type.String({ description: 'the instant registration ages are measured at: the draw\'s scheduled time' }),
    entrants: Type.Integer(),
    winners: Type.Integer(),
    rows: Type.Array(Type.Object({
      dimension: Type.Enum(['language', 'nationality', 'age', 'group_size']),
      value: Type.String(),
      entrants: Type.Integer({ description: 'registrations in the draw with this value' }),
      winners: Type.Integer({ description: 'of them, given a place' }),
      selectionRate: Type.Number()
    }))
  }, { description: 'entrants and winners by preferred language, nationality of the first member, registration age and group size: counts of registrations, nothing about a person' })),
  ranAt: Type.Optional(Type.String())
})
