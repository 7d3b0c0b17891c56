// The multi-registrant advantage: the chance of winning per person (household) for those who tried
// to register many times, over the chance for those who tried once. Pure arithmetic.
//
//   p_m = households of multi-registrants with at least one place / multi-registrant households
//   p_s = the same for households that tried exactly once
//   advantage = p_m / p_s
//   SE(advantage) ≈ advantage × sqrt((1 − p_m) / (n_m p_m) + (1 − p_s) / (n_s p_s))   (delta method,
//                   binomial counts, the two groups independent)
//   z = (advantage − 1) / SE: one-sided, how far above 1 the advantage is in standard errors.

export interface WinCounts {
  /** Households in the group. */
  households: number
  /** Of them, households with at least one place. */
  winners: number
}

export interface Advantage {
  /** p_m / p_s; NaN when it cannot be had (no single registrant won, or a group is empty). */
  ratio: number
  /** Standard error of the ratio by the delta method; Infinity when multi-registrants never won. */
  se: number
  /** (ratio − 1) / se: −Infinity when no multi-registrant won, NaN with the ratio. */
  z: number
}

export function multiRegistrantAdvantage (multi: WinCounts, single: WinCounts): Advantage {
  for (const [name, c] of [['multi', multi], ['single', single]] as const) {
    if (!Number.isInteger(c.households) || !Number.isInteger(c.winners) || c.households < 0 || c.winners < 0 || c.winners > c.households) {
      throw new RangeError(`${name}: winners must be a whole number from 0 to households, got ${c.winners} of ${c.households}`)
    }
  }
  if (multi.households === 0 || single.households === 0 || single.winners === 0) return { ratio: NaN, se: NaN, z: NaN }
  const pm = multi.winners / multi.households
  const ps = single.winners / single.households
  const ratio = pm / ps
  if (multi.winners === 0) return { ratio: 0, se: Infinity, z: -Infinity }
  const se = ratio * Math.sqrt((1 - pm) / (multi.households * pm) + (1 - ps) / (single.households * ps))
  // Both groups always won: no variance to speak of, and no advantage either (the ratio is 1).
  const z = se === 0 ? (ratio > 1 ? Infinity : ratio < 1 ? -Infinity : 0) : (ratio - 1) / se
  return { ratio, se, z }
}

/** A number for the report's last line: fixed decimals, `inf`, `-inf` or `n/a`. */
export function formatStat (value: number, digits: number): string {
  if (Number.isNaN(value)) return 'n/a'
  if (value === Infinity) return 'inf'
  if (value === -Infinity) return '-inf'
  return value.toFixed(digits)
}
