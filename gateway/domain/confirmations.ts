// Confirming a drawn appointment: before confirm-by, with live selfies of the group passed after
// the draw (every member's, or with requireEachMember off the one named in the request) and a
// location inside the geofence; one extension of `extensionHours`, up
// to `maxExtensions`. Liveness records are written by gateway/domain/liveness.ts.
import { GatewayError } from '../errors.js'
import type { Clock } from '../store/clock.js'
import type { Stores } from '../store/ports.js'
import { appointmentKey, deadlinesKey } from './allocations.js'
import { requestKey, type Appointment, type AppointmentRequestRecord } from './appointment-requests.js'
import type { DomainEvent, EventPublisher } from './events.js'
import { judgeFix, type Fix, type Geofence } from './geofence.js'
import { livenessKey, memberPassKey, type LivenessRecord } from './liveness.js'

/** What confirmations report, for metrics (port only: never a person or a number). */
export interface ConfirmationSignals {
  confirmed(poe: string): void
  extended(poe: string): void
}

export interface ConfirmationRules {
  confirmationHours: number
  extensionHours: number
  maxExtensions: number
  geofence: Geofence
  /** Every member needs a passed check (true), or one member does (false). */
  requireEachMember: boolean
}

export class ConfirmationService {
  readonly #stores: Stores
  readonly #clock: Clock
  readonly #rules: ConfirmationRules
  readonly #signals: ConfirmationSignals
  readonly #events: EventPublisher
  // The stored text of each record #load returned: what #save compares against.
  readonly #read = new WeakMap<AppointmentRequestRecord, string>()

  constructor (options: { stores: Stores, clock: Clock, rules: ConfirmationRules, events: EventPublisher, signals?: ConfirmationSignals }) {
    this.#stores = options.stores
    this.#clock = options.clock
    this.#rules = options.rules
    this.#events = options.events
    this.#signals = options.signals ?? { confirmed: () => {}, extended: () => {} }
    const current = async (payload: Record<string, unknown>) => {
      const raw = await this.#stores.kv.get(requestKey(String(payload.requestId)))
      return raw === null ? undefined : JSON.parse(raw) as AppointmentRequestRecord
    }
    // A confirmation stays confirmed; an extension's count only grows.
    this.#events.verifier('appointment.confirmed', async (payload) => (await current(payload))?.status === 'confirmed')
    this.#events.verifier('appointment.extended', async (payload) => ((await current(payload))?.appointment?.extensions ?? 0) >= Number(payload.extensions))
  }

  async #load (subject: string, number: string): Promise<AppointmentRequestRecord & { appointment: Appointment }> {
    const rawIndex = await this.#stores.kv.get(appointmentKey(number.toUpperCase()))
    const index = rawIndex === null ? undefined : JSON.parse(rawIndex) as { requestId: string }
    const raw = index === undefined ? null : await this.#stores.kv.get(requestKey(index.requestId))
    const record = raw === null ? undefined : JSON.parse(raw) as AppointmentRequestRecord
    // The number must be the request's own: an index left by a crashed or racing draw leads nowhere.
    if (record === undefined || record.owner !== subject || record.appointment?.confirmationNumber !== number.toUpperCase()) throw new GatewayError('GW_ERR_APPT_NOT_FOUND')
    if (record.status === 'lapsed' || (record.status === 'selected' && Date.parse(record.appointment.confirmBy) <= this.#clock.now())) throw new GatewayError('GW_ERR_APPT_EXPIRED')
    if (record.status !== 'selected' && record.status !== 'confirmed') throw new GatewayError('GW_ERR_APPT_NOT_FOUND')
    this.#read.set(record, raw as string)
    return record as AppointmentRequestRecord & { appointment: Appointment }
  }

  // Compare-and-set against the record as #load read it: a lapse, a withdrawal or another
  // confirmation written in between wins, and this call answers from what is there now.
  async #save (before: AppointmentRequestRecord, after: AppointmentRequestRecord): Promise<boolean> {
    return this.#stores.kv.replaceIfEquals(requestKey(before.requestId), this.#read.get(before) as string, JSON.stringify(after), { ttlMs: 60 * 24 * 3600_000 })
  }

  async confirm (subject: string, number: string, livenessId: string, location: Fix): Promise<AppointmentRequestRecord> {
    const record = await this.#load(subject, number)
    if (record.status === 'confirmed') return record
    // A live selfie for this appointment: passed, of this group, and decided after the draw.
    const { appointment } = record
    const drawnAt = Date.parse(appointment.confirmBy) - (this.#rules.confirmationHours + (appointment.extensions ?? 0) * this.#rules.extensionHours) * 3600_000
    const fresh = async (id: string | null): Promise<boolean> => {
      const raw = id === null ? null : await this.#stores.kv.get(livenessKey(id))
      const check = raw === null ? undefined : JSON.parse(raw) as LivenessRecord
      return check?.status === 'passed' && check.registrationId === record.registrationId && check.decidedAt !== undefined && Date.parse(check.decidedAt) >= drawnAt
    }
    if (!await fresh(livenessId)) throw new GatewayError('GW_ERR_APPT_LIVENESS_REQUIRED')
    if (this.#rules.requireEachMember) {
      const members = await Promise.all(Array.from({ length: record.groupSize }, async (_, i) => fresh(await this.#stores.kv.get(memberPassKey(record.registrationId, i)))))
      if (!members.every(Boolean)) throw new GatewayError('GW_ERR_APPT_LIVENESS_REQUIRED')
    }
    const verdict = judgeFix(location, this.#rules.geofence)
    if (verdict === 'imprecise') throw new GatewayError('GW_ERR_GEO_IMPRECISE')
    if (verdict !== 'inside') throw new GatewayError('GW_ERR_GEO_OUTSIDE')
    const confirmed = { ...record, status: 'confirmed' as const }
    const event: DomainEvent = {
      type: 'appointment.confirmed',
      about: record.requestId,
      registrationId: record.registrationId,
      time: this.#clock.now(),
      payload: { requestId: record.requestId, registrationId: record.registrationId, confirmationNumber: appointment.confirmationNumber, poe: appointment.poe, date: appointment.date, slot: appointment.slot, livenessId, confirmedAt: new Date(this.#clock.now()).toISOString() }
    }
    await this.#events.intend(event)
    if (!await this.#save(record, confirmed)) return this.confirm(subject, number, livenessId, location)
    await this.#events.append(event)
    // Off the lapse sweep's list; were this step lost, the sweep drops a confirmed entry itself.
    await this.#stores.sortedSets.remove(deadlinesKey(record.appointment.date), record.requestId)
    this.#signals.confirmed(record.poe)
    return confirmed
  }

  async extend (subject: string, number: string): Promise<AppointmentRequestRecord> {
    const record = await this.#load(subject, number)
    const appointment = record.appointment
    const used = appointment.extensions ?? 0
    if (record.status !== 'selected' || used >= this.#rules.maxExtensions) throw new GatewayError('GW_ERR_APPT_EXTENSION_USED')
    const extended = {
      ...record,
      appointment: { ...appointment, extensions: used + 1, confirmBy: new Date(Date.parse(appointment.confirmBy) + this.#rules.extensionHours * 3600_000).toISOString() }
    }
    const event: DomainEvent = {
      type: 'appointment.extended',
      about: record.requestId,
      version: used + 1,
      registrationId: record.registrationId,
      time: this.#clock.now(),
      payload: { requestId: record.requestId, registrationId: record.registrationId, confirmationNumber: appointment.confirmationNumber, confirmBy: extended.appointment.confirmBy, extensions: used + 1 }
    }
    await this.#events.intend(event)
    if (!await this.#save(record, extended)) return this.extend(subject, number)
    await this.#events.append(event)
    // The sweep reads the record before lapsing anything, so a lost re-score cannot lapse it early.
    await this.#stores.sortedSets.add(deadlinesKey(appointment.date), record.requestId, Date.parse(extended.appointment.confirmBy))
    this.#signals.extended(record.poe)
    return extended
  }
}
