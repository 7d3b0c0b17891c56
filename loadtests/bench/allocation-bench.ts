// npm run bench:allocation: times one draw (workers/allocation.ts) on one thread over synthetic
// pools of 10k, 100k and 1M entries: group sizes 1 to 6, the 8 default ports of entry and their
// 1,450 places, four slots each, an oldest share of 0.3. Pool building (and its garbage) is not timed.
import { createHash, randomBytes } from 'node:crypto'
import { defaults } from '../../config/defaults.js'
import { allocate, type PoolEntry, type Slot } from '../../workers/allocation.js'

function pool (n: number): PoolEntry[] {
  const poes = defaults.poes.map((p) => p.slug)
  const entries = new Array<PoolEntry>(n)
  for (let i = 0; i < n; i++) {
    const groupSize = 1 + (i * 7919 % 6)
    entries[i] = {
      registrationId: `reg_${i.toString(36).padStart(8, '0')}`,
      createdAtMs: 1_760_000_000_000 + ((i * 104_729) % n) * 1000,
      groupSize,
      identities: Array.from({ length: groupSize }, (_, m) => `id${i}-${m}`),
      poe: poes[i % poes.length] as string
    }
  }
  return entries
}

const slots: Record<string, Slot[]> = Object.fromEntries(defaults.poes.map((p) => {
  const quarter = Math.floor(p.dailyCapacity / 4)
  return [p.slug, ['08:00', '10:00', '12:00', '14:00'].map((slot, i) => ({ slot, capacity: i < 3 ? quarter : p.dailyCapacity - 3 * quarter }))]
}))

const rows: Array<{ n: number, ms: number, assigned: number, people: number }> = []
// ALLOCATION_BENCH_SIZES overrides the pool sizes (a smoke test uses small ones).
const sizes = (process.env.ALLOCATION_BENCH_SIZES ?? '10000,100000,1000000').split(',').map(Number)
for (const n of sizes) {
  const entries = pool(n)
  const seed = createHash('sha256').update(randomBytes(32)).digest()
  allocate({ entries: entries.slice(0, 1000), slots, oldestShare: 0.3, seed })
  // Building the pool leaves garbage that is not the draw's: collect it first (--expose-gc).
  ;(globalThis as { gc?: () => void }).gc?.()
  const started = process.hrtime.bigint()
  const result = allocate({ entries, slots, oldestShare: 0.3, seed })
  const ms = Number(process.hrtime.bigint() - started) / 1e6
  rows.push({ n, ms, assigned: result.assignments.length, people: Object.values(result.counts).reduce((s, c) => s + c.oldest.people + c.random.people, 0) })
}
process.stdout.write(`node ${process.version}, one thread\n| entries | ms | ns per entry | groups drawn | people drawn |\n| --- | --- | --- | --- | --- |\n`)
for (const r of rows) process.stdout.write(`| ${r.n} | ${r.ms.toFixed(1)} | ${Math.round((r.ms * 1e6) / r.n)} | ${r.assigned} | ${r.people} |\n`)
const last = rows[rows.length - 1] as { n: number, ms: number }
process.stdout.write(`allocation-bench: n=${last.n} ms=${Math.round(last.ms)} per_entry_ns=${Math.round((last.ms * 1e6) / last.n)}\n`)
