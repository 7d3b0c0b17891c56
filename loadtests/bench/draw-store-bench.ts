// npm run bench:draw-store -- --entries 1000000: the whole daily draw against a private
// redis-server, not only the pure function (bench:allocation): writes a pool of synthetic entries
// (group sizes 1 to 6 across the 8 default ports, with their requests and registrations) straight
// into the store, then times the seal (paged pool reads, chunked snapshot) and the run (draw,
// results by compare-and-set, stragglers). Filling is not timed. Bounded by --entries; the private
// Redis is stopped by its PID at the end.
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { defaults } from '../../config/defaults.js'
import { loadConfig } from '../../config/load.js'
import { AllocationService } from '../../gateway/domain/allocations.js'
import { EventPublisher } from '../../gateway/domain/events.js'
import { poolKey, requestKey, type AppointmentRequestRecord } from '../../gateway/domain/appointment-requests.js'
import { registrationKey } from '../../gateway/domain/registrations.js'
import { LANGUAGES } from '../../gateway/errors.js'
import { ManualClock } from '../../gateway/store/clock.js'
import { createRedisStores } from '../../gateway/store/redis/index.js'
import { allocate } from '../../workers/allocation.js'
import { startRedis, stopRedis } from '../lib/redis-server.js'

const { values } = parseArgs({ options: { entries: { type: 'string', default: '250000' } } })
const n = Number(values.entries)
if (!Number.isInteger(n) || n < 1 || n > 5_000_000) {
  process.stderr.write('draw-store-bench: --entries must be an integer from 1 to 5000000\n')
  process.exit(2)
}

const dir = await mkdtemp(join(tmpdir(), 'draw-store-bench-'))
const redis = await startRedis(dir)
try {
  const stores = await createRedisStores({ url: `redis://127.0.0.1:${redis.port}`, keyPrefix: 'bench', commandTimeoutMs: 250, connectTimeoutMs: 1_000 })
  const config = loadConfig({ env: {} })
  const clock = new ManualClock(Date.parse('2026-11-23T18:00:00Z'))
  const date = '2026-11-24'
  const allocations = new AllocationService({
    stores,
    clock,
    rules: { oldestShare: config.allocation.oldestShare, slotTimes: config.allocation.slotTimes, confirmationHours: 23, sealGraceMs: 30_000, lapseGraceMs: 60_000, poes: config.poes, schedule: config.schedule, validationSlots: config.registrations.maxMembers, fairness: { languages: LANGUAGES, ...config.fairness } },
    draw: async (input) => allocate(input),
    dobDigest: (dob) => dob.padEnd(43, '.'),
    // The draw appends each outcome to the outbox, as in the gateway.
    events: new EventPublisher({ outbox: stores.outbox, clock, recoverAfterMs: 60_000 })
  })
  await allocations.commit(date)
  const poes = defaults.poes.map((p) => p.slug)
  for (let i = 0; i < n; i += 2_000) {
    await Promise.all(Array.from({ length: Math.min(2_000, n - i) }, async (_, k) => {
      const j = i + k
      const poe = poes[j % poes.length] as string
      const groupSize = 1 + (j % 6)
      const requestId = `apr_${j.toString(36).padStart(22, '0')}`
      const registrationId = `reg_${j.toString(36).padStart(22, '0')}`
      await stores.kv.set(registrationKey(registrationId), JSON.stringify({ registrationId, owner: `u${j}`, createdAtMs: 1.7e12 + j * 1000, members: Array.from({ length: groupSize }, () => ({ dateOfBirth: '1990-01-01' })), identities: Array.from({ length: groupSize }, (_, m) => `identity-${j}-${m}`.padEnd(43, 'x')) }))
      const request: AppointmentRequestRecord = { requestId, owner: `u${j}`, registrationId, poe, poolDate: date, groupSize, createdAt: '2026-11-23T18:00:00.000Z', status: 'pooled' }
      await stores.kv.set(requestKey(requestId), JSON.stringify(request))
      await stores.sortedSets.add(poolKey(poe, date), `${requestId}:${groupSize}`, 1.7e12 + j * 1000)
    }))
  }
  clock.set(allocations.sealableAt(date))
  const heapBefore = process.memoryUsage().heapUsed
  let started = performance.now()
  const { seal } = await allocations.seal(date)
  const sealMs = performance.now() - started
  const heapAfterSeal = process.memoryUsage().heapUsed
  started = performance.now()
  const summary = await allocations.run(date)
  const runMs = performance.now() - started
  await stores.close()
  process.stdout.write('| entries | seal ms | chunks | draw and results ms | heap growth in the seal MB | rss MB |\n| --- | --- | --- | --- | --- | --- |\n')
  process.stdout.write(`| ${summary.entries ?? 0} | ${Math.round(sealMs)} | ${seal.chunks} | ${Math.round(runMs)} | ${Math.round((heapAfterSeal - heapBefore) / 1e6)} | ${Math.round(process.memoryUsage().rss / 1e6)} |\n`)
  process.stdout.write(`draw-store-bench: n=${n} seal_ms=${Math.round(sealMs)} run_ms=${Math.round(runMs)}\n`)
} finally {
  await stopRedis(redis.child)
  await rm(dir, { recursive: true, force: true })
}
