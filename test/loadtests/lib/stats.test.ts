import { describe, expect, it } from 'vitest'
import { mannWhitney, quantile } from '../../../loadtests/lib/stats.js'

describe('quantile', () => {
  it('interpolates between neighbours', () => {
    expect(quantile([1, 2, 3, 4], 0.5)).toBe(2.5)
    expect(quantile([10, 20, 30, 40, 50], 0.9)).toBe(46)
    expect(quantile([7], 0.99)).toBe(7)
  })

  it('refuses an empty sample', () => {
    expect(() => quantile([], 0.5)).toThrow('quantile of an empty sample')
  })
})

describe('mannWhitney', () => {
  it('counts how often the first sample wins, ties as half', () => {
    // a beats b in 1 pair, ties in 1 (counted ½), loses in 7: U = 1.5.
    expect(mannWhitney([1, 5, 3], [4, 5, 6]).u).toBe(1.5)
  })

  it('gives z = 0 for the same values and a sign that says which sample is larger', () => {
    expect(mannWhitney([1, 2, 3, 4], [1, 2, 3, 4]).z).toBe(0)
    const slow = Array.from({ length: 50 }, (_, i) => 100 + i)
    const fast = Array.from({ length: 50 }, (_, i) => 90 + i)
    expect(mannWhitney(slow, fast).z).toBeGreaterThan(3)
    expect(mannWhitney(fast, slow).z).toBeLessThan(-3)
  })

  it('matches the textbook normal approximation without ties', () => {
    // n1 = n2 = 3, complete separation: U = 9, mean 4.5, variance 3·3·7/12 = 5.25.
    expect(mannWhitney([4, 5, 6], [1, 2, 3]).z).toBeCloseTo(4.5 / Math.sqrt(5.25), 12)
  })
})
