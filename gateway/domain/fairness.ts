// Fairness figures of a draw: how many registrations entered and how many won, by preferred
// language, nationality (of the first member), registration age at the draw and group size.
// Pure: the draw (allocations.ts) hands over its entrants with their coarse traits and the
// winners; metrics and the audit record show what comes out. Every value set is bounded, so the
// figures can be metric labels: languages are the gateway's own plus `other`, nationalities the
// `topNationalities` most frequent of the draw plus `other`, ages the configured buckets, group
// sizes the registration's own bound. Nothing here is about one person.

/** What a draw's entrant carries for the figures: coarse, never a name, a date of birth or an address. */
export interface EntrantTraits {
  /** The registration's preferred language as given (a BCP 47 tag), or '' when not known. */
  language: string
  /** ISO 3166-1 alpha-3 of the first member, or '' when not known. */
  nationality: string
  /** Registration time, epoch ms. */
  createdAtMs: number
  groupSize: number
  won: boolean
}

export interface FairnessRules {
  /** Languages with a value of their own; any other is `other`. */
  languages: readonly string[]
  /** Ascending bucket edges in days: [1, 7, 30] makes <1d, 1-7d, 7-30d, 30d+. */
  ageBucketDays: readonly number[]
  /** Nationalities with a value of their own, the most frequent in the draw first; the rest are `other`. */
  topNationalities: number
}

export const FAIRNESS_DIMENSIONS = ['language', 'nationality', 'age', 'group_size'] as const
export type FairnessDimension = typeof FAIRNESS_DIMENSIONS[number]

/** One value of one dimension: registrations that entered, that won, and the share that won. */
export interface FairnessRow {
  dimension: FairnessDimension
  value: string
  entrants: number
  winners: number
  /** winners / entrants, 0 when nobody entered. */
  selectionRate: number
}

export interface FairnessFigures {
  /** The instant ages are measured at (the draw's scheduled time), ISO 8601. */
  at: string
  entrants: number
  winners: number
  rows: FairnessRow[]
}

const DAY_MS = 24 * 3600_000
const OTHER = 'other'
const UNKNOWN = 'unknown'

/** The language's primary subtag when it is one of `languages`, else `other` (`unknown` when not given). */
export function languageValue (tag: string, languages: readonly string[]): string {
  if (tag === '') return UNKNOWN
  const primary = (tag.split('-')[0] as string).toLowerCase()
  return languages.includes(primary) ? primary : OTHER
}

/** The labels of the age buckets, youngest first: [1, 7, 30] gives <1d, 1-7d, 7-30d, 30d+. */
export function ageBucketLabels (edges: readonly number[]): string[] {
  if (edges.length === 0) return ['all']
  const labels = [`<${edges[0] as number}d`]
  for (let i = 1; i < edges.length; i++) labels.push(`${edges[i - 1] as number}-${edges[i] as number}d`)
  labels.push(`${edges.at(-1) as number}d+`)
  return labels
}

/** The bucket of a registration `ageMs` old (an edge belongs to the older bucket). */
export function ageBucket (ageMs: number, edges: readonly number[]): string {
  const labels = ageBucketLabels(edges)
  const days = ageMs / DAY_MS
  const i = edges.findIndex((edge) => days < edge)
  return labels[i < 0 ? labels.length - 1 : i] as string
}

const rate = (winners: number, entrants: number): number => entrants === 0 ? 0 : winners / entrants

/** The figures of one draw: every value of every dimension with entrants, in a stable order. */
export function fairnessFigures (entrants: readonly EntrantTraits[], atMs: number, rules: FairnessRules): FairnessFigures {
  // Nationalities kept by name: the most frequent, ties by code, so the same draw gives the same labels.
  const byNationality = new Map<string, number>()
  for (const e of entrants) {
    if (/^[A-Z]{3}$/.test(e.nationality)) byNationality.set(e.nationality, (byNationality.get(e.nationality) ?? 0) + 1)
  }
  const kept = new Set([...byNationality].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).slice(0, rules.topNationalities).map(([code]) => code))
  const nationalityValue = (code: string): string => code === '' ? UNKNOWN : kept.has(code) ? code : OTHER

  const tallies = new Map<FairnessDimension, Map<string, { entrants: number, winners: number }>>(FAIRNESS_DIMENSIONS.map((d) => [d, new Map()]))
  const count = (dimension: FairnessDimension, value: string, won: boolean): void => {
    const values = tallies.get(dimension) as Map<string, { entrants: number, winners: number }>
    let tally = values.get(value)
    if (tally === undefined) values.set(value, tally = { entrants: 0, winners: 0 })
    tally.entrants += 1
    if (won) tally.winners += 1
  }
  let winners = 0
  for (const e of entrants) {
    if (e.won) winners += 1
    count('language', languageValue(e.language, rules.languages), e.won)
    count('nationality', nationalityValue(e.nationality), e.won)
    count('age', ageBucket(atMs - e.createdAtMs, rules.ageBucketDays), e.won)
    count('group_size', String(e.groupSize), e.won)
  }

  const compare = rowOrder(rules)
  const rows: FairnessRow[] = []
  for (const dimension of FAIRNESS_DIMENSIONS) {
    for (const [value, t] of tallies.get(dimension) as Map<string, { entrants: number, winners: number }>) rows.push({ dimension, value, entrants: t.entrants, winners: t.winners, selectionRate: rate(t.winners, t.entrants) })
  }
  return { at: new Date(atMs).toISOString(), entrants: entrants.length, winners, rows: rows.sort(compare) }
}

/**
 * Rows by dimension, then: languages as configured (other, unknown last), nationalities by
 * entrants (other, unknown last), ages youngest first, group sizes ascending.
 */
function rowOrder (rules: FairnessRules): (a: FairnessRow, b: FairnessRow) => number {
  const languageOrder = [...rules.languages, OTHER, UNKNOWN]
  const ageOrder = ageBucketLabels(rules.ageBucketDays)
  const within: Record<FairnessDimension, (a: FairnessRow, b: FairnessRow) => number> = {
    language: (a, b) => languageOrder.indexOf(a.value) - languageOrder.indexOf(b.value),
    nationality: (a, b) => Number(a.value.length !== 3) - Number(b.value.length !== 3) || Number(a.value === UNKNOWN) - Number(b.value === UNKNOWN) || b.entrants - a.entrants || (a.value < b.value ? -1 : 1),
    age: (a, b) => ageOrder.indexOf(a.value) - ageOrder.indexOf(b.value),
    group_size: (a, b) => Number(a.value) - Number(b.value)
  }
  return (a, b) => FAIRNESS_DIMENSIONS.indexOf(a.dimension) - FAIRNESS_DIMENSIONS.indexOf(b.dimension) || within[a.dimension](a, b)
}

/**
 * Figures of several draws added up (entrants are registration-draws: one registration in two
 * draws counts twice). A nationality kept by name in one draw and counted as other in another
 * is added as it was published.
 */
export function sumFigures (figures: readonly FairnessFigures[], at: string, rules: FairnessRules): FairnessFigures {
  const rows = new Map<string, FairnessRow>()
  let entrants = 0
  let winners = 0
  for (const f of figures) {
    entrants += f.entrants
    winners += f.winners
    for (const r of f.rows) {
      const key = `${r.dimension}\t${r.value}`
      const row = rows.get(key) ?? { dimension: r.dimension, value: r.value, entrants: 0, winners: 0, selectionRate: 0 }
      row.entrants += r.entrants
      row.winners += r.winners
      rows.set(key, row)
    }
  }
  const out = [...rows.values()].map((r) => ({ ...r, selectionRate: rate(r.winners, r.entrants) }))
  return { at, entrants, winners, rows: out.sort(rowOrder(rules)) }
}

/** The figures as a Markdown table, one row per value: dimension, value, entrants, winners, selection rate. */
export function fairnessTable (rows: readonly FairnessRow[]): string {
  const lines = ['| dimension | value | entrants | winners | selection rate |', '| --- | --- | ---: | ---: | ---: |']
  for (const r of rows) lines.push(`| ${r.dimension} | ${r.value} | ${r.entrants} | ${r.winners} | ${(100 * r.selectionRate).toFixed(2)}% |`)
  return lines.join('\n')
}
