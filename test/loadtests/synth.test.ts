// The synthetic population: deterministic from its seed, the evaluation's language split and
// multi-registrant share, planted clusters exactly as their truth says, every household at an
// address of its own, and every registration one the gateway's schema accepts.
import { spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Compile } from 'typebox/compile'
import { afterAll, describe, expect, it } from 'vitest'
import { defaults } from '../../config/defaults.js'
import { normaliseAddress } from '../../gateway/domain/address.js'
import { newRegistrationSchema } from '../../gateway/schemas/registration.js'
import { EVALUATION_CLUSTERS, population, type ClusterSpec, type SynthRegistration } from '../../loadtests/synth/population.js'

const POES = defaults.poes.map((p) => p.slug)
const CLUSTERS: ClusterSpec[] = [
  { claimants: 40, distinctLastNames: 30, poes: 8 },
  { claimants: 12, distinctLastNames: 12, poes: 3 },
  { claimants: 25, distinctLastNames: 9, poes: 1 }
]

function all (registrants: number, seed: string, clusters: ClusterSpec[] = CLUSTERS): { truth: ReturnType<typeof population>['truth'], rows: SynthRegistration[] } {
  const pop = population({ registrants, seed, poes: POES, clusters })
  return { truth: pop.truth, rows: [...pop.registrations()] }
}

/** A crude key of a written address, enough to tell this generator's households apart. */
function houseKey (a: SynthRegistration['members'][number]['usAddress']): string {
  const words = a.line1.toLowerCase().replace(/[.,]/g, '').split(/\s+/)
  return `${words[0] as string}|${words.at(-2) as string}|${a.city.trim().toLowerCase()}|${a.zip.slice(0, 5)}|${a.line2?.replace(/\D/g, '') ?? ''}`
}

describe('the synthetic population', () => {
  const { truth, rows } = all(20_000, 'test-seed')

  it('is the same for the same seed and differs for another', () => {
    const again = [...population({ registrants: 20_000, seed: 'test-seed', poes: POES, clusters: CLUSTERS }).registrations()].slice(0, 200)
    expect(again).toEqual(rows.slice(0, 200))
    const other = [...population({ registrants: 20_000, seed: 'other-seed', poes: POES, clusters: CLUSTERS }).registrations()].slice(0, 200)
    expect(other).not.toEqual(rows.slice(0, 200))
  })

  it('comes in time order, with the evaluation\'s language split within a percentage point', () => {
    for (let i = 1; i < rows.length; i++) expect((rows[i] as SynthRegistration).at >= (rows[i - 1] as SynthRegistration).at).toBe(true)
    const share = (l: string): number => (truth.languages[l] ?? 0) / truth.households
    expect(Math.abs(share('es') - 0.577)).toBeLessThan(0.01)
    expect(Math.abs(share('ht') - 0.233)).toBeLessThan(0.01)
    expect(Math.abs(share('ru') - 0.133)).toBeLessThan(0.01)
    expect(Math.abs(share('en') - 0.007)).toBeLessThan(0.005)
    expect(Math.abs(share('pt') - 0.05)).toBeLessThan(0.01)
    expect(truth.households).toBe(20_000)
    expect(truth.registrations).toBe(rows.length)
  })

  it('has 4% of ordinary households registering 10 to 30 times, a heavy one hundreds of times, and bots seconds apart', () => {
    const attempts = new Map<number, SynthRegistration[]>()
    for (const r of rows) {
      const list = attempts.get(r.household) ?? []
      list.push(r)
      attempts.set(r.household, list)
    }
    const counts = [...attempts.values()].map((l) => l.length)
    const ordinary = 20_000 - CLUSTERS.reduce((s, c) => s + c.distinctLastNames, 0)
    expect(counts.filter((n) => n >= 10 && n <= 30).length).toBe(Math.round(ordinary * 0.04))
    expect(counts.filter((n) => n >= 100 && n <= 400).length).toBe(1)
    expect(counts.filter((n) => n > 30 && n < 100).length).toBe(0)
    expect(truth.multiRegistrants).toBe(Math.round(ordinary * 0.04))
    // A repeat is the same household: the same people, at the same address.
    let bots = 0
    for (const list of attempts.values()) {
      if (list.length < 10) continue
      for (const r of list) expect(r.members).toEqual((list[0] as SynthRegistration).members)
      const gaps = list.slice(1).map((r, i) => r.at - (list[i] as SynthRegistration).at)
      if (gaps.every((g) => g >= 2 && g <= 10.001) && list.every((r) => r.device === (list[0] as SynthRegistration).device)) bots++
    }
    expect(bots).toBeGreaterThan(truth.multiRegistrants / 5)
    expect(bots).toBeLessThan(truth.multiRegistrants / 2)
  })

  it('plants each cluster with exactly its claimants, family names and spread over ports of entry, written several ways', () => {
    expect(truth.clusters.map((c) => [c.claimants, c.distinctLastNames, c.households])).toEqual(CLUSTERS.map((c) => [c.claimants, c.distinctLastNames, c.distinctLastNames]))
    CLUSTERS.forEach((spec, ci) => {
      const first = rows.filter((r) => r.cluster === ci && r.attempt === 0)
      expect(first.length).toBe(spec.distinctLastNames)
      const people = first.flatMap((r) => r.members)
      expect(people.length).toBe(spec.claimants)
      expect(new Set(people.map((m) => m.lastName)).size).toBe(spec.distinctLastNames)
      expect(new Set(people.map((m) => houseKey(m.usAddress))).size).toBe(1)
      expect(new Set(people.map((m) => `${m.usAddress.line1}|${m.usAddress.city}|${m.usAddress.zip}`)).size).toBe(Math.min(5, spec.distinctLastNames))
      const claimants: Record<string, number> = Object.fromEntries(POES.map((p) => [p, 0]))
      for (const r of first) claimants[r.poe] = (claimants[r.poe] ?? 0) + r.members.length
      expect(claimants).toEqual(truth.clusters[ci]?.claimantsPerPoe)
      expect(Object.values(claimants).filter((n) => n > 0).length).toBe(spec.poes)
      // Planted households register once.
      expect(rows.filter((r) => r.cluster === ci).length).toBe(spec.distinctLastNames)
    })
  })

  it('gives every other household an address of its own, shared by its members and its repeats', () => {
    const owner = new Map<string, number>()
    for (const r of rows) {
      if (r.cluster >= 0) continue
      const keys = new Set(r.members.map((m) => houseKey(m.usAddress)))
      expect(keys.size).toBe(1)
      const key = [...keys][0] as string
      const seen = owner.get(key)
      if (seen === undefined) owner.set(key, r.household)
      else expect(seen).toBe(r.household)
      expect(new Set(r.members.map((m) => m.lastName)).size).toBe(1)
    }
    expect(owner.size).toBe(20_000 - CLUSTERS.reduce((s, c) => s + c.distinctLastNames, 0))
  })

  it('reads, through the gateway\'s own address normalisation, as one address per planted cluster and one per household', () => {
    const planted = CLUSTERS.map((_, ci) => new Set(rows.filter((r) => r.cluster === ci).flatMap((r) => r.members.map((m) => normaliseAddress(m.usAddress)))))
    expect(planted.map((keys) => keys.size)).toEqual([1, 1, 1])
    const households = new Map<string, number>()
    for (const r of rows) {
      if (r.cluster >= 0) continue
      const key = normaliseAddress((r.members[0] as SynthRegistration['members'][number]).usAddress)
      expect(planted.some((keys) => keys.has(key))).toBe(false)
      const seen = households.get(key)
      if (seen === undefined) households.set(key, r.household)
      else expect(seen).toBe(r.household)
    }
    expect(households.size).toBe(20_000 - CLUSTERS.reduce((s, c) => s + c.distinctLastNames, 0))
  })

  it('writes registrations the gateway\'s schema accepts, with device ids it accepts', () => {
    const validator = Compile(newRegistrationSchema(defaults.registrations.maxMembers))
    const today = new Date().toISOString().slice(0, 10)
    for (const r of rows.slice(0, 3000)) {
      expect(validator.Check({ members: r.members, preferredLanguage: r.preferredLanguage })).toBe(true)
      expect(r.device).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/)
      for (const m of r.members) expect(m.dateOfBirth < today).toBe(true)
    }
  })

  it('gives planted people identities no one else has', () => {
    const identity = (m: SynthRegistration['members'][number]): string => `${m.firstName}|${m.lastName}|${m.dateOfBirth}`
    const planted = new Set(rows.filter((r) => r.cluster >= 0).flatMap((r) => r.members.map(identity)))
    expect(planted.size).toBe(CLUSTERS.reduce((s, c) => s + c.claimants, 0))
    for (const r of rows) if (r.cluster < 0) for (const m of r.members) expect(planted.has(identity(m))).toBe(false)
  })

  it('plants the evaluation\'s seven addresses with 1,696 people by default, the house with 358 of 266 names over all eight POEs', () => {
    const pop = population({ registrants: 5_000, seed: 'evaluation', poes: POES })
    expect(pop.truth.clusters.reduce((s, c) => s + c.claimants, 0)).toBe(1_696)
    expect(pop.truth.clusters[0]).toMatchObject({ claimants: 358, distinctLastNames: 266, poes: 8 })
    expect(Object.values(pop.truth.clusters[0]?.claimantsPerPoe ?? {}).every((n) => n > 0)).toBe(true)
    expect(EVALUATION_CLUSTERS).toHaveLength(7)
  })

  it('refuses options that describe no population, with exact messages', () => {
    const cases: Array<[Parameters<typeof population>[0], string]> = [
      [{ registrants: 0, seed: 's', poes: POES }, 'registrants must be a whole number from 1 to 5,000,000, got 0'],
      [{ registrants: 100, seed: 's', poes: POES }, 'the planted clusters need 1176 households, more than registrants (100)'],
      [{ registrants: 100, seed: 's', poes: POES, clusters: [{ claimants: 9, distinctLastNames: 1, poes: 1 }] }, 'clusters[0].claimants must be from distinctLastNames to 8 times it (households of 1 to 8), got 9'],
      [{ registrants: 100, seed: 's', poes: POES, clusters: [{ claimants: 4, distinctLastNames: 2, poes: 9 }] }, 'clusters[0].poes must be from 1 to 8, got 9'],
      [{ registrants: 100, seed: 's', poes: [] }, 'poes must name at least one port of entry'],
      [{ registrants: 100, seed: 's', poes: POES, clusters: [], multiRegistrantShare: 0.9 }, 'multiRegistrantShare must be from 0 to 0.5, got 0.9']
    ]
    for (const [options, message] of cases) expect(() => population(options)).toThrow(message)
  })
})

describe('npm run synth', () => {
  const CLI = fileURLToPath(new URL('../../dist/loadtests/synth/run.js', import.meta.url))
  const dir = mkdtempSync(join(tmpdir(), 'synth-test-'))
  afterAll(() => { rmSync(dir, { recursive: true, force: true }) })

  it('writes the registrations and the truth, and ends with the synth line', () => {
    const run = spawnSync(process.execPath, [CLI, '--registrants', '3000', '--seed', 'cli-test', '--out', dir], { encoding: 'utf8', timeout: 60_000 })
    expect(run.status).toBe(0)
    const last = run.stdout.trim().split('\n').at(-1) as string
    const match = /^synth: registrants=3000 registrations=(\d+) people=(\d+) clusters=7 seed=cli-test$/.exec(last)
    expect(match).not.toBe(null)
    const lines = readFileSync(join(dir, 'registrations.ndjson'), 'utf8').trim().split('\n')
    expect(lines.length).toBe(Number(match?.[1]))
    const truth = JSON.parse(readFileSync(join(dir, 'truth.json'), 'utf8')) as { people: number, clusters: Array<{ claimants: number }> }
    expect(truth.people).toBe(Number(match?.[2]))
    expect(truth.clusters.map((c) => c.claimants)).toEqual(EVALUATION_CLUSTERS.map((c) => c.claimants))
  })

  it('refuses a missing or malformed --registrants', () => {
    const missing = spawnSync(process.execPath, [CLI], { encoding: 'utf8', timeout: 15_000 })
    expect(missing.status).toBe(2)
    expect(missing.stderr).toBe('synth: --registrants is required, for example --registrants 264554\n')
    const bad = spawnSync(process.execPath, [CLI, '--registrants', '1e6'], { encoding: 'utf8', timeout: 15_000 })
    expect(bad.status).toBe(2)
    expect(bad.stderr).toBe('synth: --registrants must be a whole number, got "1e6"\n')
  })
})
