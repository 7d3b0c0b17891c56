// "Never more than N in any one second" is a claim about every window [t, t + width), not about
// calendar seconds: 5 calls at 0.9 s and 5 at 1.1 s pass a per-second count of 5 and still put
// 10 in one second. The worst window always starts at an event, so a two-pointer pass over the
// sorted times finds it exactly.

/** The largest number of `times` (ms, any order) inside any window [t, t + widthMs). */
export function maxInAnyWindow (times: readonly number[], widthMs = 1_000): number {
  if (!(widthMs > 0)) throw new RangeError('widthMs must be a positive number')
  const sorted = isSorted(times) ? times : [...times].sort((a, b) => a - b)
  let best = 0
  let last = 0
  // For each first event `first`, `last` ends just past the events before first + widthMs.
  for (let first = 0; first < sorted.length; first++) {
    const end = (sorted[first] as number) + widthMs
    if (last < first) last = first
    while (last < sorted.length && (sorted[last] as number) < end) last++
    if (last - first > best) best = last - first
  }
  return best
}

function isSorted (times: readonly number[]): boolean {
  for (let i = 1; i < times.length; i++) if ((times[i] as number) < (times[i - 1] as number)) return false
  return true
}
