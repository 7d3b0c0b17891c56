import { randomUUID } from 'node:crypto'
import { afterEach, describe, expect, it } from 'vitest'
import type { FastifyInstance } from 'fastify'
import { ManualClock } from '../../gateway/store/clock.js'
import { createMemoryStores } from '../../gateway/store/memory/index.js'
import { buildApp, LogCapture, redisStores, testConfig } from '../helpers/app.js'
import { applicant, token } from '../helpers/tokens.js'

// 13:00 in New York on Monday 23 November 2026: the request window is open.
const MONDAY_1PM_ET = Date.parse('2026-11-23T18:00:00Z')
const POES = ['brownsville', 'el-paso', 'eagle-pass', 'hidalgo', 'laredo', 'calexico', 'san-ysidro', 'nogales']
const location = { latitude: 25.87, longitude: -97.5, accuracyMeters: 20 }

// One four-bedroom house, written the ways people write it.
const HOUSE = [
  { line1: '1208 North Maple Avenue', city: '=HYPERLINK("http://evil.example")', state: 'TX', zip: '77009' },
  { line1: '1208 N. Maple Ave.', city: 'HOUSTON', state: 'TX', zip: '77009-1234' },
  { line1: '1208 n maple ave', city: 'houston', state: 'TX', zip: '77009' },
  { line1: '1208  NORTH  MAPLE  AV', city: 'Houston', state: 'TX', zip: '77009-0000' },
  { line1: '1208 N Maple Avenue', city: 'Houston', state: 'TX', zip: '77009' }
]

interface Person { sub: string, device: string }
const person = (): Person => ({ sub: `s-${randomUUID()}`, device: randomUUID() })
const officer = { authorization: `Bearer ${token({ role: 'officer', sub: 'officer-7' })}` }

function member (firstName: string, lastName: string, dateOfBirth: string, usAddress: object) {
  return { firstName, lastName, dateOfBirth, nationality: 'HTI', usAddress }
}

for (const adapter of ['memory', 'redis'] as const) {
  describe(`shared-address report (${adapter})`, () => {
    let gateway: FastifyInstance
    let logs: LogCapture

    async function start (env: Record<string, string> = {}) {
      const clock = new ManualClock(MONDAY_1PM_ET)
      const stores = adapter === 'memory' ? createMemoryStores({ clock }) : await redisStores({ clock })
      logs = new LogCapture()
      gateway = await buildApp({ clock, stores, logs, config: testConfig({ GATEWAY_RATE_LIMIT_RULES: '[]', GATEWAY_LOG_LEVEL: 'info', ...env }) })
    }
    afterEach(async () => { await gateway.close() })

    async function register (members: object[]): Promise<{ who: Person, registrationId: string }> {
      const who = person()
      const res = await gateway.inject({ method: 'POST', url: '/v1/registrations', headers: { ...applicant(who.device, { sub: who.sub }), 'idempotency-key': randomUUID() }, payload: { members, preferredLanguage: 'ht' } })
      expect(res.statusCode, res.body).toBe(201)
      return { who, registrationId: res.json().registrationId }
    }

    async function ask (who: Person, registrationId: string, poe: string): Promise<void> {
      const res = await gateway.inject({ method: 'POST', url: '/v1/appointment-requests', headers: { ...applicant(who.device, { sub: who.sub }), 'idempotency-key': randomUUID() }, payload: { registrationId, poe, location } })
      expect(res.statusCode, res.body).toBe(202)
    }

    const report = (query = '', headers: Record<string, string> = {}) => gateway.inject({ url: `/v1/ops/trends/shared-addresses${query}`, headers: { ...officer, ...headers } })

    // 15 registrations of two people at the house (30 claimants; 20 last names: the first ten
    // are couples, the last five strangers), each asking for one port in turn over all eight;
    // 12 families of two at addresses of their own; one family of eight, at home.
    async function plant (): Promise<Array<{ who: Person, registrationId: string }>> {
      const cluster = []
      for (let i = 0; i < 15; i++) {
        const house = HOUSE[i % HOUSE.length] as object
        const registration = await register([
          member(`Ana${i}`, `Lastname${i}`, '1990-01-02', house),
          member(`Luc${i}`, i < 10 ? `Lastname${i}` : `Other${i}`, '1991-03-04', house)
        ])
        await ask(registration.who, registration.registrationId, POES[i % POES.length] as string)
        cluster.push(registration)
      }
      for (let i = 0; i < 12; i++) {
        const home = { line1: `${100 + i} Quiet Street`, city: 'Brockton', state: 'MA', zip: '02301' }
        const registration = await register([member(`Mia${i}`, `Solo${i}`, '1985-05-06', home), member(`Noe${i}`, `Solo${i}`, '2012-07-08', home)])
        await ask(registration.who, registration.registrationId, POES[i % POES.length] as string)
      }
      const farm = { line1: '9 Farm Road', city: 'Yuma', state: 'AZ', zip: '85364' }
      await register(Array.from({ length: 8 }, (_, i) => member(`Kid${i}`, 'Large', `20${10 + i}-01-01`, farm)))
      return cluster
    }

    const expectedPerPoe = { brownsville: 4, 'el-paso': 4, 'eagle-pass': 4, hidalgo: 4, laredo: 4, calexico: 4, 'san-ysidro': 4, nogales: 2 }

    it('finds the planted cluster with its claimant, last-name and per-port counts, and no other address', async () => {
      await start()
      await plant()
      for (const query of ['', '?minClaimants=9', '?minClaimants=2&minDistinctLastNames=20']) {
        const res = await report(query)
        expect(res.statusCode, query).toBe(200)
        const body = res.json()
        expect(body.clusters, query).toHaveLength(1)
        expect(body.clusters[0]).toEqual({
          rank: 1,
          addressKey: expect.stringMatching(/^[A-Za-z0-9_-]{16}$/),
          address: '1208 n maple ave, hyperlink http evilexample, tx 77009',
          claimants: 30,
          distinctLastNames: 20,
          registrations: 15,
          perPoe: expectedPerPoe,
          firstSeen: '2026-11-23T18:00:00.000Z',
          lastSeen: '2026-11-23T18:00:00.000Z'
        })
        expect(body.complete).toBe(true)
      }
      // Families of two (and of eight) are in the ranking but below the floor of 10 by default.
      const defaults = (await report()).json()
      expect(defaults.filter).toEqual({ minClaimants: 10, minDistinctLastNames: 1, since: null, limit: 100 })
      expect(defaults.examined).toBe(1)
      // Below a registration's largest group (8) an address is a family at home unless its last
      // names differ: such a floor alone would list families, a directory, and is refused.
      const directory = await report('?minClaimants=2')
      expect(directory.statusCode).toBe(400)
      expect(directory.json()).toMatchObject({ code: 'GW_ERR_REQUEST_INVALID', fields: ['/querystring/minClaimants'] })
      expect((await report('?minClaimants=8')).statusCode).toBe(400)
      const unrelated = (await report('?minClaimants=2&minDistinctLastNames=2')).json()
      expect(unrelated.clusters.map((c: { claimants: number }) => c.claimants)).toEqual([30])
      expect(unrelated.examined).toBe(14)
      expect((await report('?minDistinctLastNames=21')).json().clusters).toEqual([])
      expect((await report('?since=2026-11-23T18:00:01Z')).json().clusters).toEqual([])
      expect((await report('?since=2026-11-23T13:00:00-05:00')).json().clusters).toHaveLength(1)
      expect((await report('?minClaimants=2&minDistinctLastNames=2&limit=1')).json().clusters).toHaveLength(1)
    })

    it('keeps counting withdrawn registrations, and counts a person who registers again once', async () => {
      await start()
      const cluster = await plant()
      const first = cluster[0] as { who: Person, registrationId: string }
      const withdrawn = await gateway.inject({ method: 'DELETE', url: `/v1/registrations/${first.registrationId}`, headers: { ...applicant(first.who.device, { sub: first.who.sub }), 'idempotency-key': randomUUID() } })
      expect(withdrawn.statusCode).toBe(200)
      const again = await register([member('Ana0', 'Lastname0', '1990-01-02', HOUSE[2] as object), member('Luc0', 'Lastname0', '1991-03-04', HOUSE[3] as object)])
      await ask(again.who, again.registrationId, 'brownsville')
      const [row] = (await report()).json().clusters
      expect(row).toMatchObject({ claimants: 30, distinctLastNames: 20, registrations: 16, perPoe: expectedPerPoe })
    })

    it('answers CSV with the same rows, formula-safe, as an attachment', async () => {
      await start()
      await plant()
      const json = (await report()).json()
      const res = await report('', { accept: 'text/csv' })
      expect(res.statusCode).toBe(200)
      expect(res.headers['content-type']).toBe('text/csv; charset=utf-8')
      expect(res.headers['content-disposition']).toBe('attachment; filename="shared-addresses-2026-11-23.csv"')
      expect(res.headers.vary).toContain('Accept')
      expect(res.headers['cache-control']).toBe('no-store')
      expect((await report()).headers['cache-control']).toBe('no-store')
      // Media-type parameters do not stop a match; q values still rank.
      for (const accept of ['text/csv; charset=utf-8', 'text/csv;header=present', 'application/json;q=0.5, text/csv;charset=utf-8;q=0.9']) {
        const withParameters = await report('', { accept })
        expect(withParameters.statusCode, accept).toBe(200)
        expect(withParameters.body, accept).toBe(res.body)
      }
      expect((await report('', { accept: 'text/csv;q=0.1, application/json' })).headers['content-type']).toMatch(/^application\/json/)
      const lines = res.body.split('\r\n')
      expect(lines[0]).toBe(`rank,address_key,address,claimants,distinct_last_names,registrations,${POES.map((p) => `poe_${p}`).join(',')},first_seen,last_seen`)
      const key = json.clusters[0].addressKey as string
      const keyCell = /^[-=+@]/.test(key) ? `'${key}` : key
      expect(lines[1]).toBe(`1,${keyCell},"1208 n maple ave, hyperlink http evilexample, tx 77009",30,20,15,4,4,4,4,4,4,4,2,2026-11-23T18:00:00.000Z,2026-11-23T18:00:00.000Z`)
      expect(lines.slice(2)).toEqual([''])
      expect(res.body).not.toMatch(/(^|,)[=+@]/m)
    })

    it('audit-logs who asked and with which filter, never an address', async () => {
      await start()
      await plant()
      await report('?minClaimants=3&minDistinctLastNames=2&since=2026-11-01T00:00:00Z')
      await report('', { accept: 'text/csv' })
      await report('?minClaimants=1208%20Maple')
      await report('', { accept: 'application/xml' })
      const audits = logs.records().filter((r) => r.audit === 'shared-address-report')
      expect(audits).toHaveLength(4)
      expect(audits[2]).toMatchObject({ officer: 'officer-7', status: 400, fields: ['minClaimants'] })
      expect(audits[3]).toMatchObject({ officer: 'officer-7', status: 406, fields: [] })
      expect(audits[0]).toMatchObject({ officer: 'officer-7', filter: { minClaimants: 3, minDistinctLastNames: 2, since: '2026-11-01T00:00:00.000Z', limit: 100 }, format: 'json', clusters: 1, examined: 2 })
      expect(audits[1]).toMatchObject({ officer: 'officer-7', format: 'csv', clusters: 1 })
      expect(typeof audits[0]?.time).toBe('number')
      for (const secret of ['maple', 'Maple', '77009', 'hyperlink', 'HYPERLINK', 'Lastname', 'Quiet']) expect(logs.text, secret).not.toContain(secret)
    })

    it('is for officers only', async () => {
      await start()
      const who = person()
      const asApplicant = await gateway.inject({ url: '/v1/ops/trends/shared-addresses', headers: applicant(who.device, { sub: who.sub }) })
      expect(asApplicant.statusCode).toBe(403)
      expect(asApplicant.json().code).toBe('GW_ERR_AUTH_FORBIDDEN')
      for (const role of ['partner', 'ops']) {
        const res = await gateway.inject({ url: '/v1/ops/trends/shared-addresses', headers: { authorization: `Bearer ${token({ role })}` } })
        expect(res.statusCode, role).toBe(403)
      }
      const anonymous = await gateway.inject({ url: '/v1/ops/trends/shared-addresses' })
      expect(anonymous.statusCode).toBe(401)
      expect(anonymous.json().code).toBe('GW_ERR_AUTH_TOKEN_MISSING')
    })

    it('refuses a bad filter with a localized 400 naming the field, and a format it cannot give with 406', async () => {
      await start({ GATEWAY_TRENDS_MAX_LIMIT: '500' })
      const cases: Array<[string, string]> = [
        ['?minClaimants=1', '/querystring/minClaimants'],
        ['?minClaimants=ten', '/querystring/minClaimants'],
        ['?minDistinctLastNames=0', '/querystring/minDistinctLastNames'],
        ['?limit=0', '/querystring/limit'],
        ['?limit=501', '/querystring/limit'],
        ['?since=yesterday', '/querystring/since'],
        ['?since=2026-11-23', '/querystring/since'],
        // A leap second passes the date-time format, but Date cannot read it.
        ['?since=2016-12-31T23:59:60Z', '/querystring/since'],
        ['?address=1208', '/querystring/address']
      ]
      for (const [query, field] of cases) {
        const res = await report(query, { 'accept-language': 'ht' })
        expect(res.statusCode, query).toBe(400)
        expect(res.json(), query).toMatchObject({ code: 'GW_ERR_REQUEST_INVALID', fields: [field] })
        expect(res.headers['content-language']).toBe('ht')
      }
      expect((await report('?limit=500')).statusCode).toBe(200)
      const xml = await report('', { accept: 'application/xml', 'accept-language': 'es' })
      expect(xml.statusCode).toBe(406)
      expect(xml.json().code).toBe('GW_ERR_REQUEST_NOT_ACCEPTABLE')
      expect(xml.headers['content-language']).toBe('es')
    })
  })
}
