// The draw's lifecycle on its own (gateway/domain/allocations.ts), on both store adapters, with
// pools written straight into the store: paging and chunking of big pools, racing seals, a beacon
// set while the draw runs, and entries that land after the seal.
import { afterEach, describe, expect, it } from 'vitest'
import { AllocationService } from '../../gateway/domain/allocations.js'
import { eventId, EventPublisher, type EventType } from '../../gateway/domain/events.js'
import { poolKey, requestKey, type AppointmentRequestRecord } from '../../gateway/domain/appointment-requests.js'
import { auditDraw } from '../../gateway/domain/draw-audit.js'
import { registrationKey } from '../../gateway/domain/registrations.js'
import { GatewayError } from '../../gateway/errors.js'
import { ManualClock } from '../../gateway/store/clock.js'
import { createMemoryStores } from '../../gateway/store/memory/index.js'
import type { OutboxEvent, Stores } from '../../gateway/store/ports.js'
import { allocate, type AllocationInput, type AllocationResult } from '../../workers/allocation.js'
import { redisStores, suiteRedisName, testConfig } from '../helpers/app.js'

const DATE = '2026-11-24'
const AFTER_SEAL = Date.parse('2026-11-24T16:01:00Z')
const config = testConfig()

function service (stores: Stores, clock: ManualClock, draw: (input: AllocationInput) => Promise<AllocationResult> = async (input) => allocate(input)): AllocationService {
  return new AllocationService({
    stores,
    clock,
    rules: { oldestShare: 0.3, slotTimes: ['08:00', '10:00'], confirmationHours: 23, sealGraceMs: 30_000, lapseGraceMs: 60_000, poes: [{ slug: 'laredo', dailyCapacity: 200 }, { slug: 'nogales', dailyCapacity: 50 }], schedule: config.schedule, validationSlots: 2, fairness: { languages: ['en', 'es', 'ht', 'ru'], ageBucketDays: [1, 7, 30], topNationalities: 20 } },
    draw,
    dobDigest: (dob) => `d-${dob}`.padEnd(43, '.'),
    events: new EventPublisher({ outbox: stores.outbox, clock, recoverAfterMs: 60_000 }),
    chunkSize: 700
  })
}

/** Writes n single-person requests into the pool of `poe`, as the request path leaves them. */
async function pool (stores: Stores, poe: string, n: number, from = 0): Promise<string[]> {
  const ids: string[] = []
  for (let i = from; i < from + n; i += 200) {
    await Promise.all(Array.from({ length: Math.min(200, from + n - i) }, async (_, k) => {
      const j = i + k
      const requestId = `apr_${poe}_${j}`
      const registrationId = `reg_${poe}_${j}`
      ids.push(requestId)
      const request: AppointmentRequestRecord = { requestId, owner: `u${j}`, registrationId, poe, poolDate: DATE, groupSize: 1, createdAt: '2026-11-23T18:00:00.000Z', status: 'pooled' }
      await stores.kv.set(registrationKey(registrationId), JSON.stringify({ registrationId, owner: `u${j}`, createdAtMs: 1_700_000_000_000 + j, members: [{ dateOfBirth: '1990-01-01' }], identities: [`id-${poe}-${j}`] }))
      await stores.kv.set(requestKey(requestId), JSON.stringify(request))
      await stores.sortedSets.add(poolKey(poe, DATE), `${requestId}:1`, 1_700_000_000_000 + j)
    }))
  }
  return ids
}

const statusOf = async (stores: Stores, requestId: string) => (JSON.parse(await stores.kv.get(requestKey(requestId)) as string) as AppointmentRequestRecord).status

for (const adapter of ['memory', 'redis'] as const) {
  describe(`the draw's lifecycle (${adapter === 'redis' ? suiteRedisName() : adapter})`, () => {
    let stores: Stores
    afterEach(async () => { await stores.close() })
    const open = async () => { stores = adapter === 'memory' ? createMemoryStores() : await redisStores() }

    it('pages a big pool, seals it in chunks, and the record replays', async () => {
      await open()
      const clock = new ManualClock(Date.parse('2026-11-23T18:00:00Z'))
      const allocations = service(stores, clock)
      await allocations.commit(DATE)
      // More than one page (500) at one port and more than one chunk (700) in all.
      await pool(stores, 'laredo', 1_300)
      await pool(stores, 'nogales', 120)
      clock.set(AFTER_SEAL)
      const summary = await allocations.run(DATE)
      expect(summary).toMatchObject({ status: 'drawn', entries: 1_420 })
      expect(summary.counts?.laredo).toMatchObject({ capacity: 200, entries: 1_300 })
      const record = await allocations.record(DATE)
      expect(record.entries).toHaveLength(1_420)
      expect(new Set(record.entries.map((e) => e.registrationId)).size).toBe(1_420)
      expect(auditDraw(record)).toEqual([])
    }, 60_000)

    it('appends each drawn request\'s outcome to the outbox under its own id: a place, or not selected', async () => {
      await open()
      const clock = new ManualClock(Date.parse('2026-11-23T18:00:00Z'))
      const allocations = service(stores, clock)
      await allocations.commit(DATE)
      const ids = await pool(stores, 'laredo', 260)
      clock.set(AFTER_SEAL)
      const summary = await allocations.run(DATE)
      const events: OutboxEvent[] = []
      for (let p = 0; p < stores.outbox.partitions; p++) events.push(...(await stores.outbox.read(p, 'test', 1_000)).map((e) => e.event))
      const laredo = summary.counts?.laredo as { oldest: { groups: number }, random: { groups: number } }
      const selected = laredo.oldest.groups + laredo.random.groups
      expect(selected).toBe(200)
      expect(events.filter((e) => e.type === 'appointment.allocated')).toHaveLength(selected)
      expect(events.filter((e) => e.type === 'appointment.not-selected')).toHaveLength(260 - selected)
      const about = events.map((e) => JSON.parse(e.payload) as { requestId: string, confirmationNumber?: string })
      expect(new Set(about.map((p) => p.requestId))).toEqual(new Set(ids))
      expect(new Set(events.map((e) => e.id)).size).toBe(260)
      for (const [i, e] of events.entries()) {
        const requestId = (about[i] as { requestId: string }).requestId
        expect(e.id).toBe(eventId(e.type as EventType, requestId))
        expect(await statusOf(stores, requestId)).toBe(e.type === 'appointment.allocated' ? 'selected' : 'not-selected')
      }
      // Done once: asking again appends nothing.
      await allocations.run(DATE)
      expect((await stores.outbox.stats()).depth).toBe(260)
    }, 30_000)

    it('seals once when instances race, and the draw uses exactly the sealed pool', async () => {
      await open()
      const clock = new ManualClock(Date.parse('2026-11-23T18:00:00Z'))
      const a = service(stores, clock)
      const b = service(stores, clock)
      await a.commit(DATE)
      await pool(stores, 'laredo', 300)
      clock.set(AFTER_SEAL)
      const seals = await Promise.allSettled([a.seal(DATE), b.seal(DATE), a.seal(DATE)])
      const created = seals.filter((r) => r.status === 'fulfilled' && r.value.created)
      expect(created).toHaveLength(1)
      for (const r of seals) if (r.status === 'rejected') expect((r.reason as GatewayError).code).toBe('GW_ERR_ALLOC_IN_PROGRESS')
      const summary = await b.run(DATE)
      expect(summary.entries).toBe(300)
      expect(auditDraw(await a.record(DATE))).toEqual([])
    }, 30_000)

    it('refuses a beacon while the draw runs, and after it, instead of leaving it out', async () => {
      await open()
      const clock = new ManualClock(Date.parse('2026-11-23T18:00:00Z'))
      let release = () => {}
      const gate = new Promise<void>((resolve) => { release = resolve })
      const allocations = service(stores, clock, async (input) => { await gate; return allocate(input) })
      await allocations.commit(DATE)
      await pool(stores, 'nogales', 10)
      clock.set(AFTER_SEAL)
      const running = allocations.run(DATE)
      // The run holds the lock while it waits on the gate.
      await new Promise((resolve) => setTimeout(resolve, 50))
      await expect(allocations.setBeacon(DATE, 'late-beacon')).rejects.toMatchObject({ code: 'GW_ERR_ALLOC_IN_PROGRESS' })
      release()
      const summary = await running
      expect(summary.beacon).toBeUndefined()
      await expect(allocations.setBeacon(DATE, 'late-beacon')).rejects.toMatchObject({ code: 'GW_ERR_ALLOC_BEACON_CONFLICT' })
      expect((await allocations.summary(DATE)).beacon).toBeUndefined()
    })

    it('gives an entry that landed after the seal a final answer, and never overwrites a withdrawal', async () => {
      await open()
      const clock = new ManualClock(Date.parse('2026-11-23T18:00:00Z'))
      const allocations = service(stores, clock)
      await allocations.commit(DATE)
      const ids = await pool(stores, 'nogales', 20)
      const [late, gone] = ids as [string, string]
      // `late` reaches the pool only after the seal (a write slower than the grace).
      await stores.sortedSets.remove(poolKey('nogales', DATE), `${late}:1`)
      clock.set(AFTER_SEAL)
      expect((await allocations.seal(DATE)).seal.entries).toBe(19)
      await stores.sortedSets.add(poolKey('nogales', DATE), `${late}:1`, 1)
      // `gone` is withdrawn between the seal and the draw (the pool is no longer edited then).
      const raw = await stores.kv.get(requestKey(gone)) as string
      await stores.kv.set(requestKey(gone), JSON.stringify({ ...JSON.parse(raw), status: 'withdrawn' }))
      await allocations.run(DATE)
      expect(await statusOf(stores, late)).toBe('not-selected')
      expect(await statusOf(stores, gone)).toBe('withdrawn')
      const others = await Promise.all(ids.slice(2).map(async (id) => statusOf(stores, id)))
      expect(others.every((s) => s === 'selected')).toBe(true)
    })
  })
}
