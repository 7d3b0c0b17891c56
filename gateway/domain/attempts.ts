// A write's attempt, named by its Idempotency-Key: the id the first try of a write started with,
// so that a retry after a crash (the instance killed between two steps, no answer and no
// idempotency record kept) takes the same write up again instead of starting a second one beside
// the leftovers of the first. No Fastify, no Redis: the key-value store port.
import { createHash } from 'node:crypto'
import { GatewayError } from '../errors.js'
import { storeKey, type StoreKey } from '../store/keys.js'
import type { KeyValueStore } from '../store/ports.js'

/**
 * A try of a write: its Idempotency-Key and the fingerprint of what it asks (the idempotency
 * plugin's, of method, URL and body), opaque here.
 */
export interface Attempt {
  key: string
  fingerprint: string
}

interface AttemptRecord { id: string, fingerprint: string }

/**
 * The id `attempt` started `kind` with for `subject`, or `fresh`, which it names from now on (for
 * `ttlMs`, the time an Idempotency-Key's answer is kept). Per subject: another account's key never
 * reaches this write. `resumed` when the id is an earlier try's. The same key with another body
 * is refused (422 GW_ERR_IDEMPOTENCY_KEY_REUSED), as the idempotency plugin refuses it while its
 * record lasts: a retry takes up only the write it repeats, never puts other people or another
 * port under the id (and the claims) of a first try that asked something else.
 */
export async function attemptId (kv: KeyValueStore, subject: string, kind: string, attempt: Attempt, fresh: string, ttlMs: number): Promise<{ id: string, resumed: boolean, forget: () => Promise<void> }> {
  const key = attemptKey(subject, kind, attempt.key)
  const mine = JSON.stringify({ id: fresh, fingerprint: attempt.fingerprint } satisfies AttemptRecord)
  // A try that created nothing (refused, or answered with another request) lets its attempt go,
  // so that refusals do not each leave a record for a day; only a first try's, which names no
  // earlier leftovers, and only while it is still this try's.
  const forget = async (): Promise<void> => { await kv.deleteIfEquals(key, mine).catch(() => {}) }
  if (await kv.setIfAbsent(key, mine, { ttlMs })) return { id: fresh, resumed: false, forget }
  const raw = await kv.get(key)
  if (raw === null) return { id: fresh, resumed: false, forget: async () => {} }
  // A bare id: kept before attempts held their fingerprint (for a day after the upgrade), taken as is.
  const earlier: AttemptRecord = raw.startsWith('{') ? JSON.parse(raw) as AttemptRecord : { id: raw, fingerprint: attempt.fingerprint }
  if (earlier.fingerprint !== attempt.fingerprint) throw new GatewayError('GW_ERR_IDEMPOTENCY_KEY_REUSED')
  return { id: earlier.id, resumed: true, forget: async () => {} }
}

/** Where `attempt` (an Idempotency-Key) of `kind` for `subject` is kept. */
export function attemptKey (subject: string, kind: string, attempt: string): StoreKey {
  return storeKey(`sub.${subject}`, `${kind}-attempt`, createHash('sha256').update(attempt).digest('base64url'))
}
