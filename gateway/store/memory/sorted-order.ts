// The embedded stores keep Redis sorted-set order in plain arrays: ascending by a comparison,
// found by binary search.

/** First index of `order` (sorted by `compare`) whose entry is not below `probe`. */
export function lowerBound<T> (order: readonly T[], probe: T, compare: (a: T, b: T) => number): number {
  let lo = 0
  let hi = order.length
  while (lo < hi) {
    const mid = (lo + hi) >>> 1
    if (compare(order[mid] as T, probe) < 0) lo = mid + 1
    else hi = mid
  }
  return lo
}
