// Summary statistics for latency benchmarks: quantiles and a two-sample rank test.

/** The q-quantile (0..1) of ascending `sorted`, interpolating between neighbours (R type 7). */
export function quantile (sorted: readonly number[], q: number): number {
  if (sorted.length === 0) throw new RangeError('quantile of an empty sample')
  const at = (sorted.length - 1) * q
  const lo = Math.floor(at)
  const hi = Math.ceil(at)
  const a = sorted[lo] as number
  return a + ((sorted[hi] as number) - a) * (at - lo)
}

export interface MannWhitney {
  /** U of the first sample: how often one of its values exceeds one of the second's (ties count half). */
  u: number
  /** Normal approximation with tie correction; positive when the first sample tends to be larger. */
  z: number
}

/**
 * Mann–Whitney U test of `a` against `b`, by the normal approximation (fine from about 20 values
 * per sample; no continuity correction, which is negligible at benchmark sizes).
 */
export function mannWhitney (a: readonly number[], b: readonly number[]): MannWhitney {
  const n1 = a.length
  const n2 = b.length
  if (n1 === 0 || n2 === 0) throw new RangeError('Mann–Whitney needs two non-empty samples')
  const n = n1 + n2
  // One sorted array of indices into both samples: below n1 is a's, from n1 on is b's.
  const values = Float64Array.from([...a, ...b])
  const order = Array.from({ length: n }, (_, i) => i).sort((x, y) => (values[x] as number) - (values[y] as number))
  let rankSumA = 0
  let tieTerm = 0
  for (let i = 0; i < n;) {
    let j = i + 1
    while (j < n && values[order[j] as number] === values[order[i] as number]) j++
    // Positions i..j-1 tie: each gets the mean of ranks i+1..j.
    const rank = (i + 1 + j) / 2
    const t = j - i
    tieTerm += t * t * t - t
    for (let k = i; k < j; k++) if ((order[k] as number) < n1) rankSumA += rank
    i = j
  }
  const u = rankSumA - (n1 * (n1 + 1)) / 2
  const variance = (n1 * n2 / 12) * ((n + 1) - tieTerm / (n * (n - 1)))
  return { u, z: variance === 0 ? 0 : (u - (n1 * n2) / 2) / Math.sqrt(variance) }
}
