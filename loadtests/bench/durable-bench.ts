// npm run bench:durable: what GATEWAY_REDIS_WAIT_REPLICAS=1 costs on record writes. A private
// master and its replica (redis-server on loopback); the real Redis stores with and without the
// durability option, on that master, in one run: --concurrency writers (64) each doing kv.set of
// a record (60 s TTL) in a loop for --seconds (3) per phase, plain first, then durable, then plain
// and durable again, and the two rounds summed. A durable write resolves only once the replica
// acknowledged it (a [w1..wn, WAIT 1] pipeline per master, group commit: replication.ts).
// Reported: writes/s of each and the ratio durable / plain, with errors counted (a write that
// fails is not counted as done). Exit 1 when a write failed or nothing was measured.
// Last line: durable-bench: ops=<n> plain_per_s=<n> durable_per_s=<n> ratio=<r>
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { parseArgs } from 'node:util'
import { Redis } from 'ioredis'
import { storeKey } from '../../gateway/store/keys.js'
import type { Stores } from '../../gateway/store/ports.js'
import { createRedisStores } from '../../gateway/store/redis/index.js'
import { startRedis, stopRedis } from '../lib/redis-server.js'

const { values } = parseArgs({ options: { concurrency: { type: 'string', default: '64' }, seconds: { type: 'string', default: '3' } } })
const concurrency = Number(values.concurrency)
const seconds = Number(values.seconds)
if (!(Number.isInteger(concurrency) && concurrency >= 1)) throw new RangeError('--concurrency must be a positive integer')
if (!(seconds > 0)) throw new RangeError('--seconds must be a number above 0')

async function phase (stores: Stores, tag: string): Promise<{ ops: number, errors: number, ms: number }> {
  let ops = 0
  let errors = 0
  const started = performance.now()
  const until = started + seconds * 1000
  await Promise.all(Array.from({ length: concurrency }, async (_, w) => {
    for (let i = 0; performance.now() < until; i++) {
      try {
        await stores.kv.set(storeKey(`bench.${tag}.${w}.${i}`), 'x'.repeat(200), { ttlMs: 60_000 })
        ops++
      } catch {
        errors++
      }
    }
  }))
  return { ops, errors, ms: performance.now() - started }
}

const dir = await mkdtemp(join(tmpdir(), 'gateway-durable-bench-'))
const master = await startRedis(dir, undefined, ['--repl-diskless-sync-delay', '0'])
const replica = await startRedis(dir, undefined, ['--replicaof', '127.0.0.1', String(master.port), '--dbfilename', 'replica.rdb'])
const opened: Stores[] = []
let failed = false
try {
  const admin = new Redis(master.port, '127.0.0.1', { lazyConnect: true })
  await admin.connect()
  const deadline = Date.now() + 20_000
  while (!/^slave0:.*state=online/m.test(await admin.info('replication'))) {
    if (Date.now() > deadline) throw new Error('the replica did not sync within 20 s')
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  admin.disconnect()
  const common = { url: `redis://127.0.0.1:${master.port}`, commandTimeoutMs: 2_000, connectTimeoutMs: 2_000, waitTimeoutMs: 500 }
  const plain = await createRedisStores({ ...common, keyPrefix: 'bench-plain', waitReplicas: 0 })
  const durable = await createRedisStores({ ...common, keyPrefix: 'bench-durable', waitReplicas: 1 })
  opened.push(plain, durable)
  const sum = { plain: { ops: 0, errors: 0, ms: 0 }, durable: { ops: 0, errors: 0, ms: 0 } }
  for (let round = 0; round < 2; round++) {
    for (const [name, stores] of [['plain', plain], ['durable', durable]] as const) {
      const r = await phase(stores, `${name}${round}`)
      sum[name].ops += r.ops
      sum[name].errors += r.errors
      sum[name].ms += r.ms
      process.stdout.write(`round ${round + 1} ${name}: ${r.ops} writes, ${r.errors} errors, ${(r.ops / r.ms * 1000).toFixed(0)}/s\n`)
    }
  }
  const plainPerS = sum.plain.ops / sum.plain.ms * 1000
  const durablePerS = sum.durable.ops / sum.durable.ms * 1000
  failed = sum.plain.errors + sum.durable.errors > 0 || sum.plain.ops === 0 || sum.durable.ops === 0
  process.stdout.write(`concurrency=${concurrency} seconds_per_phase=${seconds} errors=${sum.plain.errors + sum.durable.errors}\n`)
  process.stdout.write(`durable-bench: ops=${sum.plain.ops + sum.durable.ops} plain_per_s=${plainPerS.toFixed(0)} durable_per_s=${durablePerS.toFixed(0)} ratio=${(durablePerS / plainPerS).toFixed(2)}\n`)
} finally {
  await Promise.all(opened.map(async (s) => s.close()))
  await stopRedis(replica.child)
  await stopRedis(master.child)
  await rm(dir, { recursive: true, force: true })
}
process.exitCode = failed ? 1 : 0
