// The backend services over HTTP: POST <url> with the event as JSON ({ id, type, time, payload })
// and Idempotency-Key = the event's id, so a repeated delivery is recognisably the same event.
// The URL is the one configured for the event's type, or the default one.
import { Agent, request } from 'undici'
import type { BackendPort, DeliveryOutcome } from '../domain/delivery.js'
import type { OutboxEvent } from '../store/ports.js'

export interface BackendClientOptions {
  url: string
  urls: Readonly<Record<string, string>>
  timeoutMs: number
}

export class BackendClient implements BackendPort {
  readonly #options: BackendClientOptions
  readonly #agent: Agent

  constructor (options: BackendClientOptions) {
    this.#options = options
    this.#agent = new Agent({ headersTimeout: options.timeoutMs, bodyTimeout: options.timeoutMs, connectTimeout: Math.min(options.timeoutMs, 5_000) })
  }

  /** Whether any backend is configured at all. */
  get configured (): boolean {
    return this.#options.url !== '' || Object.keys(this.#options.urls).length > 0
  }

  accepts (type: string): boolean {
    return (this.#options.urls[type] ?? this.#options.url) !== ''
  }

  async send (event: OutboxEvent): Promise<DeliveryOutcome> {
    const url = this.#options.urls[event.type] ?? this.#options.url
    let res
    try {
      res = await request(url, {
        method: 'POST',
        dispatcher: this.#agent,
        headers: { 'content-type': 'application/json', 'idempotency-key': event.id },
        body: `{"id":${JSON.stringify(event.id)},"type":${JSON.stringify(event.type)},"time":${event.time},"payload":${event.payload}}`
      })
    } catch (err) {
      return { kind: 'retry', reason: (err as { code?: string }).code ?? (err as Error).name }
    }
    await res.body.dump().catch(() => {})
    const status = res.statusCode
    if (status >= 200 && status < 300) return { kind: 'delivered' }
    if (status === 429 || status === 408 || status >= 500) {
      const after = Number(res.headers['retry-after'])
      return { kind: 'retry', reason: `HTTP ${status}`, ...(Number.isFinite(after) && after >= 0 ? { retryAfterMs: after * 1000 } : {}) }
    }
    return { kind: 'refused', reason: `HTTP ${status}` }
  }

  async close (): Promise<void> {
    await this.#agent.close()
  }
}
