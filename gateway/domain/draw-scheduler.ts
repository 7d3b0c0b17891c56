// The daily schedule of the draw, run by every gateway instance on a timer; the store decides
// which instance does each step (SET NX for the seed and the seal, a lock for the draw), so each
// happens once however many instances tick. Time comes from the injected clock and every instant
// from poolDayTimes (local wall time, so daylight-saving days are 22 or 24 hours long).
//
// One tick, in order:
//   commit  the pool day that is open now or opens next: its seed exists before its window opens;
//   seal    a pool day whose window has closed (plus the grace) but whose draw is still ahead;
//   draw    the pool day whose draw time is the latest passed, unless it ran or it is older than
//           the catch-up limit (then only ops can run it);
//   lapse   unconfirmed places of the pool days whose confirmation windows may still be open.
import { GatewayError } from '../errors.js'
import type { Clock } from '../store/clock.js'
import type { AllocationService } from './allocations.js'
import { addDays, lastDrawDate, poolDayTimes, scheduleAt, type ScheduleRules } from './schedule.js'

export type ScheduledAction =
  | { action: 'commit' | 'seal' | 'draw', date: string }
  | { action: 'lapse', date: string, count: number }

export interface DrawSchedulerRules {
  schedule: ScheduleRules
  catchUpMs: number
  /** How many pool days back the lapse sweep looks: past the longest confirmation window. */
  lapseDays: number
}

export class DrawScheduler {
  readonly #clock: Clock
  readonly #allocations: AllocationService
  readonly #rules: DrawSchedulerRules
  readonly #onError: (err: unknown, action: ScheduledAction['action'], date: string) => void

  constructor (options: { clock: Clock, allocations: AllocationService, rules: DrawSchedulerRules, onError: (err: unknown, action: ScheduledAction['action'], date: string) => void }) {
    this.#clock = options.clock
    this.#allocations = options.allocations
    this.#rules = options.rules
    this.#onError = options.onError
  }

  /** Does whatever is due now; returns what this instance did. A failed step is reported and retried next tick. */
  async tick (): Promise<ScheduledAction[]> {
    const now = this.#clock.now()
    const { schedule } = this.#rules
    const done: ScheduledAction[] = []
    const step = async (action: ScheduledAction['action'], date: string, work: () => Promise<ScheduledAction | undefined>) => {
      try {
        const result = await work()
        if (result !== undefined) done.push(result)
      } catch (err) {
        // Another instance holds the draw: it is being done.
        if (err instanceof GatewayError && err.code === 'GW_ERR_ALLOC_IN_PROGRESS') return
        this.#onError(err, action, date)
      }
    }

    const next = scheduleAt(now, schedule).poolDate
    await step('commit', next, async () => (await this.#allocations.commit(next)).created ? { action: 'commit', date: next } : undefined)

    if (now >= this.#allocations.sealableAt(next)) {
      await step('seal', next, async () => (await this.#allocations.seal(next)).created ? { action: 'seal', date: next } : undefined)
    }

    const last = lastDrawDate(now, schedule)
    const due = Math.max(poolDayTimes(last, schedule).drawAt, this.#allocations.sealableAt(last))
    if (now >= due && now - due <= this.#rules.catchUpMs) {
      await step('draw', last, async () => {
        // No seed: nothing was pooled for that day, unless the store lost the seed (then say so).
        const before = await this.#allocations.summary(last).catch(async (err: unknown) => {
          if (!(err instanceof GatewayError) || err.code !== 'GW_ERR_ALLOC_NOT_FOUND') throw err
          const pooled = await this.#allocations.pooled(last)
          if (pooled > 0) throw new Error(`the pool of ${last} holds ${pooled} entries but its seed is gone: it cannot be drawn as committed`)
          return undefined
        })
        if (before === undefined || before.status === 'drawn') return undefined
        await this.#allocations.run(last)
        return { action: 'draw', date: last }
      })
    }

    for (let back = 0; back <= this.#rules.lapseDays; back++) {
      const date = addDays(last, -back)
      await step('lapse', date, async () => {
        const count = await this.#allocations.sweepLapses(date)
        return count > 0 ? { action: 'lapse', date, count } : undefined
      })
    }
    return done
  }
}
