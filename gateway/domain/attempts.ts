// A write's attempt, named by its Idempotency-Key: the id the first try of a write started with,
// so that a retry after a crash (the instance killed between two steps, no answer and no
// idempotency record kept) takes the same write up again instead of starting a second one beside
// the leftovers of the first. No Fastify, no Redis: the key-value store port.
import { createHash } from 'node:crypto'
import { storeKey } from '../store/keys.js'
import type { KeyValueStore } from '../store/ports.js'

/**
 * The id `attempt` started `kind` with for `subject`, or `fresh`, which it names from now on (for
 * `ttlMs`, the time an Idempotency-Key's answer is kept). Per subject: another account's key never
 * reaches this write. `resumed` when the id is an earlier try's.
 */
export async function attemptId (kv: KeyValueStore, subject: string, kind: string, attempt: string, fresh: string, ttlMs: number): Promise<{ id: string, resumed: boolean }> {
  const key = storeKey(`sub.${subject}`, `${kind}-attempt`, createHash('sha256').update(attempt).digest('base64url'))
  if (await kv.setIfAbsent(key, fresh, { ttlMs })) return { id: fresh, resumed: false }
  const earlier = await kv.get(key)
  return earlier === null ? { id: fresh, resumed: false } : { id: earlier, resumed: true }
}
