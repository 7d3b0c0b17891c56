// The synthetic population: registrations as the 2023 system received them, generated lazily and
// deterministically from a seed (the same seed gives the same population on any machine), with
// the ground truth beside them. Used by tests, rehearsals and the fairness figures.
//
// - Households: one owner registers a group of 1 to 8 (mostly 1 to 4), all at the owner's address,
//   sharing the owner's family name; every household has an address of its own.
// - Languages and nationalities by the evaluation's split (names.ts).
// - Multi-registrants: a share of owners (4% by default, the evaluation's "10 or more") register
//   the same household again, 10 to 30 times; a few ("heavy") hundreds of times; a third of them
//   as bots, seconds apart from the same device, the rest over days, half of them from new devices.
// - Planted clusters: addresses claimed by many unrelated households across ports of entry (the
//   evaluation's four-bedroom house: 358 people of 266 family names over all eight POEs), each
//   household writing the address its own way (abbreviations, case, punctuation, ZIP+4).
// Namesakes (two people with the same name and date of birth) can happen, as in life; cluster
// members are born 1930-1949 and never collide with anyone.
import { createHash } from 'node:crypto'
import { DIRECTIONS, LANGUAGE_SHARES, STREETS, TOWNS, type LanguageGroup } from './names.js'

export interface ClusterSpec {
  /** People claiming the address (all members of all its households). */
  claimants: number
  /** Distinct family names among them: one household per family name. */
  distinctLastNames: number
  /** Ports of entry the households spread over, round robin (1 to all). */
  poes: number
}

/**
 * The evaluation's seven addresses with 1,696 people: the four-bedroom house (358 people, 266
 * family names, all eight POEs) and six more; their family-name counts and spreads are ours.
 */
export const EVALUATION_CLUSTERS: readonly ClusterSpec[] = [
  { claimants: 358, distinctLastNames: 266, poes: 8 },
  { claimants: 301, distinctLastNames: 210, poes: 8 },
  { claimants: 254, distinctLastNames: 180, poes: 6 },
  { claimants: 233, distinctLastNames: 160, poes: 5 },
  { claimants: 198, distinctLastNames: 140, poes: 4 },
  { claimants: 187, distinctLastNames: 120, poes: 3 },
  { claimants: 165, distinctLastNames: 100, poes: 2 }
]

export interface PopulationOptions {
  /** Households that register (owners), planted ones included. */
  registrants: number
  seed: string
  /** Port-of-entry slugs, e.g. the gateway's config. */
  poes: readonly string[]
  /** Days the first registrations spread over (default 9, the evaluation's first nine days). */
  days?: number
  /** Share of ordinary owners who register 10 or more times (default 0.04). */
  multiRegistrantShare?: number
  /** Owners who register hundreds of times (default one per 50,000 registrants, at least 1). */
  heavyRegistrants?: number
  /** Planted shared addresses (default EVALUATION_CLUSTERS). */
  clusters?: readonly ClusterSpec[]
}

export interface SynthMember {
  firstName: string
  lastName: string
  dateOfBirth: string
  nationality: string
  usAddress: { line1: string, line2?: string, city: string, state: string, zip: string }
}

/** One registration attempt, in time order. */
export interface SynthRegistration {
  /** Seconds since the population's start. */
  at: number
  /** The household (ground truth: one household is one set of people). */
  household: number
  /** Which of the household's registrations this is, from 0. */
  attempt: number
  /** Account and device the attempt came from (a repeat may use a new device). */
  account: string
  device: string
  preferredLanguage: string
  /** The port of entry its appointment requests name. */
  poe: string
  members: SynthMember[]
  /** Index into the planted clusters, or -1. */
  cluster: number
}

export interface ClusterTruth extends ClusterSpec {
  /** The address as first written (line1, city, state, ZIP). */
  address: { line1: string, city: string, state: string, zip: string }
  households: number
  /** Claimants per POE slug and households per POE slug (every configured POE, 0 included). */
  claimantsPerPoe: Record<string, number>
  householdsPerPoe: Record<string, number>
}

export interface PopulationTruth {
  households: number
  /** Registration attempts in all. */
  registrations: number
  people: number
  multiRegistrants: number
  heavyRegistrants: number
  clusters: ClusterTruth[]
  /** Households by preferred language. */
  languages: Record<string, number>
}

/** Options that do not describe a population, with the rule they break. */
export class PopulationError extends Error {}

// --- determinism ------------------------------------------------------------------------------

/** A 32-bit integer hash of (seed, a, b): the per-household randomness, without state. */
function mix (seed: number, a: number, b = 0): number {
  let h = (seed ^ Math.imul(a + 0x9e3779b9, 0x85ebca6b) ^ Math.imul(b + 0x7f4a7c15, 0xc2b2ae35)) >>> 0
  h = Math.imul(h ^ (h >>> 16), 0x7feb352d) >>> 0
  h = Math.imul(h ^ (h >>> 15), 0x846ca68b) >>> 0
  return (h ^ (h >>> 16)) >>> 0
}

/** A uniform number in [0, 1) from (seed, a, b). */
const unit = (seed: number, a: number, b = 0): number => mix(seed, a, b) / 4294967296

function seedOf (text: string): number {
  return createHash('sha256').update(text).digest().readUInt32BE(0)
}

const pick = <T>(list: readonly T[], u: number): T => list[Math.min(list.length - 1, Math.floor(u * list.length))] as T

function weighted<T> (entries: ReadonlyArray<readonly [T, number]>, u: number): T {
  let acc = 0
  for (const [value, share] of entries) {
    acc += share
    if (u < acc) return value
  }
  return (entries.at(-1) as readonly [T, number])[0]
}

// --- people and places ---------------------------------------------------------------------------

/** Household sizes: mostly single adults and small families (the registration allows 8). */
const SIZES: ReadonlyArray<readonly [number, number]> = [[1, 0.52], [2, 0.17], [3, 0.13], [4, 0.1], [5, 0.05], [6, 0.02], [7, 0.007], [8, 0.003]]

const DAY_MS = 86_400_000
const ADULT_FROM = Date.UTC(1955, 0, 1)
const ADULT_DAYS = 18_250
const CHILD_FROM = Date.UTC(2008, 0, 1)
const CHILD_DAYS = 5_400
const ELDER_FROM = Date.UTC(1930, 0, 1)
const ELDER_DAYS = 7_300

const isoDate = (ms: number): string => new Date(ms).toISOString().slice(0, 10)

function familyName (group: LanguageGroup, u: number, v: number): string {
  if (!group.compound) return pick(group.family, u)
  return `${pick(group.family, u)} ${pick(group.family, v)}`
}

/** Every family name of every group, singles first, then Spanish two-name families: distinct. */
function distinctFamilies (): Array<{ name: string, group: LanguageGroup }> {
  const out: Array<{ name: string, group: LanguageGroup }> = []
  const seen = new Set<string>()
  for (const [group] of LANGUAGE_SHARES) for (const f of group.family) if (!seen.has(f)) { seen.add(f); out.push({ name: f, group }) }
  const spanish = (LANGUAGE_SHARES[0] as readonly [LanguageGroup, number])[0]
  for (const a of spanish.family) {
    for (const b of spanish.family) {
      const name = `${a} ${b}`
      if (a !== b && !seen.has(name)) { seen.add(name); out.push({ name, group: spanish }) }
    }
  }
  return out
}

const STREET_ABBREVIATIONS: Record<string, string> = { Street: 'St', Avenue: 'Ave', Drive: 'Dr', Boulevard: 'Blvd', Lane: 'Ln', Road: 'Rd', Court: 'Ct', Place: 'Pl', Way: 'Way' }

interface Place { number: number, direction: string | null, street: string, suffix: string, unit: string | null, town: string, state: string, zip: string, plus4: string }

/** The k-th household's own address: distinct for every k below 5.4 million (house numbers 100 to 9099). */
function householdPlace (k: number): Place {
  const [street, suffix] = STREETS[Math.floor(k / 9000) % STREETS.length] as readonly [string, string]
  const [town, state, zip3] = TOWNS[Math.floor(k / (9000 * STREETS.length)) % TOWNS.length] as readonly [string, string, string]
  const unit = k >= 9000 * STREETS.length * TOWNS.length ? `${1 + Math.floor(k / (9000 * STREETS.length * TOWNS.length))}` : null
  return { number: 100 + (k % 9000), direction: null, street, suffix, unit, town, state, zip: `${zip3}${String(k % 100).padStart(2, '0')}`, plus4: String(1000 + (k % 9000)).slice(-4) }
}

/** A planted cluster's house: five-digit house numbers, which households never have. */
function clusterPlace (c: number, seed: number): Place {
  const [street, suffix] = pick(STREETS, unit(seed, 7_000_001, c))
  const [town, state, zip3] = pick(TOWNS, unit(seed, 7_000_002, c))
  return { number: 10_000 + c * 1_111 + Math.floor(unit(seed, 7_000_003, c) * 1000), direction: pick(DIRECTIONS, unit(seed, 7_000_004, c)), street, suffix, unit: null, town, state, zip: `${zip3}${String(c).padStart(2, '0')}`, plus4: String(1000 + c * 7).slice(-4) }
}

/** The same place as a household writes it: five ways, as the evaluation's addresses were. */
export function writeAddress (p: Place, way: number): SynthMember['usAddress'] {
  const dir = p.direction
  const abbr = STREET_ABBREVIATIONS[p.suffix] ?? p.suffix
  let line1: string
  let city = p.town
  let zip = p.zip
  let line2: string | undefined = p.unit === null ? undefined : `Apartment ${p.unit}`
  switch (way % 5) {
    case 0: line1 = `${p.number} ${dir === null ? '' : `${dir} `}${p.street} ${p.suffix}`; break
    case 1: line1 = `${p.number} ${dir === null ? '' : `${dir[0] as string}. `}${p.street} ${abbr}.`; zip = `${p.zip}-${p.plus4}`; if (p.unit !== null) line2 = `Apt. ${p.unit}`; break
    case 2: line1 = `${p.number} ${dir === null ? '' : `${(dir[0] as string).toLowerCase()} `}${p.street.toLowerCase()} ${abbr.toLowerCase()}`; city = p.town.toLowerCase(); if (p.unit !== null) line2 = `#${p.unit}`; break
    case 3: line1 = `${p.number}  ${dir === null ? '' : `${dir.toUpperCase()} `}${p.street.toUpperCase()} ${p.suffix.toUpperCase()}`; city = p.town.toUpperCase(); if (p.unit !== null) line2 = `UNIT ${p.unit}`; break
    default: line1 = `${p.number} ${dir === null ? '' : `${dir[0] as string} `}${p.street} ${abbr},`; city = `${p.town} `; zip = `${p.zip}-${p.plus4}`; if (p.unit !== null) line2 = `apt ${p.unit}`
  }
  return line2 === undefined ? { line1, city, state: p.state, zip } : { line1, line2, city, state: p.state, zip }
}

// --- the population ------------------------------------------------------------------------------

interface Plan {
  seed: number
  options: Required<PopulationOptions>
  /** Per household: its cluster or -1, its size, its repeat count, and whether a bot. */
  cluster: Int32Array
  clusterHousehold: Int32Array
  repeats: Int32Array
  /** Attempts sorted by time: household and attempt. */
  order: Array<{ at: number, household: number, attempt: number }>
  families: Array<{ name: string, group: LanguageGroup }>
  truth: PopulationTruth
}

function validate (o: PopulationOptions): Required<PopulationOptions> {
  if (!Number.isInteger(o.registrants) || o.registrants < 1 || o.registrants > 5_000_000) throw new PopulationError(`registrants must be a whole number from 1 to 5,000,000, got ${o.registrants}`)
  if (o.poes.length === 0) throw new PopulationError('poes must name at least one port of entry')
  const clusters = o.clusters ?? EVALUATION_CLUSTERS
  const planted = clusters.reduce((sum, c) => sum + c.distinctLastNames, 0)
  clusters.forEach((c, i) => {
    if (!Number.isInteger(c.distinctLastNames) || c.distinctLastNames < 1) throw new PopulationError(`clusters[${i}].distinctLastNames must be a positive whole number`)
    if (!Number.isInteger(c.claimants) || c.claimants < c.distinctLastNames || c.claimants > c.distinctLastNames * 8) throw new PopulationError(`clusters[${i}].claimants must be from distinctLastNames to 8 times it (households of 1 to 8), got ${c.claimants}`)
    if (!Number.isInteger(c.poes) || c.poes < 1 || c.poes > o.poes.length) throw new PopulationError(`clusters[${i}].poes must be from 1 to ${o.poes.length}, got ${c.poes}`)
  })
  const plantedPeople = clusters.reduce((sum, c) => sum + c.claimants, 0)
  if (plantedPeople > ELDER_DAYS) throw new PopulationError(`the planted clusters hold ${plantedPeople} people; at most ${ELDER_DAYS} can be planted`)
  if (planted > o.registrants) throw new PopulationError(`the planted clusters need ${planted} households, more than registrants (${o.registrants})`)
  const share = o.multiRegistrantShare ?? 0.04
  if (!(share >= 0 && share <= 0.5)) throw new PopulationError(`multiRegistrantShare must be from 0 to 0.5, got ${share}`)
  const days = o.days ?? 9
  if (!(days > 0 && days <= 366)) throw new PopulationError(`days must be above 0 and at most 366, got ${days}`)
  const heavy = o.heavyRegistrants ?? Math.max(1, Math.round(o.registrants / 50_000))
  if (!Number.isInteger(heavy) || heavy < 0 || heavy > o.registrants - planted) throw new PopulationError(`heavyRegistrants must be a whole number from 0 to the unplanted households, got ${heavy}`)
  return { registrants: o.registrants, seed: o.seed, poes: o.poes, days, multiRegistrantShare: share, heavyRegistrants: heavy, clusters }
}

function plan (input: PopulationOptions): Plan {
  const options = validate(input)
  const seed = seedOf(`synthetic-population:${options.seed}`)
  const n = options.registrants
  const cluster = new Int32Array(n).fill(-1)
  const clusterHousehold = new Int32Array(n).fill(-1)
  const repeats = new Int32Array(n).fill(1)
  const families = distinctFamilies()
  const clusters = options.clusters
  const needed = clusters.reduce((m, c) => Math.max(m, c.distinctLastNames), 0)
  if (needed > families.length) throw new PopulationError(`a cluster asks for ${needed} distinct family names; the name lists hold ${families.length}`)

  // Planted households at spread-out positions, so they arrive over the whole period.
  const planted = clusters.reduce((sum, c) => sum + c.distinctLastNames, 0)
  const stride = n / Math.max(1, planted)
  let slot = 0
  clusters.forEach((c, ci) => {
    for (let h = 0; h < c.distinctLastNames; h++, slot++) {
      const household = Math.min(n - 1, Math.floor(slot * stride))
      cluster[household] = ci
      clusterHousehold[household] = h
    }
  })
  // Multi-registrants among the rest: heavy ones first (hundreds), then the share (10 to 30).
  const ordinary: number[] = []
  for (let k = 0; k < n; k++) if (cluster[k] === -1) ordinary.push(k)
  const chosen = ordinary.map((k) => ({ k, u: unit(seed, 1, k) })).sort((a, b) => a.u - b.u)
  const heavy = options.heavyRegistrants
  const multi = Math.round(ordinary.length * options.multiRegistrantShare)
  chosen.forEach(({ k }, i) => {
    if (i < heavy) repeats[k] = 100 + Math.floor(unit(seed, 2, k) * 301)
    else if (i < heavy + multi) repeats[k] = 10 + Math.floor(unit(seed, 3, k) * 21)
  })

  const horizon = options.days * 86_400
  const order: Plan['order'] = []
  for (let k = 0; k < n; k++) {
    const first = unit(seed, 4, k) * horizon
    const r = repeats[k] as number
    const bot = r > 1 && unit(seed, 5, k) < 1 / 3
    let at = first
    for (let a = 0; a < r; a++) {
      if (a > 0) at += bot ? 2 + unit(seed, 6, k * 1000 + a) * 8 : 600 + unit(seed, 6, k * 1000 + a) * 36_000
      order.push({ at: Math.round(at * 1000) / 1000, household: k, attempt: a })
    }
  }
  order.sort((x, y) => x.at - y.at || x.household - y.household || x.attempt - y.attempt)

  const languages: Record<string, number> = {}
  let people = 0
  const truthClusters: ClusterTruth[] = clusters.map((c, ci) => {
    const place = clusterPlace(ci, seed)
    const perPoe = Object.fromEntries(options.poes.map((p) => [p, 0]))
    return {
      ...c,
      address: { line1: writeAddress(place, 0).line1, city: place.town, state: place.state, zip: place.zip },
      households: c.distinctLastNames,
      claimantsPerPoe: { ...perPoe },
      householdsPerPoe: { ...perPoe }
    }
  })
  const plannedPlan = { seed, options, cluster, clusterHousehold, repeats, order, families, truth: undefined as unknown as PopulationTruth }
  for (let k = 0; k < n; k++) {
    const shape = household(plannedPlan, k)
    people += shape.size
    languages[shape.group.language] = (languages[shape.group.language] ?? 0) + 1
    const ci = cluster[k] as number
    if (ci >= 0) {
      const t = truthClusters[ci] as ClusterTruth
      t.claimantsPerPoe[shape.poe] = (t.claimantsPerPoe[shape.poe] ?? 0) + shape.size
      t.householdsPerPoe[shape.poe] = (t.householdsPerPoe[shape.poe] ?? 0) + 1
    }
  }
  plannedPlan.truth = {
    households: n,
    registrations: order.length,
    people,
    multiRegistrants: multi,
    heavyRegistrants: heavy,
    clusters: truthClusters,
    languages
  }
  return plannedPlan
}

interface HouseholdShape { size: number, group: LanguageGroup, family: string, poe: string, place: Place, way: number, /** Planted: the first member's number among all planted people. */ plantedFrom: number }

function household (p: Omit<Plan, 'truth'>, k: number): HouseholdShape {
  const { seed, options } = p
  const ci = p.cluster[k] as number
  if (ci >= 0) {
    const spec = options.clusters[ci] as ClusterSpec
    const h = p.clusterHousehold[k] as number
    // Claimants spread over the households as evenly as the counts allow: sizes differ by at most one.
    const base = Math.floor(spec.claimants / spec.distinctLastNames)
    const size = base + (h < spec.claimants % spec.distinctLastNames ? 1 : 0)
    // Family names are distinct within a cluster: a rotation through the distinct list per cluster.
    const f = p.families[(h + ci * 37) % p.families.length] as { name: string, group: LanguageGroup }
    let plantedFrom = h * base + Math.min(h, spec.claimants % spec.distinctLastNames)
    for (let c = 0; c < ci; c++) plantedFrom += (options.clusters[c] as ClusterSpec).claimants
    return { size, group: f.group, family: f.name, poe: options.poes[h % spec.poes] as string, place: clusterPlace(ci, seed), way: h, plantedFrom }
  }
  const group = weighted(LANGUAGE_SHARES, unit(seed, 10, k))
  return {
    size: weighted(SIZES, unit(seed, 11, k)),
    group,
    family: familyName(group, unit(seed, 12, k), unit(seed, 13, k)),
    poe: pick(options.poes, unit(seed, 14, k)),
    place: householdPlace(k),
    way: Math.floor(unit(seed, 15, k) * 5),
    plantedFrom: -1
  }
}

function members (p: Omit<Plan, 'truth'>, k: number, shape: HouseholdShape): SynthMember[] {
  const { seed } = p
  const planted = (p.cluster[k] as number) >= 0
  const nationality = pick(shape.group.nationalities, unit(seed, 20, k))
  const address = writeAddress(shape.place, shape.way)
  const out: SynthMember[] = []
  for (let m = 0; m < shape.size; m++) {
    // Planted people are born 1930-1949, each on a day of their own: no one else shares them.
    const born = planted
      ? ELDER_FROM + (shape.plantedFrom + m) * DAY_MS
      : m >= 2 ? CHILD_FROM + Math.floor(unit(seed, 21, k * 8 + m) * CHILD_DAYS) * DAY_MS : ADULT_FROM + Math.floor(unit(seed, 21, k * 8 + m) * ADULT_DAYS) * DAY_MS
    const given = planted ? shape.group.given[m % shape.group.given.length] as string : pick(shape.group.given, unit(seed, 22, k * 8 + m))
    out.push({ firstName: given, lastName: shape.family, dateOfBirth: isoDate(born), nationality, usAddress: { ...address } })
  }
  return out
}

export interface Population {
  truth: PopulationTruth
  /** The registration attempts in time order; each call starts again from the first. */
  registrations(): Generator<SynthRegistration>
}

/** Plans the population (ground truth included) and returns a lazy generator of its registrations. */
export function population (options: PopulationOptions): Population {
  const p = plan(options)
  return {
    truth: p.truth,
    * registrations () {
      for (const { at, household: k, attempt } of p.order) {
        const shape = household(p, k)
        const bot = (p.repeats[k] as number) > 1 && unit(p.seed, 5, k) < 1 / 3
        // Bots keep their device; others come back from a new one half the time.
        const newDevice = attempt > 0 && !bot && unit(p.seed, 30, k * 1000 + attempt) < 0.5
        const deviceSerial = newDevice ? attempt : 0
        yield {
          at,
          household: k,
          attempt,
          account: `synth-${k}`,
          device: `00000000-0000-4000-8000-${(k * 512 + (deviceSerial % 512)).toString(16).padStart(12, '0').slice(-12)}`,
          preferredLanguage: shape.group.language,
          poe: shape.poe,
          members: members(p, k, shape),
          cluster: p.cluster[k] as number
        }
      }
    }
  }
}
