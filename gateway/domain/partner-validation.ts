// "Does this person hold a valid appointment?" for a partner agency: a confirmation number and a
// date of birth in, yes or no out, and nothing else. An unknown number and a wrong date take the
// same path and give the same answer, so neither the body nor the timing tells a caller which
// part was wrong:
//   - the draw writes each number's index with a fixed number of keyed date-of-birth digests (one
//     per member, the rest random; gateway/domain/allocations.ts), so a real number costs the same
//     whatever its group's size, and the registration is never read;
//   - an unknown number parses a stand-in index of the same shape and reads a stand-in request
//     kept in the store under NO_SUCH, so both outcomes make the same reads and parse alike;
//   - every slot is compared, each in constant time.
// `npm run bench:partner` measures what is left.
import { timingSafeEqual } from 'node:crypto'
import type { Stores } from '../store/ports.js'
import { appointmentKey, type AppointmentIndex } from './allocations.js'
import { requestKey, type AppointmentRequestRecord } from './appointment-requests.js'
import { fillerDigest } from './identity.js'

const NO_SUCH = 'reg_none'
// Shaped and sized like a selected request. Its owner is empty, which no token's subject can be,
// so no route ever shows it; its status holds no appointment.
const DECOY_REQUEST = JSON.stringify({
  requestId: `apr_${'0'.repeat(32)}`,
  owner: '',
  registrationId: `reg_${'0'.repeat(32)}`,
  poe: 'nogales',
  poolDate: '2000-01-01',
  groupSize: 1,
  createdAt: '2000-01-01T00:00:00.000Z',
  status: 'withdrawn',
  appointment: { poe: 'nogales', date: '2000-01-01', slot: '08:00', confirmationNumber: '0000000000000000', confirmBy: '2000-01-01T00:00:00.000Z' }
} satisfies AppointmentRequestRecord)

export interface PartnerValidationOptions {
  /** Keyed digest of a date of birth, as the draw wrote it (identity.ts dateOfBirthDigest). */
  dobDigest(dateOfBirth: string): string
  /** Digests in every index: the largest group a registration may hold. */
  slots: number
}

export class PartnerValidationService {
  readonly #stores: Stores
  readonly #options: PartnerValidationOptions
  readonly #decoyIndex: string
  #writingDecoy = false

  constructor (stores: Stores, options: PartnerValidationOptions) {
    this.#stores = stores
    this.#options = options
    this.#decoyIndex = JSON.stringify({ requestId: NO_SUCH, registrationId: NO_SUCH, dobs: Array.from({ length: options.slots }, fillerDigest) } satisfies AppointmentIndex)
  }

  async validate (confirmationNumber: string, dateOfBirth: string): Promise<boolean> {
    const { kv } = this.#stores
    const number = confirmationNumber.toUpperCase().replace(/-/g, '')
    const rawIndex = await kv.get(appointmentKey(number))
    const index = JSON.parse(rawIndex ?? this.#decoyIndex) as AppointmentIndex
    const rawRequest = await kv.get(requestKey(index.requestId))
    // First use, or a store that lost it (a flush, a restart without persistence).
    if (rawIndex === null && rawRequest === null) this.#writeDecoy()
    const request = JSON.parse(rawRequest ?? DECOY_REQUEST) as AppointmentRequestRecord
    // Held, and by this very number (an index a crashed or racing draw left leads nowhere).
    const held = (request.status === 'selected' || request.status === 'confirmed') && request.appointment?.confirmationNumber === number
    const given = Buffer.from(this.#options.dobDigest(dateOfBirth))
    let match = false
    for (let i = 0; i < this.#options.slots; i++) {
      const candidate = Buffer.from(index.dobs[i] ?? '')
      // A short or missing slot (an index from an older config) still costs one comparison.
      match = (candidate.length === given.length ? timingSafeEqual(candidate, given) : timingSafeEqual(given, given) && false) || match
    }
    return rawIndex !== null && held && match
  }

  // Not awaited: the query that finds it missing does not wait for the write. Without a TTL, so
  // that a volatile-* eviction policy never takes it; the same bytes from every instance.
  #writeDecoy (): void {
    if (this.#writingDecoy) return
    this.#writingDecoy = true
    this.#stores.kv.set(requestKey(NO_SUCH), DECOY_REQUEST)
      // A store that is down refuses the queries too; the next unknown number tries again.
      .catch(() => {})
      .finally(() => { this.#writingDecoy = false })
  }
}
