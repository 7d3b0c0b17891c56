import { EXPIRY_SLACK_MS } from '../gcra.js'
import type { Clock } from '../clock.js'
import type { StoreKey } from '../keys.js'
import type { WindowAdmission, WindowRule, WindowStore } from '../ports.js'
import type { ScriptedRedis } from './client.js'
import { guard } from './guard.js'

export class RedisWindowStore implements WindowStore {
  readonly #redis: ScriptedRedis
  readonly #clock: Clock

  constructor (redis: ScriptedRedis, clock: Clock) {
    this.#redis = redis
    this.#clock = clock
  }

  async admit (key: StoreKey, member: string, rule: WindowRule, at?: number): Promise<WindowAdmission> {
    const [admitted, reason, count, retryAfterMs] = await guard(this.#redis.gwWindowAdmit(key, Math.round(at ?? this.#clock.now()), rule.windowMs, rule.max, rule.minIntervalMs ?? 0, member, EXPIRY_SLACK_MS))
    return {
      admitted: admitted === 1,
      ...(reason === 1 ? { refusedFor: 'limit' as const } : reason === 2 ? { refusedFor: 'interval' as const } : {}),
      count: count as number,
      retryAfterMs: retryAfterMs as number
    }
  }

  async release (key: StoreKey, member: string): Promise<void> {
    await guard(this.#redis.zrem(key, member))
  }
}
