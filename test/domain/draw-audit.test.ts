import { spawnSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { assignmentsDigest, auditDraw, canonicalPool, commitment, drawSeed, poolDigest, type DrawRecord } from '../../gateway/domain/draw-audit.js'
import { allocate, type PoolEntry } from '../../workers/allocation.js'

const AUDIT = fileURLToPath(new URL('../../dist/gateway/audit-allocation.js', import.meta.url))

function publishedDraw (beacon?: string): DrawRecord {
  const serverSeed = randomBytes(32)
  const entries: PoolEntry[] = Array.from({ length: 300 }, (_, i) => ({ registrationId: `reg_${i}`, createdAtMs: 1_000 + (i * 37) % 300, groupSize: 1 + (i % 3), identities: [`h${i}`], poe: i % 2 === 0 ? 'laredo' : 'nogales' }))
  const slots = { laredo: [{ slot: '08:00', capacity: 30 }, { slot: '10:00', capacity: 30 }], nogales: [{ slot: '08:00', capacity: 40 }] }
  const digest = poolDigest(entries)
  const result = allocate({ entries: canonicalPool(entries), slots, oldestShare: 0.3, seed: drawSeed(serverSeed, digest, beacon) })
  return {
    date: '2026-11-24',
    commitment: commitment(serverSeed),
    serverSeed: serverSeed.toString('hex'),
    ...(beacon === undefined ? {} : { beacon }),
    poolDigest: digest,
    oldestShare: 0.3,
    slots,
    entries,
    assignmentsDigest: assignmentsDigest(result)
  }
}

describe('draw audit (commit-reveal)', () => {
  it('replays an honest draw, whatever order its pool is listed in', () => {
    const record = publishedDraw('beacon-2026-11-24T16:00Z')
    expect(auditDraw(record)).toEqual([])
    expect(auditDraw({ ...record, entries: [...record.entries].reverse() })).toEqual([])
  })

  it('detects a seed that is not the committed one, an edited pool, a changed beacon and edited results', () => {
    const record = publishedDraw('b')
    expect(auditDraw({ ...record, serverSeed: randomBytes(32).toString('hex') })).toEqual(['seed does not match the commitment', 'assignments do not match the replay'])
    const edited = record.entries.map((e, i) => (i === 7 ? { ...e, createdAtMs: 0 } : e))
    expect(auditDraw({ ...record, entries: edited })).toContain('pool does not match its digest')
    expect(auditDraw({ ...record, beacon: 'c' })).toEqual(['assignments do not match the replay'])
    expect(auditDraw({ ...record, assignmentsDigest: '0'.repeat(64) })).toEqual(['assignments do not match the replay'])
  })

  it('moves the whole random order when one entry is added: the seed holder cannot steer by padding the pool', () => {
    const seed = randomBytes(32)
    const entries: PoolEntry[] = Array.from({ length: 200 }, (_, i) => ({ registrationId: `r${i}`, createdAtMs: i, groupSize: 1, identities: [`p${i}`], poe: 'a' }))
    const draw = (pool: PoolEntry[]) => allocate({ entries: canonicalPool(pool), slots: { a: [{ slot: 's', capacity: 20 }] }, oldestShare: 0, seed: drawSeed(seed, poolDigest(pool)) })
      .assignments.map((a) => a.registrationId)
    const before = draw(entries)
    const after = draw([...entries, { registrationId: 'r-extra', createdAtMs: 999, groupSize: 1, identities: ['p-extra'], poe: 'a' }]).filter((id) => id !== 'r-extra')
    const kept = before.filter((id) => after.includes(id)).length
    // Of 20 winners, about 20 * 20/200 = 2 would stay by chance; far from all 20.
    expect(kept).toBeLessThan(10)
  })

  it('npm run audit:allocation says matches, or names what does not and exits 1', () => {
    const dir = mkdtempSync(join(tmpdir(), 'draw-audit-'))
    const good = join(dir, 'good.json')
    const bad = join(dir, 'bad.json')
    const record = publishedDraw()
    writeFileSync(good, JSON.stringify(record))
    writeFileSync(bad, JSON.stringify({ ...record, entries: record.entries.slice(1) }))
    const ok = spawnSync(process.execPath, [AUDIT, '--file', good], { encoding: 'utf8' })
    expect(ok.status).toBe(0)
    expect(ok.stdout).toBe('draw 2026-11-24: matches (commitment, pool digest and 300 entries replayed)\n')
    const tampered = spawnSync(process.execPath, [AUDIT, '--file', bad], { encoding: 'utf8' })
    expect(tampered.status).toBe(1)
    expect(tampered.stdout).toBe('draw 2026-11-24: DOES NOT MATCH\n  - pool does not match its digest\n  - assignments do not match the replay\n')
  })
})
