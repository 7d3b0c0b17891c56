import type { TtlOptions } from './ports.js'

/** Validates a TTL option and returns whole milliseconds (Redis PX takes integers). */
export function ttlOf (options: TtlOptions | undefined): number | undefined {
  const ttlMs = options?.ttlMs
  if (ttlMs === undefined) return undefined
  if (!(ttlMs > 0) || !Number.isFinite(ttlMs)) throw new RangeError('ttlMs must be a positive number of milliseconds')
  return Math.ceil(ttlMs)
}
