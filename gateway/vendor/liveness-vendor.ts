// The liveness vendor over HTTP: `POST <url>/v1/scans { reference, photo }` with an
// Idempotency-Key equal to the check's id, so a retried call is never a second scan. Every
// attempt, retries included, waits for the contract limiter (gateway/vendor/contract-limiter.ts),
// so the vendor never sees more than the contract rate from all instances together. Retries on
// 429 (after its Retry-After), 5xx, timeouts and refused connections, with exponential backoff and
// full jitter; a circuit breaker stops calling a vendor that keeps failing and lets one call
// through after `breakerResetMs`. What no retry fixed goes back to the caller as
// VendorUnavailableError, and the check waits in the queue: queued, never failed, for the vendor's sake.
import CircuitBreaker from 'opossum'
import { request, Agent } from 'undici'
import { VendorBudgetError, type LivenessVendorPort } from '../domain/liveness.js'
import { abortableSleep } from '../lib/abortable-sleep.js'
import { ContractLimiterClosedError, type ContractLimiter } from './contract-limiter.js'

export class VendorUnavailableError extends Error {
  constructor (message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.name = 'VendorUnavailableError'
  }
}

// A failure worth another attempt, after `retryAfterMs` when the vendor said so.
class RetryableError extends Error {
  readonly retryAfterMs: number | undefined
  constructor (message: string, retryAfterMs?: number) {
    super(message)
    this.name = 'RetryableError'
    this.retryAfterMs = retryAfterMs
  }
}

export interface LivenessVendorOptions {
  url: string
  timeoutMs: number
  maxRetries: number
  breakerResetMs: number
  limiter: ContractLimiter
  /** Told about each attempt's outcome, for metrics (no personal data: an outcome and a duration). */
  observe?: (outcome: 'pass' | 'fail' | 'rate_limited' | 'error' | 'timeout' | 'budget' | 'breaker_open', seconds: number) => void
  /** Backoff of attempt n (from 0), before jitter; injectable so tests need not wait. */
  backoffMs?: (attempt: number) => number
}

export interface VendorState {
  breaker: 'closed' | 'open' | 'half_open'
}

export class LivenessVendorClient implements LivenessVendorPort {
  readonly configured = true
  readonly #options: LivenessVendorOptions
  readonly #agent: Agent
  readonly #breaker: CircuitBreaker<[string, Uint8Array], 'pass' | 'fail'>
  readonly #endpoint: URL
  readonly #closing = new AbortController()

  constructor (options: LivenessVendorOptions) {
    this.#options = options
    this.#endpoint = new URL('/v1/scans', options.url)
    this.#agent = new Agent({ headersTimeout: options.timeoutMs, bodyTimeout: options.timeoutMs, connectTimeout: Math.min(options.timeoutMs, 5_000) })
    this.#breaker = new CircuitBreaker(async (reference: string, photo: Uint8Array) => this.#attempt(reference, photo), {
      // Our own timeouts (undici's) apply; opossum's would leave the request running.
      timeout: false,
      errorThresholdPercentage: 50,
      rollingCountTimeout: 10_000,
      volumeThreshold: 5,
      resetTimeout: options.breakerResetMs,
      // A budget refusal is the vendor working as contracted, not failing.
      errorFilter: (err: unknown) => err instanceof VendorBudgetError
    })
  }

  state (): VendorState {
    return { breaker: this.#breaker.opened ? 'open' : this.#breaker.halfOpen ? 'half_open' : 'closed' }
  }

  async scan (reference: string, photo: Uint8Array): Promise<'pass' | 'fail'> {
    const { maxRetries, limiter } = this.#options
    let last: unknown
    for (let attempt = 0; attempt <= maxRetries; attempt++) {
      if (this.#closing.signal.aborted) throw new VendorUnavailableError('the vendor client is closing')
      if (this.#breaker.opened) {
        this.#options.observe?.('breaker_open', 0)
        throw new VendorUnavailableError('the vendor circuit breaker is open')
      }
      try {
        return await limiter.schedule(async () => this.#breaker.fire(reference, photo))
      } catch (err) {
        if (err instanceof VendorBudgetError) throw err
        // Shutting down: no backoff, the check stays queued for whichever instance is next.
        if (err instanceof ContractLimiterClosedError) throw new VendorUnavailableError('the contract limiter is closed', { cause: err })
        last = err
        if (attempt === maxRetries) break
        const backoff = this.#options.backoffMs?.(attempt) ?? Math.min(30_000, 500 * 2 ** attempt)
        const jittered = Math.random() * backoff
        await abortableSleep(Math.max(jittered, err instanceof RetryableError ? err.retryAfterMs ?? 0 : 0), this.#closing.signal)
      }
    }
    throw new VendorUnavailableError(`the vendor gave no verdict after ${maxRetries + 1} attempts`, { cause: last })
  }

  async #attempt (reference: string, photo: Uint8Array): Promise<'pass' | 'fail'> {
    const started = performance.now()
    const seconds = () => (performance.now() - started) / 1000
    let res
    try {
      res = await request(this.#endpoint, {
        method: 'POST',
        dispatcher: this.#agent,
        headers: { 'content-type': 'application/json', 'idempotency-key': reference },
        body: JSON.stringify({ reference, photo: Buffer.from(photo).toString('base64') })
      })
    } catch (err) {
      const timeout = (err as { code?: string }).code?.includes('TIMEOUT') === true
      this.#options.observe?.(timeout ? 'timeout' : 'error', seconds())
      throw new RetryableError(`vendor call failed: ${(err as { code?: string }).code ?? (err as Error).name}`)
    }
    const text = await res.body.text().catch(() => '')
    if (res.statusCode === 200) {
      const result = (JSON.parse(text) as { result?: unknown }).result
      if (result === 'pass' || result === 'fail') {
        this.#options.observe?.(result, seconds())
        return result
      }
      this.#options.observe?.('error', seconds())
      throw new RetryableError('vendor answered 200 without a result')
    }
    if (res.statusCode === 402) {
      this.#options.observe?.('budget', seconds())
      throw new VendorBudgetError()
    }
    if (res.statusCode === 429) {
      this.#options.observe?.('rate_limited', seconds())
      const after = Number(res.headers['retry-after'])
      throw new RetryableError('vendor answered 429', Number.isFinite(after) ? after * 1000 : undefined)
    }
    this.#options.observe?.('error', seconds())
    throw new RetryableError(`vendor answered ${res.statusCode}`)
  }

  /** No new attempts from now on; backoff waits end at once. */
  abort (): void {
    this.#closing.abort()
  }

  async close (): Promise<void> {
    this.abort()
    this.#breaker.shutdown()
    await this.#agent.close()
  }
}

/** The vendor when none is configured: checks wait in the queue until one is. */
export const noVendor: LivenessVendorPort = {
  configured: false,
  scan: async () => { throw new VendorUnavailableError('no vendor URL is configured (GATEWAY_VENDOR_URL)') }
}
