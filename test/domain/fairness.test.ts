// The draw's fairness figures (gateway/domain/fairness.ts): exact counts for a hand-built draw.
import { describe, expect, it } from 'vitest'
import { ageBucket, ageBucketLabels, fairnessFigures, fairnessTable, languageValue, sumFigures, type EntrantTraits } from '../../gateway/domain/fairness.js'

const DAY = 24 * 3600_000
const AT = Date.parse('2026-11-24T16:00:00Z')
const rules = { languages: ['en', 'es', 'ht', 'ru'], ageBucketDays: [1, 7, 30], topNationalities: 2 }

const entrant = (language: string, nationality: string, ageDays: number, groupSize: number, won: boolean): EntrantTraits =>
  ({ language, nationality, createdAtMs: AT - ageDays * DAY, groupSize, won })

describe('fairness figures', () => {
  it('labels languages by primary subtag among the gateway\'s own, and ages by the configured edges', () => {
    expect(languageValue('es-MX', rules.languages)).toBe('es')
    expect(languageValue('HT', rules.languages)).toBe('ht')
    expect(languageValue('pt-BR', rules.languages)).toBe('other')
    expect(languageValue('', rules.languages)).toBe('unknown')
    expect(ageBucketLabels([1, 7, 30])).toEqual(['<1d', '1-7d', '7-30d', '30d+'])
    expect(ageBucketLabels([3])).toEqual(['<3d', '3d+'])
    // An edge belongs to the older bucket.
    expect([0, DAY - 1, DAY, 7 * DAY - 1, 7 * DAY, 30 * DAY, 400 * DAY].map((ms) => ageBucket(ms, [1, 7, 30]))).toEqual(['<1d', '<1d', '1-7d', '1-7d', '7-30d', '30d+', '30d+'])
  })

  it('counts entrants and winners per value of each dimension, with the top nationalities by name', () => {
    const figures = fairnessFigures([
      entrant('es', 'VEN', 0.5, 1, true),
      entrant('es-MX', 'VEN', 2, 3, false),
      entrant('es', 'CUB', 10, 1, false),
      entrant('ht', 'HTI', 0.2, 1, true),
      entrant('ht', 'HTI', 40, 2, true),
      entrant('ht', 'HTI', 3, 1, false),
      entrant('pt', 'BRA', 8, 2, false),
      entrant('ru', 'RUS', 1, 1, true),
      entrant('', '', 5, 1, false)
    ], AT, rules)
    expect(figures.at).toBe('2026-11-24T16:00:00.000Z')
    expect(figures.entrants).toBe(9)
    expect(figures.winners).toBe(4)
    const row = (dimension: string, value: string, entrants: number, winners: number) => ({ dimension, value, entrants, winners, selectionRate: winners / entrants })
    expect(figures.rows).toEqual([
      row('language', 'es', 3, 1),
      row('language', 'ht', 3, 2),
      row('language', 'ru', 1, 1),
      row('language', 'other', 1, 0),
      row('language', 'unknown', 1, 0),
      // HTI (3) and VEN (2) by name; CUB, BRA and RUS (1 each) as other.
      row('nationality', 'HTI', 3, 2),
      row('nationality', 'VEN', 2, 1),
      row('nationality', 'other', 3, 1),
      row('nationality', 'unknown', 1, 0),
      row('age', '<1d', 2, 2),
      row('age', '1-7d', 4, 1),
      row('age', '7-30d', 2, 0),
      row('age', '30d+', 1, 1),
      row('group_size', '1', 6, 3),
      row('group_size', '2', 2, 1),
      row('group_size', '3', 1, 0)
    ])
    expect(fairnessTable(figures.rows.slice(0, 2))).toBe([
      '| dimension | value | entrants | winners | selection rate |',
      '| --- | --- | ---: | ---: | ---: |',
      '| language | es | 3 | 1 | 33.33% |',
      '| language | ht | 3 | 2 | 66.67% |'
    ].join('\n'))
  })

  it('keeps no nationality by name when told none, and an empty draw has no rows', () => {
    const figures = fairnessFigures([entrant('en', 'JAM', 0, 1, false)], AT, { ...rules, topNationalities: 0 })
    expect(figures.rows.filter((r) => r.dimension === 'nationality')).toEqual([{ dimension: 'nationality', value: 'other', entrants: 1, winners: 0, selectionRate: 0 }])
    expect(fairnessFigures([], AT, rules)).toEqual({ at: '2026-11-24T16:00:00.000Z', entrants: 0, winners: 0, rows: [] })
  })

  it('adds up several draws value by value', () => {
    const a = fairnessFigures([entrant('es', 'VEN', 0, 1, true), entrant('ht', 'HTI', 0, 1, false)], AT, rules)
    const b = fairnessFigures([entrant('es', 'VEN', 2, 1, false)], AT + DAY, rules)
    const sum = sumFigures([b, a], 'all', rules)
    expect(sum.entrants).toBe(3)
    expect(sum.winners).toBe(1)
    expect(sum.rows.filter((r) => r.dimension === 'language')).toEqual([
      { dimension: 'language', value: 'es', entrants: 2, winners: 1, selectionRate: 0.5 },
      { dimension: 'language', value: 'ht', entrants: 1, winners: 0, selectionRate: 0 }
    ])
    expect(sum.rows.filter((r) => r.dimension === 'age')).toEqual([
      { dimension: 'age', value: '<1d', entrants: 2, winners: 1, selectionRate: 0.5 },
      { dimension: 'age', value: '1-7d', entrants: 1, winners: 0, selectionRate: 0 }
    ])
  })
})
