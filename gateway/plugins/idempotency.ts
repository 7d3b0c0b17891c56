// Idempotency-Key on writes (routes with config.idempotent): a retry with the same key from the
// same subject gets the first answer again, never a second write; the same key with another body
// is 422; a retry racing the first attempt is 409 until it finishes. Only 2xx answers are kept:
// after an error the key is free, so the client's retry does the work.
// The record lives in the store port, so every instance sees it.
import { createHash } from 'node:crypto'
import type { FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import type { Attempt } from '../domain/attempts.js'
import { GatewayError } from '../errors.js'
import { storeKey, type StoreKey } from '../store/keys.js'

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The route is a write that takes an Idempotency-Key. */
    idempotent?: boolean
  }
  interface FastifyRequest {
    idempotency: { key: StoreKey, fingerprint: string } | null
  }
}

/**
 * The write's attempt for the domain (attempts.ts): the client's key and this plugin's
 * fingerprint of what it asks, so that a retry resumes only the write it repeats.
 */
export function attemptOf (request: FastifyRequest): Attempt | undefined {
  const claim = request.idempotency
  const raw = request.headers['idempotency-key']
  return claim == null || typeof raw !== 'string' ? undefined : { key: raw, fingerprint: claim.fingerprint }
}

export interface IdempotencyOptions {
  ttlHours: number
  pendingTtlSeconds: number
}

interface PendingRecord { state: 'pending', fingerprint: string }
interface DoneRecord { state: 'done', fingerprint: string, statusCode: number, contentType: string, body: string }

// 1 to 255 visible ASCII characters.
const KEY = /^[\x21-\x7E]{1,255}$/

export default fp<IdempotencyOptions>(async function idempotency (fastify, opts) {
  const kv = fastify.stores.kv
  const doneTtlMs = opts.ttlHours * 3600_000
  const pendingTtlMs = opts.pendingTtlSeconds * 1000
  fastify.decorateRequest('idempotency', null)

  fastify.addHook('preHandler', async function (request, reply) {
    if (request.routeOptions.config.idempotent !== true) return
    const raw = request.headers['idempotency-key']
    if (typeof raw !== 'string' || !KEY.test(raw)) throw new GatewayError('GW_ERR_IDEMPOTENCY_KEY_INVALID', { fields: ['/headers/idempotency-key'] })
    const owner = request.principal?.subject ?? 'anonymous'
    const key = storeKey(`idem.${owner}`, request.routeOptions.url ?? '', raw)
    // The URL too: one key reused on DELETE /v1/registrations/A and /B must not replay A for B.
    const fingerprint = createHash('sha256').update(`${request.method} ${request.url} ${JSON.stringify(request.body ?? null)}`).digest('base64')
    const pending: PendingRecord = { state: 'pending', fingerprint }
    if (await kv.setIfAbsent(key, JSON.stringify(pending), { ttlMs: pendingTtlMs })) {
      request.idempotency = { key, fingerprint }
      return
    }
    const stored = await kv.get(key)
    // Gone between the two calls: the first attempt failed or expired just now; let the client retry.
    if (stored === null) throw new GatewayError('GW_ERR_IDEMPOTENCY_IN_PROGRESS', { retryAfterSeconds: 1 })
    const record = JSON.parse(stored) as PendingRecord | DoneRecord
    if (record.fingerprint !== fingerprint) throw new GatewayError('GW_ERR_IDEMPOTENCY_KEY_REUSED')
    if (record.state === 'pending') throw new GatewayError('GW_ERR_IDEMPOTENCY_IN_PROGRESS', { retryAfterSeconds: 1 })
    reply.code(record.statusCode).header('content-type', record.contentType).header('idempotent-replayed', 'true')
    return reply.send(record.body)
  })

  fastify.addHook('onSend', async function (request, reply, payload) {
    const claim = request.idempotency
    // == null: routes of contexts created before this plugin (the docs) do not carry the decorator.
    if (claim == null) return payload
    request.idempotency = null
    const ok = reply.statusCode >= 200 && reply.statusCode < 300
    if (ok && typeof payload === 'string') {
      const done: DoneRecord = {
        state: 'done',
        fingerprint: claim.fingerprint,
        statusCode: reply.statusCode,
        contentType: String(reply.getHeader('content-type') ?? 'application/json; charset=utf-8'),
        body: payload
      }
      // The write happened: if the record cannot be kept, the answer still goes out; a retry
      // then finds no record and the route's own uniqueness rules must hold.
      await kv.set(claim.key, JSON.stringify(done), { ttlMs: doneTtlMs }).catch((err: unknown) => {
        request.log.warn({ err }, 'idempotency record not kept')
      })
    } else {
      await kv.delete(claim.key).catch(() => {})
    }
    return payload
  })
}, { name: 'idempotency', dependencies: ['stores', 'error-handler'] })
