// Simulators fail "a share" of requests in a fixed pattern rather than at random, so a test can
// say which request fails and a rehearsal is repeatable.

/** Whether the k-th candidate (from 1) falls in the share: exactly floor(k * share) of the first k do. */
export function hitsShare (k: number, share: number): boolean {
  // The epsilon keeps 0.1 * 30 (= 3.0000000000000004) and 0.3 * 10 on the right side of floor.
  return Math.floor(k * share + 1e-9) > Math.floor((k - 1) * share + 1e-9)
}
