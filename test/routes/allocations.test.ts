import { randomUUID } from 'node:crypto'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { afterEach, describe, expect, it } from 'vitest'
import type { FastifyInstance } from 'fastify'
import { auditDraw, type DrawRecord } from '../../gateway/domain/draw-audit.js'
import { ManualClock } from '../../gateway/store/clock.js'
import { createMemoryStores } from '../../gateway/store/memory/index.js'
import { buildApp, redisStores, testConfig } from '../helpers/app.js'
import { applicant, token } from '../helpers/tokens.js'

const AUDIT = fileURLToPath(new URL('../../dist/gateway/audit-allocation.js', import.meta.url))
const MONDAY_1PM_ET = Date.parse('2026-11-23T18:00:00Z')

for (const adapter of ['memory', 'redis'] as const) {
  describe(`the daily draw (${adapter})`, () => {
    let gateway: FastifyInstance
    afterEach(async () => { await gateway.close() })

    it('draws once per date, tells each applicant the result, and can be replayed from its record', async () => {
      const clock = new ManualClock(MONDAY_1PM_ET)
      const stores = adapter === 'memory' ? createMemoryStores({ clock }) : await redisStores({ clock })
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
      expect((await gateway.inject({ url: '/v1/ops/allocations/2026-11-24', headers: ops })).json().code).toBe('GW_ERR_ALLOC_NOT_FOUND')

      clock.set(Date.parse('2026-11-24T16:00:00Z'))
      const run = await gateway.inject({ method: 'POST', url: '/v1/ops/allocations', headers: { ...ops, 'idempotency-key': randomUUID() }, payload: { date: '2026-11-24', beacon: 'beacon-1' } })
      expect(run.statusCode).toBe(200)
      const summary = run.json()
      expect(summary).toMatchObject({ date: '2026-11-24', entries: 300, beacon: 'beacon-1', ranAt: '2026-11-24T16:00:00.000Z' })
      expect(summary.counts['eagle-pass']).toEqual({ capacity: 150, entries: 60, oldest: { groups: 45, people: 45 }, random: { groups: 15, people: 15 } })
      expect(summary.counts.laredo).toEqual({ capacity: 200, entries: 240, oldest: { groups: 60, people: 60 }, random: { groups: 140, people: 140 } })

      // A second run, even with another key, returns the first result.
      const again = await gateway.inject({ method: 'POST', url: '/v1/ops/allocations', headers: { ...ops, 'idempotency-key': randomUUID() }, payload: { date: '2026-11-24' } })
      expect(again.json()).toEqual(summary)

      const results = await Promise.all(asked.map(async ({ headers, requestId }) => (await gateway.inject({ url: `/v1/appointment-requests/${requestId}`, headers })).json()))
      const selected = results.filter((r) => r.status === 'selected')
      expect(selected).toHaveLength(260)
      expect(results.filter((r) => r.status === 'not-selected')).toHaveLength(40)
      for (const r of selected) {
        expect(r.appointment.confirmationNumber).toMatch(/^[0-9A-HJKMNP-TV-Z]{16}$/)
        expect(r.appointment.confirmBy).toBe('2026-11-25T15:00:00.000Z')
        expect(['08:00', '10:00', '12:00', '14:00']).toContain(r.appointment.slot)
      }
      expect(new Set(selected.map((r) => r.appointment.confirmationNumber)).size).toBe(260)

      // The exported record replays, by the function and by the script.
      const record = (await gateway.inject({ url: '/v1/ops/allocations/2026-11-24/record', headers: ops })).json() as DrawRecord
      expect(auditDraw(record)).toEqual([])
      const file = join(mkdtempSync(join(tmpdir(), 'draw-')), 'draw.json')
      writeFileSync(file, JSON.stringify(record))
      const audit = spawnSync(process.execPath, [AUDIT, '--file', file], { encoding: 'utf8' })
      expect(audit.stdout).toBe('draw 2026-11-24: matches (commitment, pool digest and 300 entries replayed)\n')
      // Only ops may look.
      expect((await gateway.inject({ url: '/v1/ops/allocations/2026-11-24', headers: asked[0]?.headers })).statusCode).toBe(403)
    }, 60_000)
  })
}
