/** The backing store could not be reached in time: callers degrade or answer 503, never 500. */
export class StoreUnavailableError extends Error {
  constructor (cause: unknown) {
    super('store unavailable', { cause })
    this.name = 'StoreUnavailableError'
  }
}

/**
 * A write reached the Redis master but fewer replicas than required acknowledged it in time
 * (GATEWAY_REDIS_WAIT_REPLICAS): a failover could still lose it, so it is not acknowledged.
 * A StoreUnavailableError, so every caller that degrades on one degrades on this too.
 */
export class StoreNotReplicatedError extends StoreUnavailableError {
  readonly replicas: number
  readonly required: number

  constructor (replicas: number, required: number) {
    super(new Error(`WAIT: ${replicas} of ${required} replicas acknowledged in time`))
    this.name = 'StoreNotReplicatedError'
    this.replicas = replicas
    this.required = required
  }
}
