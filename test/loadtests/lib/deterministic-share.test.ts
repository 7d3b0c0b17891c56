import { describe, expect, it } from 'vitest'
import { hitsShare } from '../../../loadtests/lib/deterministic-share.js'

function pattern (share: number, n: number): number[] {
  const hit: number[] = []
  for (let k = 1; k <= n; k++) if (hitsShare(k, share)) hit.push(k)
  return hit
}

describe('hitsShare', () => {
  it('hits every 1/share-th candidate', () => {
    expect(pattern(0.25, 12)).toEqual([4, 8, 12])
    expect(pattern(0.5, 6)).toEqual([2, 4, 6])
  })

  it('hits exactly floor(k * share) of the first k, despite floating point', () => {
    expect(pattern(0.1, 30)).toEqual([10, 20, 30])
    expect(pattern(0.3, 10)).toHaveLength(3)
    expect(pattern(0.001, 5000)).toHaveLength(5)
  })

  it('hits none at 0 and all at 1', () => {
    expect(pattern(0, 10)).toEqual([])
    expect(pattern(1, 5)).toEqual([1, 2, 3, 4, 5])
  })
})
