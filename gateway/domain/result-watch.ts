// Watching a registration's results over the WebSocket: its owner asks for a watch ticket (a
// random id, short-lived), and the push server lets a connection that subscribes with it join
// the registration's topic, where liveness verdicts and the draw's outcome are published
// (gateway/domain/events.ts clientNotice). The ticket, not the bearer token, crosses the socket.
import type { Clock } from '../store/clock.js'
import { storeKey } from '../store/keys.js'
import type { Stores } from '../store/ports.js'
import { randomId, type RegistrationService } from './registrations.js'

const watchKey = (ticket: string) => storeKey(`wrw.${ticket}`)

export class ResultWatchService {
  readonly #stores: Stores
  readonly #clock: Clock
  readonly #registrations: RegistrationService
  readonly #ttlMs: number

  constructor (options: { stores: Stores, clock: Clock, registrations: RegistrationService, ttlMs: number }) {
    this.#stores = options.stores
    this.#clock = options.clock
    this.#registrations = options.registrations
    this.#ttlMs = options.ttlMs
  }

  /** A watch ticket for the caller's own registration; anyone else gets the registration's 404. */
  async issue (subject: string, registrationId: string): Promise<{ watchTicket: string, registrationId: string, expiresAt: string }> {
    await this.#registrations.get(subject, registrationId)
    const watchTicket = randomId('wrw')
    await this.#stores.kv.set(watchKey(watchTicket), registrationId, { ttlMs: this.#ttlMs })
    return { watchTicket, registrationId, expiresAt: new Date(this.#clock.now() + this.#ttlMs).toISOString() }
  }

  /** The registration a watch ticket watches, while it is valid. */
  async resolve (watchTicket: string): Promise<string | undefined> {
    return await this.#stores.kv.get(watchKey(watchTicket)) ?? undefined
  }
}

/** Whether a ticket given to the WebSocket is a watch ticket (the rest are waiting-room tickets). */
export const isWatchTicket = (ticket: string): boolean => ticket.startsWith('wrw_')
