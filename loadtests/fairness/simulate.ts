// The synthetic fairness run: the synthetic population (loadtests/synth/population.ts) goes
// through the gateway's own domain services in one process, on an injected clock, day by day:
//   - each registration attempt, at its time, through RegistrationService.create with the rules
//     as configured (per-device, per-account and per-network windows, the velocity check and
//     identity de-duplication: all on by default);
//   - each registration that stands asks for an appointment at its household's port of entry at
//     every opening of the request window (and right away when it registers while the window is
//     open), until it wins a place, through AppointmentRequestService.request;
//   - each pool day is drawn by AllocationService.run, as the scheduler would (allocate() in
//     process: the same pure function the worker thread runs).
// Capacity: the configured daily capacity of each port scaled to the population (× registrants /
// 264,554, the evaluation's registrants in the period), and never below one full group in every
// slot (slots × the largest group), so small runs still have winners of every group size.
// Everything is derived from the seed (identity key, registration ids, the draws' server seeds),
// so the same seed gives the same run.
import { createHash } from 'node:crypto'
import type { Config } from '../../config/load.js'
import { AllocationService } from '../../gateway/domain/allocations.js'
import { AppointmentRequestService } from '../../gateway/domain/appointment-requests.js'
import { canonicalPool, drawSeed, type DrawRecord } from '../../gateway/domain/draw-audit.js'
import { EventPublisher } from '../../gateway/domain/events.js'
import { sumFigures, type FairnessFigures } from '../../gateway/domain/fairness.js'
import { RegistrationService } from '../../gateway/domain/registrations.js'
import { SharedAddressIndex, type SharedAddressReport } from '../../gateway/domain/shared-addresses.js'
import { addDays, poolDayTimes } from '../../gateway/domain/schedule.js'
import { GatewayError, LANGUAGES } from '../../gateway/errors.js'
import { ManualClock } from '../../gateway/store/clock.js'
import { createMemoryStores } from '../../gateway/store/memory/index.js'
import type { Stores } from '../../gateway/store/ports.js'
import { createRedisStores } from '../../gateway/store/redis/index.js'
import { allocate, type Assignment } from '../../workers/allocation.js'
import { population, type ClusterTruth, type PopulationTruth } from '../synth/population.js'
import type { WinCounts } from './advantage.js'

/** Registrants in the evaluation's period, against which the daily capacity is scaled. */
export const EVALUATION_REGISTRANTS = 264_554
/** The first pool day drawn: its window opens when the population starts (June: no daylight-saving change). */
const FIRST_POOL_DATE = '2026-06-02'
/** Inside the default geofence, a precise fix. */
const LOCATION = { latitude: 27.5, longitude: -99.5, accuracyMeters: 10 }
/** Attempts a household must have made to count as a multi-registrant (the evaluation's "10 or more"). */
export const MULTI_ATTEMPTS = 10

export interface SimulationOptions {
  registrants: number
  seed: string
  days: number
  config: Readonly<Config>
  /** The Redis store at this URL (under a fresh key prefix) instead of the memory store. */
  redisUrl?: string
  /** Progress lines (to stderr in the CLI). */
  progress?: (line: string) => void
}

export interface SimulationResult {
  truth: PopulationTruth
  /** Daily places per port as scaled. */
  capacity: Record<string, number>
  attempts: number
  created: number
  /** Refused registration attempts by error code. */
  refused: Record<string, number>
  /** Registration attempts after the last draw's close, never made. */
  afterHorizon: number
  draws: number
  /** The draws' figures added up (entrants are registration-draws). */
  figures: FairnessFigures
  multi: WinCounts
  /** Households that tried once. */
  single: WinCounts
  /** Of them, the households at a planted address. */
  planted: WinCounts
  /** Selected requests whose group did not get one slot and consecutive places of its own, its size, as its appointment says. */
  groupsSplit: number
  /** Selected requests checked for that. */
  groupsPlaced: number
  /** The officers' shared-address report at the end of the run (default floor, the most clusters a query may list). */
  sharedAddresses: SharedAddressReport
  /**
   * The planted clusters as the run made them: only registrations made before the last close
   * count (claimants, households, one family name each), and per port the people whose
   * registration asked for it. What the report must find.
   */
  plantedMade: ClusterTruth[]
}

const digest = (text: string): Buffer => createHash('sha256').update(text).digest()

/** The per-port daily capacity for a population of `registrants`. */
export function scaledCapacity (config: Readonly<Config>, registrants: number): Record<string, number> {
  const floor = config.allocation.slotTimes.length * config.registrations.maxMembers
  return Object.fromEntries(config.poes.map((p) => [p.slug, Math.max(floor, Math.round(p.dailyCapacity * registrants / EVALUATION_REGISTRANTS))]))
}

export async function simulate (options: SimulationOptions): Promise<SimulationResult> {
  const { config, seed } = options
  const progress = options.progress ?? (() => {})
  const capacity = scaledCapacity(config, options.registrants)
  const pop = population({ registrants: options.registrants, seed, days: options.days, poes: config.poes.map((p) => p.slug) })
  const start = poolDayTimes(FIRST_POOL_DATE, config.schedule).opensAt
  const clock = new ManualClock(start)
  const stores: Stores = options.redisUrl === undefined
    ? createMemoryStores({ clock })
    : await createRedisStores({ url: options.redisUrl, keyPrefix: `fairness${digest(`${seed}:${process.pid}:${Date.now()}`).toString('hex').slice(0, 8)}`, commandTimeoutMs: 10_000, connectTimeoutMs: 2_000, clock })
  try {
    const events = new EventPublisher({ outbox: stores.outbox, clock, recoverAfterMs: config.delivery.recoverAfterSeconds * 1000 })
    let serial = 0
    const identityKey = digest(`fairness-identity:${seed}`)
    // The gateway's own index, kept up as people register and ask for ports, read at the end.
    const sharedAddresses = new SharedAddressIndex({ stores, identityKey, poes: config.poes.map((p) => p.slug), maxExamined: config.trends.maxExamined, retentionMs: config.trends.retentionDays * 86_400_000 })
    const registrations = new RegistrationService({
      addresses: sharedAddresses,
      stores,
      clock,
      rules: config.registrations,
      identityKey,
      events,
      signals: { refused: () => {}, flagged: () => {} },
      newId: () => `reg_${digest(`fairness-registration:${seed}:${serial++}`).toString('base64url').slice(0, 22)}`
    })
    const allocations = new AllocationService({
      stores,
      clock,
      rules: {
        oldestShare: config.allocation.oldestShare,
        slotTimes: config.allocation.slotTimes,
        confirmationHours: config.schedule.confirmationHours,
        sealGraceMs: config.allocation.sealGraceSeconds * 1000,
        lapseGraceMs: config.allocation.lapseGraceSeconds * 1000,
        poes: config.poes.map((p) => ({ slug: p.slug, dailyCapacity: capacity[p.slug] as number })),
        schedule: config.schedule,
        validationSlots: config.registrations.maxMembers,
        fairness: { languages: LANGUAGES, ...config.fairness }
      },
      draw: async (input) => allocate(input),
      dobDigest: (dob) => digest(`dob:${dob}`).toString('base64url'),
      events,
      newSeed: (date) => digest(`fairness-draw:${seed}:${date}`)
    })
    const requests = new AppointmentRequestService({
      addresses: sharedAddresses,
      stores,
      clock,
      registrations,
      schedule: config.schedule,
      geofence: config.geofence,
      events,
      signals: { refused: () => {} },
      commit: async (poolDate) => allocations.commit(poolDate)
    })

    // Registrations still waiting for a place, in the order they were made.
    const waiting = new Map<string, { household: number, subject: string, poe: string, size: number }>()
    const attemptsOf = new Map<number, number>()
    const plantedHouseholds = new Set<number>()
    const won = new Set<number>()
    const refused: Record<string, number> = {}
    const figures: FairnessFigures[] = []
    let created = 0
    let groupsSplit = 0
    let groupsPlaced = 0

    const made = pop.truth.clusters.map((t): ClusterTruth => ({ ...t, claimants: 0, distinctLastNames: 0, households: 0, claimantsPerPoe: Object.fromEntries(Object.keys(t.claimantsPerPoe).map((p) => [p, 0])), householdsPerPoe: Object.fromEntries(Object.keys(t.householdsPerPoe).map((p) => [p, 0])) }))
    const plantedBy = new Map<string, number>()
    const asked = new Set<string>()
    const ask = async (registrationId: string, today: Map<string, string>): Promise<void> => {
      const w = waiting.get(registrationId) as { subject: string, poe: string, size: number }
      const { request } = await requests.request(w.subject, { registrationId, poe: w.poe, location: LOCATION })
      today.set(registrationId, request.requestId)
      const ci = plantedBy.get(registrationId)
      if (ci !== undefined && !asked.has(registrationId)) {
        asked.add(registrationId)
        const m = made[ci] as ClusterTruth
        m.claimantsPerPoe[w.poe] = (m.claimantsPerPoe[w.poe] ?? 0) + w.size
        m.householdsPerPoe[w.poe] = (m.householdsPerPoe[w.poe] ?? 0) + 1
      }
    }

    const attempts = pop.registrations()
    let next = attempts.next()
    const at = (): number => start + Math.round((next.value as { at: number }).at * 1000)
    for (let d = 0; d < options.days; d++) {
      const date = addDays(FIRST_POOL_DATE, d)
      const times = poolDayTimes(date, config.schedule)
      const today = new Map<string, string>()
      let windowOpen = false
      const openWindow = async (): Promise<void> => {
        clock.set(Math.max(clock.now(), times.opensAt))
        windowOpen = true
        await allocations.commit(date)
        // Everyone still waiting asks once, in batches (order does not matter: the pool is kept by registration time).
        const ids = [...waiting.keys()]
        for (let i = 0; i < ids.length; i += 200) await Promise.all(ids.slice(i, i + 200).map(async (id) => ask(id, today)))
      }
      while (!next.done && at() < times.closesAt) {
        if (!windowOpen && at() >= times.opensAt) await openWindow()
        const r = next.value
        clock.set(Math.max(clock.now(), at()))
        attemptsOf.set(r.household, (attemptsOf.get(r.household) ?? 0) + 1)
        if (r.cluster >= 0) plantedHouseholds.add(r.household)
        try {
          const view = await registrations.create(
            { subject: r.account, deviceId: r.device, network: `10.${(r.household >> 16) & 255}.${(r.household >> 8) & 255}.${r.household & 255}` },
            { members: r.members, preferredLanguage: r.preferredLanguage }
          )
          created++
          if (r.cluster >= 0) {
            plantedBy.set(view.registrationId, r.cluster)
            const m = made[r.cluster] as ClusterTruth
            m.claimants += r.members.length
            m.households++
            m.distinctLastNames++
          }
          waiting.set(view.registrationId, { household: r.household, subject: r.account, poe: r.poe, size: r.members.length })
          if (windowOpen) await ask(view.registrationId, today)
        } catch (err) {
          if (!(err instanceof GatewayError)) throw err
          refused[err.code] = (refused[err.code] ?? 0) + 1
        }
        next = attempts.next()
      }
      if (!windowOpen) await openWindow()

      clock.set(Math.max(times.drawAt, allocations.sealableAt(date)))
      const summary = await allocations.run(date)
      figures.push(summary.fairness as FairnessFigures)
      // The appointments as the store gives them to applicants, checked against the draw's own
      // places (replayed from its published record, as an auditor would).
      const record = await allocations.record(date)
      const places = replayPlaces(record)
      for (const [registrationId, requestId] of today) {
        const w = waiting.get(registrationId) as { household: number, subject: string, size: number }
        const view = await requests.get(w.subject, requestId)
        if (view.status !== 'selected') continue
        groupsPlaced++
        const a = places.get(registrationId)
        const slotCapacity = a === undefined ? 0 : (record.slots[a.poe]?.find((s) => s.slot === a.slot)?.capacity ?? 0)
        const whole = a !== undefined && a.groupSize === w.size && a.firstPlace + a.groupSize <= slotCapacity &&
          view.appointment?.poe === a.poe && view.appointment.slot === a.slot && view.appointment.date === date
        if (!whole) groupsSplit++
        won.add(w.household)
        waiting.delete(registrationId)
      }
      groupsSplit += overlaps(places)
      // The backend takes the day's events, as delivery would: the outbox does not grow for the whole run.
      for (let p = 0; p < stores.outbox.partitions; p++) {
        for (let batch = await stores.outbox.read(p, 'fairness-run', 5_000); batch.length > 0; batch = await stores.outbox.read(p, 'fairness-run', 5_000)) {
          await Promise.all(batch.map(async (entry) => stores.outbox.ack(entry)))
        }
      }
      progress(`day ${d + 1}/${options.days} (${date}): ${summary.entries ?? 0} entries, ${figures.at(-1)?.winners ?? 0} won; ${created} registrations so far`)
    }
    // Attempts after the last close were never made; they still count as tries of their household.
    let afterHorizon = 0
    for (; !next.done; next = attempts.next()) {
      afterHorizon++
      if (next.value.cluster >= 0) plantedHouseholds.add(next.value.household)
      attemptsOf.set(next.value.household, (attemptsOf.get(next.value.household) ?? 0) + 1)
    }

    const multi: WinCounts = { households: 0, winners: 0 }
    const single: WinCounts = { households: 0, winners: 0 }
    // Planted households all try once; shown apart too, since they are no random sample of the
    // single registrants (each cluster goes round robin over its first 2 to 8 ports) and in a
    // small population they are a large share of them (1,176 households).
    const planted: WinCounts = { households: 0, winners: 0 }
    for (const [household, n] of attemptsOf) {
      const groups = n >= MULTI_ATTEMPTS ? [multi] : n !== 1 ? [] : plantedHouseholds.has(household) ? [single, planted] : [single]
      for (const group of groups) {
        group.households++
        if (won.has(household)) group.winners++
      }
    }
    return {
      truth: pop.truth,
      capacity,
      attempts: [...attemptsOf.values()].reduce((a, b) => a + b, 0),
      created,
      refused,
      afterHorizon,
      draws: options.days,
      figures: sumFigures(figures, `${figures.length} draws from ${FIRST_POOL_DATE}`, { languages: LANGUAGES, ...config.fairness }),
      multi,
      single,
      planted,
      groupsSplit,
      groupsPlaced,
      plantedMade: made,
      sharedAddresses: await sharedAddresses.report({ minClaimants: config.trends.defaultMinClaimants, minDistinctLastNames: 1, limit: config.trends.maxLimit }, clock.now())
    }
  } finally {
    await stores.close()
  }
}

function replayPlaces (record: DrawRecord): Map<string, Assignment> {
  const result = allocate({ entries: canonicalPool(record.entries), slots: record.slots, oldestShare: record.oldestShare, seed: drawSeed(Buffer.from(record.serverSeed, 'hex'), record.poolDigest, record.beacon) })
  return new Map(result.assignments.map((a) => [a.registrationId, a]))
}

/** Groups whose places overlap another group's in the same slot: a split, whatever the records say. */
function overlaps (places: Map<string, Assignment>): number {
  const bySlot = new Map<string, Assignment[]>()
  for (const a of places.values()) {
    const key = `${a.poe}\t${a.slot}`
    let list = bySlot.get(key)
    if (list === undefined) bySlot.set(key, list = [])
    list.push(a)
  }
  let n = 0
  for (const list of bySlot.values()) {
    list.sort((x, y) => x.firstPlace - y.firstPlace)
    for (let i = 1; i < list.length; i++) {
      const prev = list[i - 1] as Assignment
      if ((list[i] as Assignment).firstPlace < prev.firstPlace + prev.groupSize) n++
    }
  }
  return n
}
