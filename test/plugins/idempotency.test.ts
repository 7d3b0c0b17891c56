import Type from 'typebox'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { FastifyInstance } from 'fastify'
import { ERRORS } from '../../gateway/errors.js'
import { buildApp, redisStores, testConfig } from '../helpers/app.js'
import { applicant } from '../helpers/tokens.js'

describe('Idempotency-Key on writes (real Redis)', () => {
  let gateway: FastifyInstance
  let writes = 0
  let failNext = false

  beforeAll(async () => {
    gateway = await buildApp({
      config: testConfig({ GATEWAY_RATE_LIMIT_RULES: '[]' }),
      stores: await redisStores(),
      routes: (f) => {
        f.post('/v1/test/things', {
          config: { roles: ['applicant'], idempotent: true },
          schema: { body: Type.Object({ name: Type.String({ maxLength: 20 }) }, { additionalProperties: false }) }
        }, async (request, reply) => {
          await new Promise((resolve) => setTimeout(resolve, 20))
          if (failNext) {
            failNext = false
            throw new Error('backend hiccup')
          }
          writes += 1
          return reply.code(201).send({ id: `thing-${writes}`, name: (request.body as { name: string }).name })
        })
      }
    })
  })
  afterAll(async () => { await gateway.close() })

  const post = (headers: Record<string, string>, body: unknown) => gateway.inject({ method: 'POST', url: '/v1/test/things', headers, payload: body as object })

  it('replays the first answer to a retry and writes once', async () => {
    const headers = { ...applicant(undefined, { sub: 'replay' }), 'idempotency-key': 'k-1' }
    const before = writes
    const first = await post(headers, { name: 'a' })
    const second = await post(headers, { name: 'a' })
    expect(first.statusCode).toBe(201)
    expect(second.statusCode).toBe(201)
    expect(second.body).toBe(first.body)
    expect(second.headers['idempotent-replayed']).toBe('true')
    expect(first.headers['idempotent-replayed']).toBeUndefined()
    expect(writes - before).toBe(1)
  })

  it('answers the same key with another body with 422, and changes nothing', async () => {
    const headers = { ...applicant(undefined, { sub: 'reuse' }), 'idempotency-key': 'k-2', 'accept-language': 'es' }
    await post(headers, { name: 'a' })
    const before = writes
    const reused = await post(headers, { name: 'b' })
    expect(reused.statusCode).toBe(422)
    expect(reused.json()).toEqual({ code: 'GW_ERR_IDEMPOTENCY_KEY_REUSED', message: ERRORS.GW_ERR_IDEMPOTENCY_KEY_REUSED.messages.es })
    expect(writes).toBe(before)
  })

  it('keeps keys apart per subject', async () => {
    const before = writes
    await post({ ...applicant(undefined, { sub: 'alice' }), 'idempotency-key': 'same' }, { name: 'a' })
    await post({ ...applicant(undefined, { sub: 'bob' }), 'idempotency-key': 'same' }, { name: 'a' })
    expect(writes - before).toBe(2)
  })

  it('lets exactly one of 20 concurrent retries write; the others wait (409) or replay', async () => {
    const headers = { ...applicant(undefined, { sub: 'storm' }), 'idempotency-key': 'k-storm' }
    const before = writes
    const answers = await Promise.all(Array.from({ length: 20 }, () => post(headers, { name: 'a' })))
    expect(writes - before).toBe(1)
    // The write takes 20 ms, so every retry arrives while the first attempt holds the key.
    expect(answers.map((a) => a.statusCode).sort()).toEqual([201, ...Array<number>(19).fill(409)])
    const waiting = answers.find((a) => a.statusCode === 409)
    expect(waiting?.headers['retry-after']).toBe('1')
    expect(waiting?.json().code).toBe('GW_ERR_IDEMPOTENCY_IN_PROGRESS')
    const later = await post(headers, { name: 'a' })
    expect(later.statusCode).toBe(201)
    expect(later.headers['idempotent-replayed']).toBe('true')
  })

  it('frees the key after a failure, so the retry does the work', async () => {
    const headers = { ...applicant(undefined, { sub: 'failure' }), 'idempotency-key': 'k-fail' }
    failNext = true
    expect((await post(headers, { name: 'a' })).statusCode).toBe(500)
    const before = writes
    const retry = await post(headers, { name: 'a' })
    expect(retry.statusCode).toBe(201)
    expect(writes - before).toBe(1)
  })

  it.each([
    ['missing', undefined],
    ['empty', ''],
    ['too long', 'x'.repeat(256)],
    ['with a space', 'two words'],
    ['with non-ASCII', 'clé']
  ])('refuses a key that is %s with 400', async (_name, key) => {
    const headers: Record<string, string> = applicant(undefined, { sub: 'keys' })
    if (key !== undefined) headers['idempotency-key'] = key
    const res = await post(headers, { name: 'a' })
    expect(res.statusCode).toBe(400)
    expect(res.json()).toEqual({ code: 'GW_ERR_IDEMPOTENCY_KEY_INVALID', message: ERRORS.GW_ERR_IDEMPOTENCY_KEY_INVALID.messages.en, fields: ['/headers/idempotency-key'] })
  })
})
