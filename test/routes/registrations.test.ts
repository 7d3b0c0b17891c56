import { randomUUID } from 'node:crypto'
import { afterEach, describe, expect, it } from 'vitest'
import type { FastifyInstance } from 'fastify'
import { poolKey, requestKey } from '../../gateway/domain/appointment-requests.js'
import { attemptKey } from '../../gateway/domain/attempts.js'
import { registrationKey } from '../../gateway/domain/registrations.js'
import { ERRORS } from '../../gateway/errors.js'
import { ManualClock } from '../../gateway/store/clock.js'
import { storeKey } from '../../gateway/store/keys.js'
import { createMemoryStores } from '../../gateway/store/memory/index.js'
import type { Stores } from '../../gateway/store/ports.js'
import { buildApp, redisStores, testConfig } from '../helpers/app.js'
import { applicant, token } from '../helpers/tokens.js'

// 13:00 in New York on Monday 23 November 2026: the window is open, the pool is Tuesday's.
const MONDAY_1PM_ET = Date.parse('2026-11-23T18:00:00Z')

function member (firstName: string, lastName: string, dateOfBirth: string) {
  return { firstName, lastName, dateOfBirth, nationality: 'HTI', usAddress: { line1: '12 Elm St', city: 'Miami', state: 'FL', zip: '33101' } }
}

function family (seed: string) {
  return { members: [member(`Ana ${seed}`, 'Joseph', '1990-01-02'), member(`Luc ${seed}`, 'Joseph', '2015-06-07')], preferredLanguage: 'ht' }
}

interface Person { sub: string, device: string }
const person = (): Person => ({ sub: `s-${randomUUID()}`, device: randomUUID() })
const headersOf = (p: Person, extra: Record<string, string> = {}) => ({ ...applicant(p.device, { sub: p.sub }), 'idempotency-key': randomUUID(), ...extra })
const location = { latitude: 25.87, longitude: -97.5, accuracyMeters: 20 }

for (const adapter of ['memory', 'redis'] as const) {
  describe(`registrations and appointment requests (${adapter})`, () => {
    let gateway: FastifyInstance
    let stores: Stores
    let clock: ManualClock

    async function start (env: Record<string, string> = {}) {
      clock = new ManualClock(MONDAY_1PM_ET)
      stores = adapter === 'memory' ? createMemoryStores({ clock }) : await redisStores({ clock })
      gateway = await buildApp({ clock, stores, config: testConfig({ GATEWAY_RATE_LIMIT_RULES: '[]', ...env }) })
    }
    afterEach(async () => { await gateway.close() })

    const register = (p: Person, body: unknown = family(randomUUID()), extra: Record<string, string> = {}) =>
      gateway.inject({ method: 'POST', url: '/v1/registrations', headers: headersOf(p, extra), payload: body as object })
    const ask = (p: Person, registrationId: string, extra: Record<string, unknown> = {}, headers: Record<string, string> = {}) =>
      gateway.inject({ method: 'POST', url: '/v1/appointment-requests', headers: headersOf(p, headers), payload: { registrationId, poe: 'brownsville', location, ...extra } })

    it('registers a group and shows it to its owner only', async () => {
      await start()
      const owner = person()
      const created = await register(owner, family('a'))
      expect(created.statusCode).toBe(201)
      const body = created.json()
      expect(body.registrationId).toMatch(/^reg_[A-Za-z0-9_-]{22}$/)
      expect(body.createdAt).toBe('2026-11-23T18:00:00.000Z')
      expect(body.members).toEqual(family('a').members)

      const mine = await gateway.inject({ url: `/v1/registrations/${body.registrationId}`, headers: applicant(owner.device, { sub: owner.sub }) })
      expect(mine.statusCode).toBe(200)
      expect(mine.json()).toEqual(body)
    })

    it('answers 404, never 403, to anyone but the owner, on every route', async () => {
      await start()
      const owner = person()
      const stranger = person()
      const { registrationId } = (await register(owner)).json()
      const { requestId } = (await ask(owner, registrationId)).json()
      const answers = [
        await gateway.inject({ url: `/v1/registrations/${registrationId}`, headers: applicant(stranger.device, { sub: stranger.sub }) }),
        await gateway.inject({ method: 'DELETE', url: `/v1/registrations/${registrationId}`, headers: headersOf(stranger) }),
        await ask(stranger, registrationId),
        await gateway.inject({ url: `/v1/appointment-requests/${requestId}`, headers: applicant(stranger.device, { sub: stranger.sub }) })
      ]
      expect(answers.map((a) => a.statusCode)).toEqual([404, 404, 404, 404])
      expect(answers.map((a) => a.json().code)).toEqual(['GW_ERR_REG_NOT_FOUND', 'GW_ERR_REG_NOT_FOUND', 'GW_ERR_REG_NOT_FOUND', 'GW_ERR_REQ_NOT_FOUND'])
      // The owner still sees both.
      expect((await gateway.inject({ url: `/v1/appointment-requests/${requestId}`, headers: applicant(owner.device, { sub: owner.sub }) })).json()).toEqual({
        requestId, registrationId, poe: 'brownsville', poolDate: '2026-11-24', status: 'pooled'
      })
    })

    it('refuses a 4th registration from one device within 24 h, saying when to come back', async () => {
      await start()
      const device = randomUUID()
      const statuses: number[] = []
      let last
      for (let i = 0; i < 4; i++) {
        last = await register({ sub: `s-${i}-${randomUUID()}`, device })
        statuses.push(last.statusCode)
        clock.advance(60_000)
      }
      expect(statuses).toEqual([201, 201, 201, 429])
      expect(last?.json()).toMatchObject({ code: 'GW_ERR_REG_DEVICE_LIMIT', retryAfterSeconds: 24 * 3600 - 180 })
      expect(last?.headers['retry-after']).toBe(String(24 * 3600 - 180))
    })

    it('refuses two registrations 5 s apart from one device as a suspected bot', async () => {
      await start()
      const device = randomUUID()
      expect((await register({ sub: 'bot-1', device })).statusCode).toBe(201)
      clock.advance(5_000)
      const second = await register({ sub: 'bot-2', device }, family('b'), { 'accept-language': 'ru' })
      expect(second.statusCode).toBe(429)
      expect(second.json()).toEqual({ code: 'GW_ERR_REG_VELOCITY', message: ERRORS.GW_ERR_REG_VELOCITY.messages.ru, retryAfterSeconds: 25 })
      expect((await gateway.inject('/metrics')).body).toMatch(/^gateway_fraud_flags_total\{reason="velocity"\} 1$/m)
    })

    it('flags a device id used by many accounts', async () => {
      await start({ GATEWAY_REGISTRATION_DEVICE_SUBJECTS_FLAG: '3', GATEWAY_REGISTRATION_PER_DEVICE_MAX: '10' })
      const device = randomUUID()
      for (let i = 0; i < 3; i++) {
        await register({ sub: `many-${i}`, device })
        clock.advance(60_000)
      }
      expect((await gateway.inject('/metrics')).body).toMatch(/^gateway_fraud_flags_total\{reason="device_many_subjects"\} 1$/m)
    })

    it('keeps an active registration alive: a request restarts its inactivity clock', async () => {
      await start({ GATEWAY_REGISTRATION_TTL_DAYS: '1' })
      const owner = person()
      const { registrationId } = (await register(owner, { members: [member('Idle', 'Person', '1999-09-09')], preferredLanguage: 'en' })).json()
      const day = 24 * 3600_000
      if (adapter === 'memory') {
        clock.advance(day - 60_000)
        expect((await ask(owner, registrationId)).statusCode).toBe(202)
        clock.advance(day - 60_000)
        expect((await gateway.inject({ url: `/v1/registrations/${registrationId}`, headers: applicant(owner.device, { sub: owner.sub }) })).statusCode).toBe(200)
        clock.advance(day)
        expect((await gateway.inject({ url: `/v1/registrations/${registrationId}`, headers: applicant(owner.device, { sub: owner.sub }) })).statusCode).toBe(404)
        // Expired, so the person may be registered again.
        expect((await register(person(), { members: [member('Idle', 'Person', '1999-09-09')], preferredLanguage: 'en' })).statusCode).toBe(201)
      } else {
        // Redis counts TTLs in real time: check the renewal itself.
        expect((await ask(owner, registrationId)).statusCode).toBe(202)
        expect(await stores.kv.ttl(registrationKey(registrationId))).toBeGreaterThan(day - 5_000)
      }
    })

    it('lets 10 families on 10 devices behind one IP register within a minute', async () => {
      await start()
      const statuses: number[] = []
      for (let i = 0; i < 10; i++) {
        statuses.push((await register(person(), family(`f${i}`), { 'x-forwarded-for': '198.51.100.20' })).statusCode)
        clock.advance(5_000)
      }
      expect(statuses).toEqual(Array(10).fill(201))
    })

    it('caps registrations per account across devices', async () => {
      await start()
      const sub = `s-${randomUUID()}`
      const byAccount: number[] = []
      for (let i = 0; i < 4; i++) {
        byAccount.push((await register({ sub, device: randomUUID() })).statusCode)
        clock.advance(60_000)
      }
      expect(byAccount).toEqual([201, 201, 201, 429])
    })

    it('caps registrations per client network, an IPv6 /64 counting as one', async () => {
      await start({ GATEWAY_REGISTRATION_PER_IP_MAX: '2' })
      const from = async (ip: string) => (await gateway.inject({ method: 'POST', url: '/v1/registrations', remoteAddress: ip, headers: headersOf(person()), payload: family(randomUUID()) })).statusCode
      expect([await from('2001:db8:5:6::1'), await from('2001:db8:5:6::2'), await from('2001:db8:5:6:ffff::9')]).toEqual([201, 201, 429])
      expect(await from('2001:db8:5:7::1')).toBe(201)
    })

    it('refuses the same person in a second registration from another device and account, saying nothing more', async () => {
      await start()
      expect((await register(person(), { members: [member('José', 'Pérez-Gómez', '1988-03-04')], preferredLanguage: 'es' })).statusCode).toBe(201)
      const again = await register(person(), { members: [member('jose', 'PEREZ GOMEZ', '1988-03-04')], preferredLanguage: 'es' }, { 'accept-language': 'es' })
      expect(again.statusCode).toBe(409)
      expect(again.json()).toEqual({ code: 'GW_ERR_REG_DUPLICATE_IDENTITY', message: ERRORS.GW_ERR_REG_DUPLICATE_IDENTITY.messages.es })
      // The same person twice in one group is refused too.
      const twice = await register(person(), { members: [member('Rose', 'Paul', '1970-01-01'), member('ROSE', 'paul', '1970-01-01')], preferredLanguage: 'ht' })
      expect(twice.statusCode).toBe(409)
    })

    it('frees identities on withdrawal, and an officer can release one after review', async () => {
      await start()
      const owner = person()
      const first = (await register(owner, { members: [member('Marie', 'Claude', '1992-02-02')], preferredLanguage: 'ht' })).json()
      const withdrawn = await gateway.inject({ method: 'DELETE', url: `/v1/registrations/${first.registrationId}`, headers: headersOf(owner) })
      expect(withdrawn.json()).toEqual({ registrationId: first.registrationId, status: 'withdrawn' })
      expect((await gateway.inject({ url: `/v1/registrations/${first.registrationId}`, headers: applicant(owner.device, { sub: owner.sub }) })).statusCode).toBe(404)
      expect((await register(person(), { members: [member('Marie', 'Claude', '1992-02-02')], preferredLanguage: 'ht' })).statusCode).toBe(201)

      // Held by someone else now: an officer frees it.
      expect((await register(person(), { members: [member('Marie', 'Claude', '1992-02-02')], preferredLanguage: 'ht' })).statusCode).toBe(409)
      const release = (role: string) => gateway.inject({
        method: 'POST',
        url: '/v1/ops/identities/release',
        headers: { authorization: `Bearer ${token({ role, sub: 'officer-7' })}`, 'idempotency-key': randomUUID() },
        payload: { firstName: 'MARIE', lastName: 'claude', dateOfBirth: '1992-02-02' }
      })
      expect((await release('applicant')).statusCode).toBe(403)
      expect((await release('officer')).json()).toEqual({ released: true })
      expect((await register(person(), { members: [member('Marie', 'Claude', '1992-02-02')], preferredLanguage: 'ht' })).statusCode).toBe(201)
    })

    it('takes a withdrawn registration out of the pool, and a request racing the withdrawal cannot bring it back', async () => {
      await start()
      const owner = person()
      const { registrationId } = (await register(owner, { members: [member('Rene', 'Louis', '1985-08-08')], preferredLanguage: 'ht' })).json()
      const { requestId } = (await ask(owner, registrationId)).json()
      const pool = poolKey('brownsville', '2026-11-24')
      expect(await stores.sortedSets.count(pool)).toBe(1)
      await Promise.all([
        gateway.inject({ method: 'DELETE', url: `/v1/registrations/${registrationId}`, headers: headersOf(owner) }),
        ask(owner, registrationId)
      ])
      expect(await stores.sortedSets.count(pool)).toBe(0)
      expect((await gateway.inject({ url: `/v1/registrations/${registrationId}`, headers: applicant(owner.device, { sub: owner.sub }) })).statusCode).toBe(404)
      expect((await gateway.inject({ url: `/v1/appointment-requests/${requestId}`, headers: applicant(owner.device, { sub: owner.sub }) })).json().status).toBe('withdrawn')
      expect((await register(person(), { members: [member('Rene', 'Louis', '1985-08-08')], preferredLanguage: 'ht' })).statusCode).toBe(201)
    })

    it('removes the registration that held a released identity, with its pool entry', async () => {
      await start()
      const impostor = person()
      const { registrationId } = (await register(impostor, { members: [member('Nadia', 'Pierre', '1979-07-07')], preferredLanguage: 'ht' })).json()
      await ask(impostor, registrationId)
      const released = await gateway.inject({
        method: 'POST',
        url: '/v1/ops/identities/release',
        headers: { authorization: `Bearer ${token({ role: 'officer', sub: 'officer-1' })}`, 'idempotency-key': randomUUID() },
        payload: { firstName: 'Nadia', lastName: 'Pierre', dateOfBirth: '1979-07-07' }
      })
      expect(released.json()).toEqual({ released: true })
      expect((await gateway.inject({ url: `/v1/registrations/${registrationId}`, headers: applicant(impostor.device, { sub: impostor.sub }) })).statusCode).toBe(404)
      expect(await stores.sortedSets.count(poolKey('brownsville', '2026-11-24'))).toBe(0)
    })

    it('does not let two groups with the same people in opposite order refuse each other', async () => {
      await start()
      const x = member('Xavier', 'Noel', '1960-01-01')
      const y = member('Yolande', 'Noel', '1961-02-02')
      const answers = await Promise.all([
        register(person(), { members: [x, y], preferredLanguage: 'fr' }),
        register(person(), { members: [y, x], preferredLanguage: 'fr' })
      ])
      expect(answers.map((a) => a.statusCode).sort()).toEqual([201, 409])
    })

    it('does not replay one registration\'s withdrawal for another under a reused key', async () => {
      await start()
      const owner = { sub: `s-${randomUUID()}`, device: randomUUID() }
      const a = (await register(owner)).json().registrationId
      clock.advance(60_000)
      const b = (await register(owner)).json().registrationId
      const headers = { ...applicant(owner.device, { sub: owner.sub }), 'idempotency-key': 'same-key' }
      expect((await gateway.inject({ method: 'DELETE', url: `/v1/registrations/${a}`, headers })).statusCode).toBe(200)
      expect((await gateway.inject({ method: 'DELETE', url: `/v1/registrations/${b}`, headers })).statusCode).toBe(422)
      expect((await gateway.inject({ url: `/v1/registrations/${b}`, headers: applicant(owner.device, { sub: owner.sub }) })).statusCode).toBe(200)
    })

    it('blocks an account that keeps probing for registered identities', async () => {
      await start({ GATEWAY_REGISTRATION_IDENTITY_CONFLICTS_MAX: '2', GATEWAY_REGISTRATION_PER_SUBJECT_MAX: '100' })
      await register(person(), { members: [member('Known', 'Person', '1980-05-05')], preferredLanguage: 'en' })
      const prober = `s-${randomUUID()}`
      // In parallel, as a script would: still no more than 2 answers say "this person is registered".
      const codes = (await Promise.all(Array.from({ length: 10 }, () => register({ sub: prober, device: randomUUID() }, { members: [member('Known', 'Person', '1980-05-05')], preferredLanguage: 'en' }))))
        .map((r) => r.json().code as string)
      expect(codes.filter((c) => c === 'GW_ERR_REG_DUPLICATE_IDENTITY')).toHaveLength(2)
      expect(codes.filter((c) => c === 'GW_ERR_REG_SUBJECT_BLOCKED')).toHaveLength(8)
      // And later attempts, with anyone in them, are refused outright.
      expect((await register({ sub: prober, device: randomUUID() })).json().code).toBe('GW_ERR_REG_SUBJECT_BLOCKED')
      expect((await gateway.inject('/metrics')).body).toMatch(/^gateway_fraud_flags_total\{reason="identity_enumeration"\} 1$/m)
    })

    it('replays a retried POST with one Idempotency-Key: one registration', async () => {
      await start()
      const owner = person()
      const headers = headersOf(owner)
      const body = family('retry')
      const first = await gateway.inject({ method: 'POST', url: '/v1/registrations', headers, payload: body })
      const second = await gateway.inject({ method: 'POST', url: '/v1/registrations', headers, payload: body })
      expect(second.statusCode).toBe(201)
      expect(second.json().registrationId).toBe(first.json().registrationId)
      expect(second.headers['idempotent-replayed']).toBe('true')
    })

    // An instance killed mid-registration leaves its steps behind and no answer kept; the client's
    // retry (same Idempotency-Key, once the key's pending time is over) must take it up, not be
    // told it is too fast (the device window holds the first attempt) or already registered.
    // The leftovers are made here as the kill leaves them; test/faults/instance-sigkill.test.ts
    // kills a real process.
    it('takes up an attempt cut off after its record was written, before its answer was kept: the same registration', async () => {
      await start()
      const owner = person()
      const headers = headersOf(owner)
      const body = family('cut-after-record')
      const first = await gateway.inject({ method: 'POST', url: '/v1/registrations', headers, payload: body })
      expect(first.statusCode).toBe(201)
      await stores.kv.delete(storeKey(`idem.${owner.sub}`, '/v1/registrations', headers['idempotency-key']))
      const retry = await gateway.inject({ method: 'POST', url: '/v1/registrations', headers, payload: body })
      expect(retry.statusCode, retry.body).toBe(201)
      expect(retry.json()).toEqual(first.json())
      expect(retry.headers['idempotent-replayed']).toBeUndefined()
    })

    it('takes up an attempt cut off after its identity claims, before its record: one registration, under the same id', async () => {
      await start()
      const owner = person()
      const headers = headersOf(owner)
      const body = family('cut-before-record')
      const first = await gateway.inject({ method: 'POST', url: '/v1/registrations', headers, payload: body })
      const id = first.json().registrationId as string
      // What a kill between the claims and the record leaves: windows and claims, no record, no answer.
      await stores.kv.delete(registrationKey(id))
      await stores.kv.delete(storeKey(`idem.${owner.sub}`, '/v1/registrations', headers['idempotency-key']))
      const retry = await gateway.inject({ method: 'POST', url: '/v1/registrations', headers, payload: body })
      expect(retry.statusCode, retry.body).toBe(201)
      expect(retry.json().registrationId).toBe(id)
      expect((await gateway.inject({ url: `/v1/registrations/${id}`, headers: applicant(owner.device, { sub: owner.sub }) })).statusCode).toBe(200)
      // Another attempt (a new key) is still a second registration, refused as before.
      const again = await gateway.inject({ method: 'POST', url: '/v1/registrations', headers: headersOf(owner), payload: body })
      expect(again.statusCode).toBe(429)
      expect(again.json().code).toBe('GW_ERR_REG_VELOCITY')
    })

    it('keeps no attempt for a write refused or answered with what is there: nothing is left to take up', async () => {
      await start()
      const owner = person()
      // A write that was made keeps its attempt, for a retry cut off from its answer.
      const madeKey = randomUUID()
      const { registrationId } = (await register(owner, family('made'), { 'idempotency-key': madeKey })).json()
      expect(JSON.parse(await stores.kv.get(attemptKey(owner.sub, 'reg', madeKey)) as string).id).toBe(registrationId)
      const tooSoon = randomUUID()
      const refused = await register(owner, family('too-soon'), { 'idempotency-key': tooSoon })
      expect(refused.statusCode).toBe(429)
      expect(refused.json().code).toBe('GW_ERR_REG_VELOCITY')
      expect(await stores.kv.get(attemptKey(owner.sub, 'reg', tooSoon))).toBeNull()
      const kind = `apr.${registrationId as string}.2026-11-24`
      expect((await ask(owner, registrationId)).statusCode).toBe(202)
      const repeatKey = randomUUID()
      const repeat = await ask(owner, registrationId, {}, { 'idempotency-key': repeatKey })
      expect(repeat.statusCode).toBe(200)
      expect(await stores.kv.get(attemptKey(owner.sub, kind, repeatKey))).toBeNull()
    })

    it('refuses a resumed attempt whose id names a registration of another owner, leaving that registration alone', async () => {
      await start()
      const owner = person()
      const headers = headersOf(owner)
      const body = family('foreign')
      const first = await gateway.inject({ method: 'POST', url: '/v1/registrations', headers, payload: body })
      const id = first.json().registrationId as string
      const foreign = { ...JSON.parse(await stores.kv.get(registrationKey(id)) as string), owner: 's-someone-else' }
      await stores.kv.set(registrationKey(id), JSON.stringify(foreign))
      await stores.kv.delete(storeKey(`idem.${owner.sub}`, '/v1/registrations', headers['idempotency-key']))
      const retry = await gateway.inject({ method: 'POST', url: '/v1/registrations', headers, payload: body })
      expect(retry.statusCode, retry.body).toBe(422)
      expect(retry.json().code).toBe('GW_ERR_IDEMPOTENCY_KEY_REUSED')
      expect(JSON.parse(await stores.kv.get(registrationKey(id)) as string)).toEqual(foreign)
    })

    it('leaves an earlier try\'s window entries and claims alone when a resumed try is refused: only its own steps are undone', async () => {
      await start()
      const owner = person()
      const headers = headersOf(owner)
      const body = family('resumed-refused')
      const first = await gateway.inject({ method: 'POST', url: '/v1/registrations', headers, payload: body })
      const id = first.json().registrationId as string
      const record = JSON.parse(await stores.kv.get(registrationKey(id)) as string)
      const claims = (record.identities as string[]).map((hash) => storeKey(`idn.${hash}`))
      // An earlier try cut off after its windows and claims (no record, no answer), and one of
      // its people claimed meanwhile by another registration: this retry is refused, 409.
      await stores.kv.delete(registrationKey(id))
      await stores.kv.delete(storeKey(`idem.${owner.sub}`, '/v1/registrations', headers['idempotency-key']))
      const [taken, kept] = [...claims].sort((a, b) => String(b).localeCompare(String(a)))
      await stores.kv.set(taken, 'reg_someone_else')
      const retry = await gateway.inject({ method: 'POST', url: '/v1/registrations', headers, payload: body })
      expect(retry.statusCode, retry.body).toBe(409)
      expect(retry.json().code).toBe('GW_ERR_REG_DUPLICATE_IDENTITY')
      // The earlier try's claim and device window entry stay: a new registration from the device is still too soon.
      expect(await stores.kv.get(kept)).toBe(id)
      const again = await gateway.inject({ method: 'POST', url: '/v1/registrations', headers: headersOf(owner), payload: family('other-people') })
      expect(again.statusCode, again.body).toBe(429)
      expect(again.json().code).toBe('GW_ERR_REG_VELOCITY')
    })

    it('refuses a retry with the same key and another body once the answer is gone: the cut-off attempt keeps its own people', async () => {
      await start()
      const owner = person()
      const headers = headersOf(owner)
      const first = await gateway.inject({ method: 'POST', url: '/v1/registrations', headers, payload: family('first-body') })
      const id = first.json().registrationId as string
      await stores.kv.delete(registrationKey(id))
      await stores.kv.delete(storeKey(`idem.${owner.sub}`, '/v1/registrations', headers['idempotency-key']))
      const other = await gateway.inject({ method: 'POST', url: '/v1/registrations', headers, payload: family('second-body') })
      expect(other.statusCode, other.body).toBe(422)
      expect(other.json().code).toBe('GW_ERR_IDEMPOTENCY_KEY_REUSED')
      expect(await stores.kv.get(registrationKey(id))).toBeNull()
      // The first body's retry still takes its attempt up, and its withdrawal frees its people.
      const retry = await gateway.inject({ method: 'POST', url: '/v1/registrations', headers, payload: family('first-body') })
      expect(retry.statusCode, retry.body).toBe(201)
      expect(retry.json().registrationId).toBe(id)
      expect((await gateway.inject({ method: 'DELETE', url: `/v1/registrations/${id}`, headers: headersOf(owner) })).statusCode).toBe(200)
      const again = await register(person(), family('first-body'))
      expect(again.statusCode, again.body).toBe(201)
    })

    it('refuses a request retried with the same key for another port once the answer is gone', async () => {
      await start()
      const owner = person()
      const { registrationId } = (await register(owner)).json()
      const key = randomUUID()
      const first = await ask(owner, registrationId, {}, { 'idempotency-key': key })
      const requestId = first.json().requestId as string
      await stores.kv.delete(requestKey(requestId))
      await stores.sortedSets.remove(poolKey('brownsville', '2026-11-24'), `${requestId}:2`)
      await stores.kv.delete(storeKey(`idem.${owner.sub}`, '/v1/appointment-requests', key))
      const other = await ask(owner, registrationId, { poe: 'laredo' }, { 'idempotency-key': key })
      expect(other.statusCode, other.body).toBe(422)
      expect(other.json().code).toBe('GW_ERR_IDEMPOTENCY_KEY_REUSED')
      expect(await stores.kv.get(requestKey(requestId))).toBeNull()
      expect(await stores.sortedSets.count(poolKey('laredo', '2026-11-24'))).toBe(0)
    })

    it('pools a request for the next draw, and answers a repeat with the same request', async () => {
      await start()
      const owner = person()
      const { registrationId } = (await register(owner)).json()
      const first = await ask(owner, registrationId)
      expect(first.statusCode).toBe(202)
      expect(first.json()).toMatchObject({ registrationId, poe: 'brownsville', poolDate: '2026-11-24', status: 'pooled' })
      const repeat = await ask(owner, registrationId, { poe: 'laredo' })
      expect(repeat.statusCode).toBe(200)
      expect(repeat.json()).toEqual(first.json())
      expect(await stores.sortedSets.rangeByRank(poolKey('brownsville', '2026-11-24'), 0, -1)).toEqual([
        { member: `${first.json().requestId as string}:2`, score: MONDAY_1PM_ET }
      ])
    })

    it('takes up a request cut off after it claimed the day, before its record: the same request, pooled once', async () => {
      await start()
      const owner = person()
      const { registrationId } = (await register(owner)).json()
      const key = randomUUID()
      const first = await ask(owner, registrationId, {}, { 'idempotency-key': key })
      expect(first.statusCode).toBe(202)
      const requestId = first.json().requestId as string
      // What a kill between the day's claim and the record leaves: the claim, no record, no pool entry, no answer.
      await stores.kv.delete(requestKey(requestId))
      await stores.sortedSets.remove(poolKey('brownsville', '2026-11-24'), `${requestId}:2`)
      await stores.kv.delete(storeKey(`idem.${owner.sub}`, '/v1/appointment-requests', key))
      const retry = await ask(owner, registrationId, {}, { 'idempotency-key': key })
      expect(retry.statusCode, retry.body).toBe(202)
      expect(retry.json()).toEqual(first.json())
      expect(await stores.sortedSets.rangeByRank(poolKey('brownsville', '2026-11-24'), 0, -1)).toEqual([{ member: `${requestId}:2`, score: MONDAY_1PM_ET }])
      // Another try (another key) gets that request, as any repeat does.
      const repeat = await ask(owner, registrationId)
      expect(repeat.statusCode).toBe(200)
      expect(repeat.json()).toEqual(first.json())
    })

    it('never takes a request of an earlier pool day up again: a key retried the next day leaves the drawn request as it is', async () => {
      await start()
      const owner = person()
      const { registrationId } = (await register(owner)).json()
      const key = randomUUID()
      const first = await ask(owner, registrationId, {}, { 'idempotency-key': key })
      expect(first.statusCode).toBe(202)
      const requestId = first.json().requestId as string
      // The draw selects it (as allocations.ts writes it); the answer's record was not kept.
      const drawn = { ...JSON.parse(await stores.kv.get(requestKey(requestId)) as string), status: 'selected' }
      await stores.kv.set(requestKey(requestId), JSON.stringify(drawn))
      await stores.kv.delete(storeKey(`idem.${owner.sub}`, '/v1/appointment-requests', key))
      // 12:00 ET on Tuesday, 23 h on: the window is open again, for Wednesday's pool, and the key's attempt is still kept.
      clock.set(MONDAY_1PM_ET + 23 * 3600_000)
      const retry = await ask(owner, registrationId, {}, { 'idempotency-key': key })
      expect(retry.statusCode, retry.body).toBe(202)
      expect(retry.json()).toMatchObject({ registrationId, poolDate: '2026-11-25', status: 'pooled' })
      expect(retry.json().requestId).not.toBe(requestId)
      // The drawn request is untouched, and in its own day's pool only.
      expect(JSON.parse(await stores.kv.get(requestKey(requestId)) as string)).toEqual(drawn)
      expect(await stores.sortedSets.rangeByRank(poolKey('brownsville', '2026-11-25'), 0, -1)).toEqual([{ member: `${retry.json().requestId as string}:2`, score: MONDAY_1PM_ET }])
    })

    it('answers a retry whose earlier try wrote its record with that record, even once the day\'s claim is gone', async () => {
      await start()
      const owner = person()
      const { registrationId } = (await register(owner)).json()
      const key = randomUUID()
      const first = await ask(owner, registrationId, {}, { 'idempotency-key': key })
      expect(first.statusCode).toBe(202)
      const requestId = first.json().requestId as string
      const drawn = { ...JSON.parse(await stores.kv.get(requestKey(requestId)) as string), status: 'not-selected' }
      await stores.kv.set(requestKey(requestId), JSON.stringify(drawn))
      await stores.kv.delete(storeKey(`reg.${registrationId}`, 'req', '2026-11-24'))
      await stores.kv.delete(storeKey(`idem.${owner.sub}`, '/v1/appointment-requests', key))
      const retry = await ask(owner, registrationId, {}, { 'idempotency-key': key })
      expect(retry.statusCode, retry.body).toBe(202)
      expect(retry.json()).toEqual({ ...first.json(), status: 'not-selected' })
      expect(JSON.parse(await stores.kv.get(requestKey(requestId)) as string)).toEqual(drawn)
    })

    it('exports the size of each port\'s pool for the next draw, every port from the start', async () => {
      await start()
      const size = async (poe: string) => new RegExp(`^gateway_allocation_pool_size\\{poe="${poe}"\\} (\\d+)$`, 'm').exec((await gateway.inject({ url: '/metrics' })).body)?.[1]
      expect(await size('brownsville')).toBe('0')
      expect(await size('nogales')).toBe('0')
      const owner = person()
      const { registrationId } = (await register(owner)).json()
      expect((await ask(owner, registrationId)).statusCode).toBe(202)
      // The gauges read the store once per scrape and keep the reading for a second.
      await new Promise((resolve) => setTimeout(resolve, 1_100))
      expect(await size('brownsville')).toBe('1')
      expect(await size('nogales')).toBe('0')
      const body = (await gateway.inject({ url: '/metrics' })).body
      expect(body.match(/^gateway_allocation_pool_size\{/gm)).toHaveLength(8)
      expect(body).toContain('gateway_allocation_places_total{poe="hidalgo",rule="random"} 0')
      expect(body).toContain('gateway_appointments_total{poe="hidalgo",event="lapsed"} 0')
    })

    it('creates exactly one pool entry from 50 concurrent identical requests', async () => {
      await start()
      const owner = person()
      const { registrationId } = (await register(owner)).json()
      const answers = await Promise.all(Array.from({ length: 50 }, () => ask(owner, registrationId)))
      // One is created; the rest get it back, or, while its record is being written, a 409 to retry.
      expect(answers.filter((a) => a.statusCode === 202)).toHaveLength(1)
      expect(answers.every((a) => [200, 202].includes(a.statusCode) || a.json().code === 'GW_ERR_IDEMPOTENCY_IN_PROGRESS')).toBe(true)
      expect(new Set(answers.filter((a) => a.statusCode < 300).map((a) => a.json().requestId)).size).toBe(1)
      expect(await stores.sortedSets.count(poolKey('brownsville', '2026-11-24'))).toBe(1)
    })

    it('refuses a request at 11:30 ET with the next opening time', async () => {
      await start()
      const owner = person()
      const { registrationId } = (await register(owner)).json()
      clock.set(Date.parse('2026-11-24T16:30:00Z'))
      const closed = await ask(owner, registrationId, {}, { 'accept-language': 'ht' })
      expect(closed.statusCode).toBe(409)
      expect(closed.json()).toEqual({
        code: 'GW_ERR_REQ_WINDOW_CLOSED',
        message: ERRORS.GW_ERR_REQ_WINDOW_CLOSED.messages.ht,
        retryAfterSeconds: 1800,
        nextOpenAt: '2026-11-24T12:00:00.000-05:00'
      })
    })

    it('refuses a location south of 19.4326 N, outside the fence, or too vague', async () => {
      await start()
      const owner = person()
      const { registrationId } = (await register(owner)).json()
      const south = await ask(owner, registrationId, { location: { latitude: 19.0, longitude: -99.1, accuracyMeters: 10 } })
      expect(south.statusCode).toBe(403)
      expect(south.json().code).toBe('GW_ERR_GEO_OUTSIDE')
      const texas = await ask(owner, registrationId, { location: { latitude: 40.7, longitude: -74.0, accuracyMeters: 10 } })
      expect(texas.json().code).toBe('GW_ERR_GEO_OUTSIDE')
      const vague = await ask(owner, registrationId, { location: { ...location, accuracyMeters: 50_000 } })
      expect(vague.json().code).toBe('GW_ERR_GEO_IMPRECISE')
      expect((await gateway.inject('/metrics')).body).toMatch(/^gateway_appointment_request_refusals_total\{reason="geo_outside"\} 2$/m)
    })
  })
}
