// The registration and appointment-request services, built once and shared with the routes
// through decorators, with their refusals and fraud signals counted as metrics (reason labels
// only: never a person, a device or an address).
import fp from 'fastify-plugin'
import { Counter, Gauge } from 'prom-client'
import { LANGUAGES } from '../errors.js'
import { AllocationService } from '../domain/allocations.js'
import { AppointmentRequestService, REQUEST_REFUSALS } from '../domain/appointment-requests.js'
import { ConfirmationService } from '../domain/confirmations.js'
import { dateOfBirthDigest } from '../domain/identity.js'
import { PartnerValidationService } from '../domain/partner-validation.js'
import { REGISTRATION_FLAGS, REGISTRATION_REFUSALS, RegistrationService } from '../domain/registrations.js'
import { SharedAddressIndex } from '../domain/shared-addresses.js'
import { perScrape } from '../lib/scrape-cache.js'

declare module 'fastify' {
  interface FastifyInstance {
    registrations: RegistrationService
    appointmentRequests: AppointmentRequestService
    allocations: AllocationService
    partnerValidation: PartnerValidationService
    confirmations: ConfirmationService
    /** The cross-POE shared-address index and its report for officers. */
    sharedAddresses: SharedAddressIndex
    /** Counts a fraud signal seen outside registration (photo_reused, from liveness). */
    fraudSignals: { flagged(reason: 'photo_reused'): void }
  }
}

export interface RegistrationsOptions {
  identityKey: Buffer
}

export default fp<RegistrationsOptions>(async function registrations (fastify, opts) {
  const refusals = new Counter({
    name: 'gateway_registration_refusals_total',
    help: 'Registrations refused, by reason: device_limit, velocity, subject_limit, ip_limit, duplicate_identity, subject_blocked.',
    labelNames: ['reason'] as const,
    registers: [fastify.metrics]
  })
  const flags = new Counter({
    name: 'gateway_fraud_flags_total',
    help: 'Suspicious patterns seen: velocity (registrations seconds apart), device_many_subjects, identity_enumeration, photo_reused (one photo on two registrations).',
    labelNames: ['reason'] as const,
    registers: [fastify.metrics]
  })
  const requestRefusals = new Counter({
    name: 'gateway_appointment_request_refusals_total',
    help: 'Appointment requests refused, by reason: window_closed, geo_outside, geo_imprecise.',
    labelNames: ['reason'] as const,
    registers: [fastify.metrics]
  })
  const places = new Counter({
    name: 'gateway_allocation_places_total',
    help: 'People given a place by the daily draw, by port and rule (oldest: the oldest-registrations share; random).',
    labelNames: ['poe', 'rule'] as const,
    registers: [fastify.metrics]
  })
  const groups = new Counter({
    name: 'gateway_allocation_groups_total',
    help: 'Registrations (whole groups) given places by the daily draw, by port and rule.',
    labelNames: ['poe', 'rule'] as const,
    registers: [fastify.metrics]
  })
  const appointments = new Counter({
    name: 'gateway_appointments_total',
    help: 'What became of drawn places, by port and event: confirmed, extended, lapsed (released unconfirmed).',
    labelNames: ['poe', 'event'] as const,
    registers: [fastify.metrics]
  })
  const lastDraw = new Gauge({
    name: 'gateway_allocation_last_draw_timestamp_seconds',
    help: 'When this instance last finished a draw (Unix seconds); 0 before its first.',
    registers: [fastify.metrics]
  })
  // The last draw's figures, replaced whole at each draw so a value that left the pool (a
  // nationality out of the top ones) leaves the metric too. Counts of registrations, not people.
  const fairnessEntrants = new Gauge({
    name: 'gateway_allocation_fairness_entrants',
    help: 'Registrations in this instance\'s last draw, by dimension (language, nationality, age, group_size) and value.',
    labelNames: ['dimension', 'value'] as const,
    registers: [fastify.metrics]
  })
  const fairnessWinners = new Gauge({
    name: 'gateway_allocation_fairness_winners',
    help: 'Registrations given a place in this instance\'s last draw, by dimension (language, nationality, age, group_size) and value.',
    labelNames: ['dimension', 'value'] as const,
    registers: [fastify.metrics]
  })
  const { config, clock, stores, events } = fastify
  // Every reason's series exists from the start at 0 too: the integrity dashboard shows 0 for a
  // limit nobody has hit, and increase() sees the first refusal. Bounded: the reasons are fixed.
  for (const reason of REGISTRATION_REFUSALS) refusals.inc({ reason }, 0)
  for (const reason of [...REGISTRATION_FLAGS, 'photo_reused']) flags.inc({ reason }, 0)
  for (const reason of REQUEST_REFUSALS) requestRefusals.inc({ reason }, 0)
  // Every port's series exist from the start at 0, so a dashboard shows 0 for a port with nothing
  // drawn yet instead of no data, and increase() sees the first draw (Prometheus's advice on
  // missing metrics). Bounded: ports of entry from config times two rules or three events.
  for (const { slug: poe } of config.poes) {
    for (const rule of ['oldest', 'random']) {
      places.inc({ poe, rule }, 0)
      groups.inc({ poe, rule }, 0)
    }
    for (const event of ['confirmed', 'extended', 'lapsed']) appointments.inc({ poe, event }, 0)
  }
  const dobDigest = (dateOfBirth: string) => dateOfBirthDigest(opts.identityKey, dateOfBirth)
  const sharedAddresses = new SharedAddressIndex({ stores, identityKey: opts.identityKey, poes: config.poes.map((p) => p.slug), maxExamined: config.trends.maxExamined, retentionMs: config.trends.retentionDays * 86_400_000 })
  fastify.decorate('sharedAddresses', sharedAddresses)
  const service = new RegistrationService({
    addresses: sharedAddresses,
    stores,
    clock,
    rules: config.registrations,
    identityKey: opts.identityKey,
    events,
    // An attempt names its registration as long as its Idempotency-Key's answer is kept.
    attemptTtlMs: config.idempotency.ttlHours * 3600_000,
    signals: { refused: (reason) => refusals.inc({ reason }), flagged: (reason) => flags.inc({ reason }) }
  })
  fastify.decorate('registrations', service)
  fastify.decorate('fraudSignals', { flagged: (reason: 'photo_reused') => flags.inc({ reason }) })
  const allocations = new AllocationService({
    stores,
    clock,
    rules: {
      oldestShare: config.allocation.oldestShare,
      slotTimes: config.allocation.slotTimes,
      confirmationHours: config.schedule.confirmationHours,
      sealGraceMs: config.allocation.sealGraceSeconds * 1000,
      lapseGraceMs: config.allocation.lapseGraceSeconds * 1000,
      poes: config.poes,
      schedule: config.schedule,
      validationSlots: config.registrations.maxMembers,
      fairness: { languages: LANGUAGES, ...config.fairness }
    },
    draw: async (input) => fastify.workers.allocate(input),
    dobDigest,
    events,
    signals: {
      drawn: (counts, fairness) => {
        fairnessEntrants.reset()
        fairnessWinners.reset()
        for (const row of fairness.rows) {
          fairnessEntrants.set({ dimension: row.dimension, value: row.value }, row.entrants)
          fairnessWinners.set({ dimension: row.dimension, value: row.value }, row.winners)
        }
        for (const [poe, c] of Object.entries(counts)) {
          for (const rule of ['oldest', 'random'] as const) {
            places.inc({ poe, rule }, c[rule].people)
            groups.inc({ poe, rule }, c[rule].groups)
          }
        }
        lastDraw.set(clock.now() / 1000)
      },
      lapsed: (poe) => appointments.inc({ poe, event: 'lapsed' })
    }
  })
  fastify.decorate('allocations', allocations)
  fastify.decorate('partnerValidation', new PartnerValidationService(stores, { dobDigest, slots: config.registrations.maxMembers }))
  fastify.decorate('confirmations', new ConfirmationService({
    stores,
    clock,
    events,
    rules: { confirmationHours: config.schedule.confirmationHours, extensionHours: config.schedule.extensionHours, maxExtensions: config.schedule.maxExtensions, geofence: config.geofence, requireEachMember: config.liveness.requireEachMember },
    signals: { confirmed: (poe) => appointments.inc({ poe, event: 'confirmed' }), extended: (poe) => appointments.inc({ poe, event: 'extended' }) }
  }))
  fastify.decorate('appointmentRequests', new AppointmentRequestService({
    addresses: sharedAddresses,
    commit: async (poolDate) => allocations.commit(poolDate),
    // As far back as a won place can still be open: confirmation, extensions, and a day.
    lookbackDays: Math.ceil((config.schedule.confirmationHours + config.schedule.maxExtensions * config.schedule.extensionHours) / 24) + 1,
    stores,
    clock,
    registrations: service,
    schedule: config.schedule,
    geofence: config.geofence,
    events,
    attemptTtlMs: config.idempotency.ttlHours * 3600_000,
    signals: { refused: (reason) => requestRefusals.inc({ reason }) }
  }))
  // The shared-address ranking as the dashboards see it, across instances: how many addresses
  // are at the report's default floor and the largest count on one address. Counts only: no
  // address, name or person reaches a label.
  const extent = perScrape(async () => stores.addresses.extent(config.trends.defaultMinClaimants))
  // eslint-disable-next-line no-new -- registered in the registry by the constructor
  new Gauge({
    name: 'gateway_shared_addresses',
    help: `Addresses claimed by at least the shared-address report's default floor of people (trends.defaultMinClaimants, here ${config.trends.defaultMinClaimants}), across instances.`,
    registers: [fastify.metrics],
    async collect () {
      const now = await extent()
      if (now !== undefined) this.set(now.atOrAbove)
    }
  })
  // eslint-disable-next-line no-new -- registered in the registry by the constructor
  new Gauge({
    name: 'gateway_shared_address_max_claimants',
    help: 'People claiming the most-claimed address, across instances (0 before the first registration).',
    registers: [fastify.metrics],
    async collect () {
      const now = await extent()
      if (now !== undefined) this.set(now.most)
    }
  })
  const requests = fastify.appointmentRequests
  const poes = config.poes.map((p) => p.slug)
  const sizes = perScrape(async () => requests.poolSizes(poes))
  // eslint-disable-next-line no-new -- registered in the registry by the constructor
  new Gauge({
    name: 'gateway_allocation_pool_size',
    help: 'Appointment requests (whole groups) waiting in today\'s pool for the next draw, by port, across instances.',
    labelNames: ['poe'] as const,
    registers: [fastify.metrics],
    async collect () {
      const all = await sizes()
      if (all !== undefined) for (const { poe, size } of all) this.set({ poe }, size)
    }
  })
}, { name: 'registrations', dependencies: ['stores', 'metrics', 'workers', 'events'] })
