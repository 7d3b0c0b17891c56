// Near-duplicate photos by their difference hash (dHash, computed by workers/liveness.ts): the
// same photo sent again, re-encoded or resized, differs in a few of the 64 bits; different photos
// in about half of them. Pure.

const DHASH = /^[0-9a-f]{16}$/

/** Hamming distance between two dHashes (16 lowercase hex chars each): 0 to 64 differing bits. */
export function dhashDistance (a: string, b: string): number {
  if (!DHASH.test(a) || !DHASH.test(b)) throw new RangeError('a dHash is 16 lowercase hex characters')
  let distance = 0
  // Eight bits at a time: parseInt of 16 hex digits would lose bits above 2^53.
  for (let i = 0; i < 16; i += 2) {
    let x = parseInt(a.slice(i, i + 2), 16) ^ parseInt(b.slice(i, i + 2), 16)
    while (x !== 0) {
      distance += x & 1
      x >>>= 1
    }
  }
  return distance
}
