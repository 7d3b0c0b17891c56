import { createHash, randomBytes, randomUUID } from 'node:crypto'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { afterEach, describe, expect, inject, it } from 'vitest'
import type { FastifyInstance } from 'fastify'
import { auditDraw, canonicalPool, drawSeed, type DrawRecord } from '../../gateway/domain/draw-audit.js'
import { allocate } from '../../workers/allocation.js'
import { ManualClock } from '../../gateway/store/clock.js'
import { createMemoryStores } from '../../gateway/store/memory/index.js'
import { buildApp, redisStores, testConfig, uniquePrefix } from '../helpers/app.js'
import { applicant, publicKeyPem, token } from '../helpers/tokens.js'

function replayWinners (record: DrawRecord): Set<string> {
  const result = allocate({ entries: canonicalPool(record.entries), slots: record.slots, oldestShare: record.oldestShare, seed: drawSeed(Buffer.from(record.serverSeed, 'hex'), record.poolDigest, record.beacon) })
  return new Set(result.assignments.map((a) => a.registrationId))
}

const AUDIT = fileURLToPath(new URL('../../dist/gateway/audit-allocation.js', import.meta.url))
const MONDAY_1PM_ET = Date.parse('2026-11-23T18:00:00Z')
// What npm run audit:allocation prints of the draw below before its verdict.
const FIGURES = [
  'fairness of the draw of 2026-11-24 (registrations; ages at 2026-11-24T16:00:00.000Z):',
  '| dimension | value | entrants | winners | selection rate |',
  '| --- | --- | ---: | ---: | ---: |',
  '| language | en | 300 | 260 | 86.67% |',
  '| nationality | HTI | 300 | 260 | 86.67% |',
  '| age | <1d | 300 | 260 | 86.67% |',
  '| group_size | 1 | 300 | 260 | 86.67% |',
  ''
].join('\n')

for (const adapter of ['memory', 'redis'] as const) {
  describe(`the daily draw (${adapter})`, () => {
    let gateway: FastifyInstance
    afterEach(async () => { await gateway.close() })

    it('draws once per date, tells each applicant the result, and can be replayed from its record', async () => {
      const clock = new ManualClock(MONDAY_1PM_ET)
      const keyPrefix = uniquePrefix()
      const stores = adapter === 'memory' ? createMemoryStores({ clock }) : await redisStores({ clock, keyPrefix })
      // Eagle Pass takes 150 people a day; 60 single applicants ask for it, and 240 for Laredo (200).
      gateway = await buildApp({ clock, stores, config: testConfig({ GATEWAY_RATE_LIMIT_RULES: '[]', GATEWAY_REGISTRATION_MIN_INTERVAL_SECONDS: '0' }) })
      const asked: Array<{ headers: Record<string, string>, requestId: string }> = []
      for (let i = 0; i < 300; i++) {
        const who = { ...applicant(randomUUID(), { sub: `a${i}` }) }
        const { registrationId } = (await gateway.inject({
          method: 'POST',
          url: '/v1/registrations',
          remoteAddress: `10.1.${i >> 8}.${i & 255}`,
          headers: { ...who, 'idempotency-key': randomUUID() },
          payload: { members: [{ firstName: `P${i}`, lastName: 'Test', dateOfBirth: '1990-01-01', nationality: 'HTI', usAddress: { line1: '1 A St', city: 'Miami', state: 'FL', zip: '33101' } }], preferredLanguage: 'en' }
        })).json()
        const poe = i < 60 ? 'eagle-pass' : 'laredo'
        const { requestId } = (await gateway.inject({ method: 'POST', url: '/v1/appointment-requests', headers: { ...who, 'idempotency-key': randomUUID() }, payload: { registrationId, poe, location: { latitude: 27.5, longitude: -99.5, accuracyMeters: 10 } } })).json()
        asked.push({ headers: who, requestId })
        clock.advance(1000)
      }
      const ops = { authorization: `Bearer ${token({ role: 'ops', sub: 'ops-1' })}` }
      // Before the draw: the commitment is public, the seed is not; no day without a seed is known.
      const before = (await gateway.inject({ url: '/v1/ops/allocations/2026-11-24', headers: ops })).json()
      expect(before).toEqual({ date: '2026-11-24', status: 'committed', commitment: expect.stringMatching(/^[0-9a-f]{64}$/), opensAt: '2026-11-23T17:00:00.000Z', closesAt: '2026-11-24T16:00:00.000Z', drawAt: '2026-11-24T16:00:00.000Z' })
      expect((await gateway.inject({ url: '/v1/ops/allocations/2026-11-30', headers: ops })).json().code).toBe('GW_ERR_ALLOC_NOT_FOUND')
      // Published to every applicant too, from before the window opened.
      expect((await gateway.inject({ url: '/v1/allocations/2026-11-24', headers: asked[0]?.headers })).json()).toEqual(before)
      // Not while the window is open, nor in the seal grace after it closes.
      for (const at of ['2026-11-24T15:59:59Z', '2026-11-24T16:00:10Z']) {
        clock.set(Date.parse(at))
        const early = await gateway.inject({ method: 'POST', url: '/v1/ops/allocations', headers: { ...ops, 'idempotency-key': randomUUID() }, payload: { date: '2026-11-24' } })
        expect(early.statusCode).toBe(409)
        expect(early.json().code).toBe('GW_ERR_ALLOC_TOO_EARLY')
        expect(early.headers['retry-after']).toBe(at.endsWith('59Z') ? '31' : '20')
        expect((await gateway.inject({ method: 'PUT', url: '/v1/ops/allocations/2026-11-24/beacon', headers: ops, payload: { beacon: 'early' } })).json().code).toBe('GW_ERR_ALLOC_TOO_EARLY')
      }

      clock.set(Date.parse('2026-11-24T16:01:00Z'))
      // Sealed, then one applicant withdraws before the draw: its request stays withdrawn.
      expect((await gateway.allocations.seal('2026-11-24')).created).toBe(true)
      const leaver = asked[299] as { headers: Record<string, string>, requestId: string }
      const leaverRegistration = (await gateway.inject({ url: `/v1/appointment-requests/${leaver.requestId}`, headers: leaver.headers })).json().registrationId
      expect((await gateway.inject({ method: 'DELETE', url: `/v1/registrations/${leaverRegistration}`, headers: { ...leaver.headers, 'idempotency-key': randomUUID() } })).statusCode).toBe(200)
      // A beacon once the pool is sealed; the same value again is fine, another is refused.
      const beaconed = await gateway.inject({ method: 'PUT', url: '/v1/ops/allocations/2026-11-24/beacon', headers: ops, payload: { beacon: 'beacon-1' } })
      expect(beaconed.json()).toMatchObject({ status: 'sealed', beacon: 'beacon-1', entries: 300, poolDigest: expect.stringMatching(/^[0-9a-f]{64}$/), sealedAt: '2026-11-24T16:01:00.000Z' })
      expect(beaconed.json().serverSeed).toBeUndefined()
      expect((await gateway.inject({ method: 'PUT', url: '/v1/ops/allocations/2026-11-24/beacon', headers: ops, payload: { beacon: 'beacon-1' } })).statusCode).toBe(200)
      expect((await gateway.inject({ method: 'PUT', url: '/v1/ops/allocations/2026-11-24/beacon', headers: ops, payload: { beacon: 'beacon-2' } })).json().code).toBe('GW_ERR_ALLOC_BEACON_CONFLICT')
      expect((await gateway.inject({ method: 'POST', url: '/v1/ops/allocations', headers: { ...ops, 'idempotency-key': randomUUID() }, payload: { date: '2026-11-24', beacon: 'beacon-2' } })).json().code).toBe('GW_ERR_ALLOC_BEACON_CONFLICT')
      const run = await gateway.inject({ method: 'POST', url: '/v1/ops/allocations', headers: { ...ops, 'idempotency-key': randomUUID() }, payload: { date: '2026-11-24' } })
      expect(run.statusCode).toBe(200)
      const summary = run.json()
      expect(summary).toMatchObject({ date: '2026-11-24', status: 'drawn', entries: 300, beacon: 'beacon-1', ranAt: '2026-11-24T16:01:00.000Z', commitment: before.commitment, poolDigest: beaconed.json().poolDigest })
      // The revealed seed is the one committed to before the window opened.
      expect(createHash('sha256').update(Buffer.from(summary.serverSeed, 'hex')).digest('hex')).toBe(before.commitment)
      expect((await gateway.inject({ method: 'PUT', url: '/v1/ops/allocations/2026-11-24/beacon', headers: ops, payload: { beacon: 'beacon-1' } })).json().code).toBe('GW_ERR_ALLOC_BEACON_CONFLICT')
      expect(summary.counts['eagle-pass']).toEqual({ capacity: 150, entries: 60, oldest: { groups: 45, people: 45 }, random: { groups: 15, people: 15 } })
      expect(summary.counts.laredo).toEqual({ capacity: 200, entries: 240, oldest: { groups: 60, people: 60 }, random: { groups: 140, people: 140 } })

      // The fairness figures: every entrant registered in English, Haitian, alone, under a day
      // before the draw; the leaver's entry counts as drawn (it was sealed).
      const winners = summary.counts['eagle-pass'].oldest.groups + summary.counts['eagle-pass'].random.groups + summary.counts.laredo.oldest.groups + summary.counts.laredo.random.groups
      expect(winners).toBe(260)
      const rows = [['language', 'en'], ['nationality', 'HTI'], ['age', '<1d'], ['group_size', '1']].map(([dimension, value]) => ({ dimension, value, entrants: 300, winners: 260, selectionRate: 260 / 300 }))
      expect(summary.fairness).toEqual({ at: '2026-11-24T16:00:00.000Z', entrants: 300, winners: 260, rows })
      const metrics = (await gateway.inject({ url: '/metrics' })).body
      for (const { dimension, value } of rows) {
        expect(metrics).toContain(`gateway_allocation_fairness_entrants{dimension="${dimension}",value="${value}"} 300\n`)
        expect(metrics).toContain(`gateway_allocation_fairness_winners{dimension="${dimension}",value="${value}"} 260\n`)
      }
      expect(metrics.match(/^gateway_allocation_fairness_entrants\{/gm)).toHaveLength(4)

      // A second run, even with another key, returns the first result.
      const again = await gateway.inject({ method: 'POST', url: '/v1/ops/allocations', headers: { ...ops, 'idempotency-key': randomUUID() }, payload: { date: '2026-11-24' } })
      expect(again.json()).toEqual(summary)

      const results = await Promise.all(asked.map(async ({ headers, requestId }) => (await gateway.inject({ url: `/v1/appointment-requests/${requestId}`, headers })).json()))
      const selected = results.filter((r) => r.status === 'selected')
      // 260 places drawn among the 300 sealed entries; the leaver's, if it won one, is not given.
      const leaverWon = (record: DrawRecord) => replayWinners(record).has(leaverRegistration)
      const record = (await gateway.inject({ url: '/v1/ops/allocations/2026-11-24/record', headers: ops })).json() as DrawRecord
      expect(selected).toHaveLength(leaverWon(record) ? 259 : 260)
      expect(results.filter((r) => r.status === 'not-selected')).toHaveLength(leaverWon(record) ? 40 : 39)
      expect(results[299]).toMatchObject({ status: 'withdrawn' })
      for (const r of selected) {
        expect(r.appointment.confirmationNumber).toMatch(/^[0-9A-HJKMNP-TV-Z]{16}$/)
        expect(r.appointment.confirmBy).toBe('2026-11-25T15:01:00.000Z')
        expect(['08:00', '10:00', '12:00', '14:00']).toContain(r.appointment.slot)
      }
      expect(new Set(selected.map((r) => r.appointment.confirmationNumber)).size).toBe(selected.length)

      // The exported record replays, by the function and by the script.
      expect(auditDraw(record)).toEqual([])
      const file = join(mkdtempSync(join(tmpdir(), 'draw-')), 'draw.json')
      writeFileSync(file, JSON.stringify(record))
      const audit = spawnSync(process.execPath, [AUDIT, '--file', file], { encoding: 'utf8' })
      expect(audit.stdout).toBe(FIGURES + 'draw 2026-11-24: matches (commitment, pool digest and 300 entries replayed)\n')
      expect(audit.status).toBe(0)
      // The newest Laredo entry passed off as the oldest, to win an oldest-share place: the pool
      // no longer matches its digest, and the replay gives other winners.
      const tampered = structuredClone(record)
      const victim = tampered.entries.filter((e) => e.poe === 'laredo').at(-1) as DrawRecord['entries'][number]
      victim.createdAtMs = 0
      writeFileSync(file, JSON.stringify(tampered))
      const caught = spawnSync(process.execPath, [AUDIT, '--file', file], { encoding: 'utf8' })
      expect(caught.status).toBe(1)
      expect(caught.stdout).toBe(FIGURES + 'draw 2026-11-24: DOES NOT MATCH\n  - pool does not match its digest\n  - assignments do not match the replay\n')
      if (adapter === 'redis') {
        // Straight from the store the gateway uses, by date, with the environment the gateway runs with.
        const dir = mkdtempSync(join(tmpdir(), 'audit-env-'))
        writeFileSync(join(dir, 'jwt.pem'), publicKeyPem)
        writeFileSync(join(dir, 'identity.key'), randomBytes(32))
        const env = { PATH: process.env.PATH, REDIS_URL: inject('redisUrl'), GATEWAY_REDIS_KEY_PREFIX: keyPrefix, GATEWAY_AUTH_PUBLIC_KEY_FILE: join(dir, 'jwt.pem'), GATEWAY_IDENTITY_KEY_FILE: join(dir, 'identity.key') }
        const byDate = spawnSync(process.execPath, [AUDIT, '--date', '2026-11-24'], { encoding: 'utf8', env })
        expect(byDate.stderr).toBe('')
        expect(byDate.stdout).toBe(FIGURES + 'draw 2026-11-24: matches (commitment, pool digest and 300 entries replayed)\n')
        expect(spawnSync(process.execPath, [AUDIT, '--date', '2026-11-25'], { encoding: 'utf8', env }).stderr)
          .toBe('audit:allocation: no draw record for 2026-11-25 in this store (not drawn yet, or older than 60 days)\n')
      }
      expect(spawnSync(process.execPath, [AUDIT, '--date', '2026-11-24'], { encoding: 'utf8', env: { PATH: process.env.PATH } }).status).toBe(2)
      expect((await gateway.inject({ url: '/v1/allocations/2026-11-24', headers: asked[0]?.headers })).json()).toEqual(summary)
      // Only ops may look at the record and run draws.
      expect((await gateway.inject({ url: '/v1/ops/allocations/2026-11-24', headers: asked[0]?.headers })).statusCode).toBe(403)
      expect((await gateway.inject({ url: '/v1/ops/allocations/2026-11-24/record', headers: asked[0]?.headers })).statusCode).toBe(403)
      expect((await gateway.inject({ method: 'POST', url: '/v1/ops/allocations', headers: { ...asked[0]?.headers, 'idempotency-key': randomUUID() }, payload: { date: '2026-11-25' } })).statusCode).toBe(403)
    }, 60_000)
  })
}
