/** The backing store could not be reached in time: callers degrade or answer 503, never 500. */
export class StoreUnavailableError extends Error {
  constructor (cause: unknown) {
    super('store unavailable', { cause })
    this.name = 'StoreUnavailableError'
  }
}
