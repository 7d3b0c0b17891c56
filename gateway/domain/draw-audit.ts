// Commit-reveal for the daily draw, so anyone can check it was not steered:
//   - before the request window opens, the server draws a secret seed and publishes
//     commitment = sha256(seed);
//   - when the window closes, the pool is fixed and digested (poolDigest);
//   - after that, an optional public beacon value may be supplied;
//   - the draw's randomness is HMAC-SHA256(seed, poolDigest ‖ beacon): whoever knows the seed
//     cannot steer the result by adding or dropping entries, since every change moves the digest
//     and so the whole random order;
//   - after the draw the seed is revealed, and `npm run audit:allocation` replays everything.
// Pure functions only; the draw itself is workers/allocation.ts.
import { createHash, createHmac, timingSafeEqual } from 'node:crypto'
import { allocate, type AllocationResult, type PoolEntry, type Slot } from '../../workers/allocation.js'
import type { FairnessFigures } from './fairness.js'

export function commitment (serverSeed: Uint8Array): string {
  return createHash('sha256').update(serverSeed).digest('hex')
}

/** The pool in its one canonical order: port, registration time, registration id. */
export function canonicalPool (entries: readonly PoolEntry[]): PoolEntry[] {
  return [...entries].sort((a, b) =>
    (a.poe < b.poe ? -1 : a.poe > b.poe ? 1 : 0) ||
    a.createdAtMs - b.createdAtMs ||
    (a.registrationId < b.registrationId ? -1 : a.registrationId > b.registrationId ? 1 : 0))
}

export function poolDigest (entries: readonly PoolEntry[]): string {
  const hash = createHash('sha256')
  for (const e of canonicalPool(entries)) hash.update(`${e.poe}\t${e.createdAtMs}\t${e.registrationId}\t${e.groupSize}\t${[...e.identities].sort().join(',')}\n`)
  return hash.digest('hex')
}

export function drawSeed (serverSeed: Uint8Array, digest: string, beacon = ''): Buffer {
  return createHmac('sha256', serverSeed).update(`${digest}\n${beacon}`).digest()
}

export function assignmentsDigest (result: AllocationResult): string {
  const lines = result.assignments
    .map((a) => `${a.poe}\t${a.slot}\t${a.firstPlace}\t${a.registrationId}\t${a.groupSize}\t${a.rule}\n`)
    .sort()
  return createHash('sha256').update(lines.join('')).digest('hex')
}

/** Everything needed to replay one day's draw, as published after the seed is revealed. */
export interface DrawRecord {
  date: string
  commitment: string
  serverSeed: string
  beacon?: string
  poolDigest: string
  oldestShare: number
  slots: Record<string, Slot[]>
  entries: PoolEntry[]
  assignmentsDigest: string
  /**
   * The draw's fairness figures as published (fairness.ts); shown by the audit, not replayed: the
   * language and nationality they count are not in the record.
   */
  fairness?: FairnessFigures
}

export type AuditFinding = 'seed does not match the commitment' | 'pool does not match its digest' | 'assignments do not match the replay'

/** Replays a draw from its record; an empty list means it checks out. */
export function auditDraw (record: DrawRecord): AuditFinding[] {
  const findings: AuditFinding[] = []
  const seed = Buffer.from(record.serverSeed, 'hex')
  if (!equalHex(commitment(seed), record.commitment)) findings.push('seed does not match the commitment')
  const digest = poolDigest(record.entries)
  if (!equalHex(digest, record.poolDigest)) findings.push('pool does not match its digest')
  const replay = allocate({ entries: canonicalPool(record.entries), slots: record.slots, oldestShare: record.oldestShare, seed: drawSeed(seed, record.poolDigest, record.beacon) })
  if (!equalHex(assignmentsDigest(replay), record.assignmentsDigest)) findings.push('assignments do not match the replay')
  return findings
}

function equalHex (a: string, b: string): boolean {
  const x = Buffer.from(a, 'utf8')
  const y = Buffer.from(b, 'utf8')
  return x.length === y.length && timingSafeEqual(x, y)
}
