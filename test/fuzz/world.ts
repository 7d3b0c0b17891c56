// The state the route fuzzer asks about: registrations, appointment requests, a drawn and a
// sealed pool date, appointments with their confirmation numbers, liveness checks (one passed by
// the vendor simulator), a waiting-room ticket and dead letters in the outbox, all made through
// the app's own routes with the owners' tokens. Random ids never exist, so without these the
// fuzzer would stop at "not found" on every route that looks something up.
import { randomUUID } from 'node:crypto'
import type { FastifyInstance } from 'fastify'
import type { ManualClock } from '../../gateway/store/clock.js'
import { portraitJpeg, PORTRAITS } from '../fixtures/photos.js'
import { token } from '../helpers/tokens.js'
import type { KnownCase } from './arbitraries.js'

/** The schedule the world is built on: 23 November's pool sealed (not drawn), 24 November's drawn. */
export const SEALED_DATE = '2026-11-23'
export const DRAWN_DATE = '2026-11-24'
/**
 * Where the fuzz runs: after the draw of the 24th (its appointments not yet due for confirmation),
 * with the request window of the 25th open, inside the waiting room's active period.
 */
const FUZZ_TIME = Date.parse('2026-11-24T17:05:00Z')
export const BEACON = 'fuzz-beacon'
export const ROOM = 'fuzz'

/**
 * A waiting room standing while the fuzz runs, so its routes and page are live. It stands in front
 * of a route that partners, officers and ops share with applicants: only applicants queue, so the
 * other roles still reach the route's handler (in front of an applicants-only route such as
 * GET /v1/schedule, no case would reach its handler).
 */
export const WAITING_ROOMS = JSON.stringify([{
  name: ROOM,
  routes: ['GET /v1/allocations/:date'],
  openings: ['2026-11-24T16:00:00Z'],
  preOpenMinutes: 15,
  activeMinutes: 600,
  admitPerSecond: 5,
  maxActive: 1000
}])

const inside = { latitude: 31.3, longitude: -110.9, accuracyMeters: 10 }
const member = (first: string, dateOfBirth = '1980-01-01') => ({ firstName: first, lastName: 'Fuzzer', dateOfBirth, nationality: 'VEN', usAddress: { line1: '1 A St', city: 'Miami', state: 'FL', zip: '33101' } })
const letters = (n: number) => n.toString(26).split('').map((d) => String.fromCharCode(97 + parseInt(d, 26))).join('')

/** Known cases by route ("METHOD /url" as onRoute gives it; HEAD twins share their GET's). */
export type Known = Map<string, KnownCase[]>

function expectStatus (res: { statusCode: number, body: string }, status: number, what: string): void {
  if (res.statusCode !== status) throw new Error(`building the fuzz world: ${what} answered ${res.statusCode}, not ${status}: ${res.body.slice(0, 300)}`)
}

async function waitFor (what: () => Promise<boolean>, ms: number, label: string): Promise<void> {
  const until = Date.now() + ms
  while (Date.now() < until) {
    if (await what()) return
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  throw new Error(`building the fuzz world: ${label} not within ${ms} ms`)
}

/**
 * Builds the world in `app` (its clock set to before the sealed date's window closes) and leaves
 * the clock at FUZZ_TIME. The app needs the liveness vendor simulator (passing every photo) and a
 * backend that refuses every event with a 4xx, so the outbox holds dead letters.
 */
export async function buildWorld (app: FastifyInstance, clock: ManualClock): Promise<Known> {
  const known: Known = new Map()
  const add = (route: string, ...cases: KnownCase[]) => { known.set(route, [...(known.get(route) ?? []), ...cases]) }
  const who = (subject: string) => ({ authorization: `Bearer ${token({ sub: subject })}`, 'x-device-id': randomUUID() })
  const ops = { authorization: `Bearer ${token({ role: 'ops', sub: 'fuzz-ops' })}` }
  const once = () => ({ 'idempotency-key': randomUUID() })
  let people = 0
  const register = async (subject: string, members = 1): Promise<string> => {
    const res = await app.inject({ method: 'POST', url: '/v1/registrations', headers: { ...who(subject), ...once() }, payload: { members: Array.from({ length: members }, () => member(`World${letters(people++)}`)), preferredLanguage: 'es' } })
    expectStatus(res, 201, 'a registration')
    return res.json().registrationId as string
  }
  const request = async (subject: string, registrationId: string): Promise<string> => {
    const res = await app.inject({ method: 'POST', url: '/v1/appointment-requests', headers: { ...who(subject), ...once() }, payload: { registrationId, poe: 'nogales', location: inside } })
    expectStatus(res, 202, 'an appointment request')
    return res.json().requestId as string
  }

  // 22 November: one request in the pool of the 23rd, which is then sealed with a beacon and never drawn.
  clock.set(Date.parse('2026-11-22T18:00:00Z'))
  await request('fuzz-x', await register('fuzz-x'))
  clock.set(Date.parse('2026-11-23T16:01:00Z'))
  // Sealing is a step of the draw schedule, not a route: called as the schedule's tick would.
  await app.allocations.seal(SEALED_DATE)
  expectStatus(await app.inject({ method: 'PUT', url: `/v1/ops/allocations/${SEALED_DATE}/beacon`, headers: ops, payload: { beacon: BEACON } }), 200, 'the beacon')

  // 23 November: the pool of the 24th, then its draw; a owns the appointment to confirm, b the one to extend.
  clock.set(Date.parse('2026-11-23T18:00:00Z'))
  const regA = await register('fuzz-a')
  const regB = await register('fuzz-b')
  const reqA = await request('fuzz-a', regA)
  const reqB = await request('fuzz-b', regB)
  // c's two members for photo uploads; d's registrations for withdrawal; e's for new requests.
  const regC = await register('fuzz-c', 2)
  const regsD = await Promise.all([1, 2, 3, 4].map(async () => register('fuzz-d')))
  const regsE = await Promise.all([1, 2, 3].map(async () => register('fuzz-e')))
  clock.set(Date.parse('2026-11-24T16:01:00Z'))
  expectStatus(await app.inject({ method: 'POST', url: '/v1/ops/allocations', headers: { ...ops, ...once() }, payload: { date: DRAWN_DATE } }), 200, 'the draw')
  const numberOf = async (subject: string, requestId: string): Promise<string> => {
    const view = (await app.inject({ url: `/v1/appointment-requests/${requestId}`, headers: who(subject) })).json() as { status: string, appointment?: { confirmationNumber: string } }
    if (view.appointment === undefined) throw new Error(`building the fuzz world: request not selected (${view.status})`)
    return view.appointment.confirmationNumber
  }
  const numA = await numberOf('fuzz-a', reqA)
  const numB = await numberOf('fuzz-b', reqB)

  // After the draw: a's selfie, passed by the vendor simulator, for the confirmation.
  clock.set(FUZZ_TIME)
  const photo = (await portraitJpeg({ ...PORTRAITS['medium-well-lit'], width: 640, height: 640 })).toString('base64')
  const upload = await app.inject({ method: 'POST', url: '/v1/liveness', headers: { ...who('fuzz-a'), ...once() }, payload: { registrationId: regA, memberIndex: 0, photo } })
  expectStatus(upload, 202, 'a liveness upload')
  const livA = upload.json().livenessId as string
  await waitFor(async () => (await app.inject({ url: `/v1/liveness/${livA}`, headers: who('fuzz-a') })).json().status === 'passed', 20_000, 'the vendor\'s verdict')

  // A ticket of the waiting room, a's own.
  const waiting = (await app.inject({ url: `/v1/allocations/${DRAWN_DATE}`, headers: who('fuzz-a') })).json() as { status?: string, ticket?: string }
  if (waiting.ticket === undefined) throw new Error(`building the fuzz world: no waiting-room ticket (${JSON.stringify(waiting)})`)
  const ticket = waiting.ticket

  // Every event so far went to a backend that refuses it: the outbox's dead letters.
  let deadLetters: string[] = []
  await waitFor(async () => {
    deadLetters = ((await app.inject({ url: '/v1/ops/outbox', headers: ops })).json() as { deadLetterSample: Array<{ id: string }> }).deadLetterSample.map((d) => d.id)
    return deadLetters.length >= 10
  }, 10_000, 'dead letters')

  add('GET /v1/registrations/:id', { subject: 'fuzz-a', params: { id: regA } }, { subject: 'fuzz-b', params: { id: regB } }, { subject: 'fuzz-c', params: { id: regC } })
  add('POST /v1/registrations/:id/watch', { subject: 'fuzz-a', params: { id: regA } }, { subject: 'fuzz-c', params: { id: regC } })
  add('DELETE /v1/registrations/:id', ...regsD.map((id) => ({ subject: 'fuzz-d', params: { id } })))
  // New people each (an identity registers once), so a known registration can succeed many times.
  add('POST /v1/registrations', ...Array.from({ length: 40 }, (_, i) => ({ subject: `fuzz-n${i % 4}`, body: { members: [member(`Known${letters(i)}`, `19${50 + i}-02-03`)], preferredLanguage: 'en' } })))
  add('POST /v1/appointment-requests', ...regsE.map((registrationId) => ({ subject: 'fuzz-e', body: { registrationId, poe: 'nogales', location: inside } })))
  add('GET /v1/appointment-requests/:id', { subject: 'fuzz-a', params: { id: reqA } }, { subject: 'fuzz-b', params: { id: reqB } })
  add('POST /v1/appointments/:confirmationNumber/confirm', { subject: 'fuzz-a', params: { confirmationNumber: numA }, body: { livenessId: livA, location: inside } })
  add('POST /v1/appointments/:confirmationNumber/extend', { subject: 'fuzz-b', params: { confirmationNumber: numB } })
  add('POST /v1/partner/validations', { subject: 'fuzz-partner', body: { confirmationNumber: numA, dateOfBirth: '1980-01-01' } }, { subject: 'fuzz-partner', body: { confirmationNumber: numB, dateOfBirth: '1980-01-01' } })
  add('POST /v1/liveness', { subject: 'fuzz-c', body: { registrationId: regC, memberIndex: 0, photo } }, { subject: 'fuzz-c', body: { registrationId: regC, memberIndex: 1, photo } })
  add('GET /v1/liveness/:id', { subject: 'fuzz-a', params: { id: livA } })
  // As a partner or an officer (past the waiting room) and as the applicant (in it).
  add('GET /v1/allocations/:date', ...[SEALED_DATE, DRAWN_DATE].flatMap((date) => ['partner', 'officer', 'applicant'].map((role) => ({ subject: `fuzz-${role}`, role, params: { date } }))))
  add('POST /v1/ops/allocations', { subject: 'fuzz-ops', body: { date: DRAWN_DATE } })
  add('GET /v1/ops/allocations/:date', ...[SEALED_DATE, DRAWN_DATE].map((date) => ({ subject: 'fuzz-ops', params: { date } })))
  add('PUT /v1/ops/allocations/:date/beacon', { subject: 'fuzz-ops', params: { date: SEALED_DATE }, body: { beacon: BEACON } })
  add('GET /v1/ops/allocations/:date/record', { subject: 'fuzz-ops', params: { date: DRAWN_DATE } })
  add('POST /v1/ops/outbox/dead-letters/:id/retry', ...deadLetters.map((id) => ({ subject: 'fuzz-ops', params: { id } })))
  // The identity of x, the sealed pool's only applicant (the first person registered): no route fuzzed after needs it.
  add('POST /v1/ops/identities/release', { subject: 'fuzz-officer', body: { firstName: `World${letters(0)}`, lastName: 'Fuzzer', dateOfBirth: '1980-01-01' } })
  add('GET /v1/waiting-rooms/:room', { subject: 'fuzz-a', params: { room: ROOM } })
  add('GET /v1/waiting-rooms/:room/tickets/:ticket', { subject: 'fuzz-a', params: { room: ROOM, ticket } })
  add('GET /waiting-room', { subject: 'fuzz-a', query: { room: ROOM, ticket } })
  for (const [route, cases] of [...known]) if (route.startsWith('GET ')) known.set(`HEAD ${route.slice(4)}`, cases)
  return known
}
