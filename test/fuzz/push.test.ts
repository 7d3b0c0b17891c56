// The waiting room's WebSocket push server (uWebSockets.js) under fuzzing, over real loopback
// sockets: upgrade paths and query strings, Accept-Language, then frames of every kind (subscribes
// with valid, foreign and hostile tickets, wrong types, prototype keys, deep nesting, oversized,
// binary, invalid UTF-8, several in a row). Each connection must end with a protocol close, never
// 1011 (server error); every error message carries a catalogued 4xx code; an upgrade refused is
// never a 5xx; prototypes stay untouched; and the server still welcomes a valid ticket afterwards.
import { randomUUID } from 'node:crypto'
import fc from 'fast-check'
import type { FastifyInstance } from 'fastify'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import WebSocket from 'ws'
import { ERRORS } from '../../gateway/errors.js'
import { buildApp, testConfig } from '../helpers/app.js'
import { applicant } from '../helpers/tokens.js'
import { encode, evilString, nested } from './arbitraries.js'

const SEED = process.env.FUZZ_SEED === undefined ? Date.now() ^ (Math.random() * 0x7fffffff) : Number(process.env.FUZZ_SEED)
const CASES = 400
const PATH = '/v1/waiting-room/ws'
const objectPrototype = Object.getOwnPropertyNames(Object.prototype).sort().join()

interface Frame { data: string | Buffer, binary: boolean }
interface Outcome { upgradeStatus?: number, closeCode?: number, messages: Array<Record<string, unknown>> }

/** Opens one connection, sends the frames, and reports how it ended (within 2 s). */
async function connect (url: string, headers: Record<string, string>, frames: Frame[]): Promise<Outcome> {
  const outcome: Outcome = { messages: [] }
  const ws = new WebSocket(url, { headers, maxPayload: 1024 * 1024 })
  return await new Promise<Outcome>((resolve) => {
    let done = false
    const finish = (): void => {
      if (done) return
      done = true
      clearTimeout(timer)
      ws.terminate()
      resolve(outcome)
    }
    // Cases that leave the socket open (no frame, a welcomed subscribe) end here, client side.
    const timer = setTimeout(finish, frames.length === 0 ? 100 : 2_000)
    ws.on('unexpected-response', (_req, res) => { outcome.upgradeStatus = res.statusCode; res.resume(); finish() })
    ws.on('error', () => { finish() })
    ws.on('message', (data) => {
      try {
        const message = JSON.parse(String(data)) as Record<string, unknown>
        outcome.messages.push(message)
        if (message.type === 'welcome') finish()
      } catch {
        outcome.messages.push({ type: 'not-json' })
      }
    })
    ws.on('close', (code) => { outcome.closeCode = code; finish() })
    ws.on('open', () => {
      for (const frame of frames) ws.send(frame.data, { binary: frame.binary })
    })
  })
}

describe(`the push server under fuzzing (seed ${SEED})`, () => {
  let app: FastifyInstance
  let port: number
  let validTicket: string

  beforeAll(async () => {
    app = await buildApp({
      config: testConfig({
        GATEWAY_RATE_LIMIT_RULES: '[]',
        GATEWAY_WAITING_ROOMS: JSON.stringify([{ name: 'requests', routes: ['GET /v1/schedule'], openings: [new Date(Date.now() - 60_000).toISOString()], preOpenMinutes: 0, activeMinutes: 30, admitPerSecond: 1, maxActive: 1000 }])
      })
    })
    port = app.pushPort as number
    const waiting = (await app.inject({ url: '/v1/schedule', headers: applicant(randomUUID(), { sub: randomUUID() }) })).json() as { ticket: string }
    validTicket = waiting.ticket
  })
  afterAll(async () => { await app.close() })

  it(`ends ${CASES} hostile connections with a protocol close, never a server error`, async () => {
    const ticket = fc.oneof(
      { weight: 3, arbitrary: fc.constant(null).map(() => validTicket) },
      { weight: 2, arbitrary: fc.stringMatching(/^[A-Za-z0-9_-]{8,128}$/) },
      { weight: 2, arbitrary: evilString },
      { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 2 }) }
    )
    const json = fc.oneof(
      ticket.map((t) => JSON.stringify({ type: 'subscribe', ticket: t })),
      fc.tuple(evilString, ticket).map(([type, t]) => JSON.stringify({ type, ticket: t })),
      fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify(v)),
      fc.constantFrom(
        '{"type":"subscribe","ticket":"abcdefgh","__proto__":{"polluted":1}}',
        '{"__proto__":{"type":"subscribe"}}',
        '{"type":"subscribe","constructor":{"prototype":{"polluted":1}},"ticket":"abcdefgh"}',
        '{"type":"subscribe","ticket":"abcdefgh","type":"other"}',
        '', ' ', 'null', '{', '"subscribe"', '[]', '{"type":"subscribe"}'
      ),
      fc.constantFrom(100, 1_000, 10_000).map((d) => nested(d, 'mixed')),
      fc.constantFrom(1_023, 1_025, 4_095, 4_097, 65_536).map((n) => JSON.stringify({ type: 'subscribe', ticket: 'a'.repeat(n) }))
    )
    const frame: fc.Arbitrary<Frame> = fc.oneof(
      { weight: 6, arbitrary: json.map((data) => ({ data, binary: false })) },
      { weight: 1, arbitrary: json.map((data) => ({ data: Buffer.from(data), binary: true })) },
      // Text frames that are not UTF-8.
      { weight: 1, arbitrary: fc.uint8Array({ minLength: 1, maxLength: 64 }).map((bytes) => ({ data: Buffer.concat([Buffer.from('{"type":"subscribe","ticket":"'), Buffer.from(bytes), Buffer.from([0xff, 0xfe]), Buffer.from('"}')]), binary: false })) }
    )
    const request = fc.record({
      path: fc.oneof({ weight: 8, arbitrary: fc.constant(PATH) }, { weight: 1, arbitrary: fc.constantFrom('/', '/v1/waiting-room', `${PATH}/`, '/V1/WAITING-ROOM/WS', `${PATH}%00`, `/${'a'.repeat(5000)}`) }),
      query: fc.oneof(fc.constant(''), fc.array(fc.tuple(evilString.map(encode), evilString.map(encode)), { maxLength: 4 }).map((pairs) => `?${pairs.map(([k, v]) => `${k}=${v}`).join('&')}`), fc.constantFrom('?%', '?ticket=%ZZ', `?ticket=${'a'.repeat(10_000)}`)),
      language: fc.option(fc.oneof(fc.constantFrom('ht', 'ru', 'es-MX,es;q=0.9', '*', ';q=x', 'x'.repeat(8_000)), evilString.map((s) => s.replace(/[^\x20-\x7e]/g, ''))), { nil: undefined }),
      frames: fc.array(frame, { maxLength: 3 })
    })

    const codes = new Map<string, number>()
    let cases = 0
    let failure: string | undefined
    const details = await fc.check(fc.asyncProperty(request, async ({ path, query, language, frames }) => {
      const outcome = await connect(`ws://127.0.0.1:${port}${path}${query}`, language === undefined ? {} : { 'accept-language': language }, frames)
      cases++
      const key = outcome.upgradeStatus !== undefined ? `http ${outcome.upgradeStatus}` : `close ${outcome.closeCode ?? 'open'}`
      codes.set(key, (codes.get(key) ?? 0) + 1)
      const problem = outcome.upgradeStatus !== undefined && outcome.upgradeStatus >= 500
        ? `upgrade answered ${outcome.upgradeStatus}`
        : outcome.closeCode === 1011
          ? `closed 1011 (server error) after ${JSON.stringify(outcome.messages).slice(0, 300)}`
          : outcome.messages.find((m) => m.type === 'error' && (typeof m.code !== 'string' || !(m.code in ERRORS) || ERRORS[m.code as keyof typeof ERRORS].status >= 500))
      if (problem !== undefined) {
        failure = `${path.slice(0, 80)}${query.slice(0, 80)} frames ${frames.map((f) => `${f.binary ? 'binary' : 'text'}:${f.data.length}`).join(',')}: ${typeof problem === 'string' ? problem : JSON.stringify(problem)}`
        return false
      }
      return Object.getOwnPropertyNames(Object.prototype).sort().join() === objectPrototype && (({}) as Record<string, unknown>).polluted === undefined
    }), { numRuns: CASES, seed: SEED, endOnFailure: true })
    if (details.failed) throw new Error(`push fuzz failed after ${details.numRuns} cases (seed ${details.seed}, path ${details.counterexamplePath ?? ''}): ${failure ?? String(details.errorInstance)}`)
    console.log(`push fuzz (seed ${SEED}): ${cases} connections; ${JSON.stringify(Object.fromEntries(codes))}`)
    expect(cases).toBe(CASES)
    // Hostile frames were answered by the protocol (1008), not only cut.
    expect(codes.get('close 1008') ?? 0).toBeGreaterThan(CASES / 10)

    // Still serving: a valid ticket is welcomed.
    const after = await connect(`ws://127.0.0.1:${port}${PATH}`, {}, [{ data: JSON.stringify({ type: 'subscribe', ticket: validTicket }), binary: false }])
    expect(after.messages[0]).toMatchObject({ type: 'welcome', ticket: validTicket })
    expect((await app.inject('/healthz')).statusCode).toBe(200)
  }, 240_000)
})
