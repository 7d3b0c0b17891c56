// "Does this person hold a valid appointment?" for a partner agency: a confirmation number and a
// date of birth in, yes or no out, and nothing else. Unknown numbers and wrong dates take the
// same path (the same store reads, the same comparisons) and give the same answer, so neither the
// body nor the timing tells a caller which part was wrong.
import { timingSafeEqual } from 'node:crypto'
import type { Stores } from '../store/ports.js'
import { appointmentKey } from './allocations.js'
import { requestKey, type AppointmentRequestRecord } from './appointment-requests.js'
import { registrationKey, type RegistrationRecord } from './registrations.js'

interface AppointmentIndex { requestId: string, registrationId: string }

// Read when the number is unknown, so both outcomes cost the same reads.
const NO_SUCH = 'reg_none'
const DOB_SLOTS = 8

export class PartnerValidationService {
  readonly #stores: Stores

  constructor (stores: Stores) {
    this.#stores = stores
  }

  async validate (confirmationNumber: string, dateOfBirth: string): Promise<boolean> {
    const { kv } = this.#stores
    const number = confirmationNumber.toUpperCase().replace(/-/g, '')
    const rawIndex = await kv.get(appointmentKey(number))
    const index = rawIndex === null ? undefined : JSON.parse(rawIndex) as AppointmentIndex
    const [rawRegistration, rawRequest] = await Promise.all([
      kv.get(registrationKey(index?.registrationId ?? NO_SUCH)),
      kv.get(requestKey(index?.requestId ?? NO_SUCH))
    ])
    const registration = rawRegistration === null ? undefined : JSON.parse(rawRegistration) as RegistrationRecord
    const request = rawRequest === null ? undefined : JSON.parse(rawRequest) as AppointmentRequestRecord
    const held = request !== undefined && (request.status === 'selected' || request.status === 'confirmed')
    // Always compare against a fixed number of dates, real ones first, in constant time each.
    const dates = (registration?.members ?? []).map((m) => m.dateOfBirth)
    const given = Buffer.from(dateOfBirth.padEnd(10).slice(0, 10))
    let match = false
    for (let i = 0; i < DOB_SLOTS; i++) {
      const candidate = Buffer.from((dates[i] ?? '----------').padEnd(10).slice(0, 10))
      match = timingSafeEqual(candidate, given) || match
    }
    return index !== undefined && held && match
  }
}
