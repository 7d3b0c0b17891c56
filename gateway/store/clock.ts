/** A source of wall-clock time in epoch milliseconds, injected so time is testable. */
export interface Clock {
  now(): number
}

export const systemClock: Clock = { now: () => Date.now() }

/** A clock that moves only when told to: for tests and simulations. */
export class ManualClock implements Clock {
  #now: number

  constructor (start = Date.UTC(2026, 0, 1)) {
    this.#now = start
  }

  now (): number {
    return this.#now
  }

  advance (ms: number): void {
    if (!(ms >= 0)) throw new RangeError('ManualClock.advance takes a non-negative number of milliseconds')
    this.#now += ms
  }

  set (epochMs: number): void {
    this.#now = epochMs
  }
}
