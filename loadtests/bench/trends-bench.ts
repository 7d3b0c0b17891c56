// npm run bench:trends [-- --sizes 100000,1000000 --queries 200]: the shared-address report's
// query time at two population sizes, in one run, on a private redis-server. For each size it
// empties Redis, records the synthetic population's households through the gateway's own
// SharedAddressIndex (each registration's claims, then its appointment request's port; not
// timed), then times the officers' report (minClaimants 10, limit 100) --queries times, checks
// that it finds every planted cluster with the claimant, family-name and per-port counts the
// population's truth gives and nothing else, and measures Redis's memory. The report reads the
// ranking from the top, so its time should not grow with the population: the last line gives
// the large size's median over the small size's.
//   trends-bench: small=<n> large=<n> p50_ms_small=<ms> p50_ms_large=<ms> large_vs_small=<ratio> clusters_found=<k>/<K> redis_mb_large=<mb>
// Exit 0 when every planted cluster was found exactly at both sizes, 1 otherwise, 2 on a bad option.
import { randomBytes } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { parseArgs } from 'node:util'
import { defaults } from '../../config/defaults.js'
import { identityHash } from '../../gateway/domain/identity.js'
import type { RegistrationRecord } from '../../gateway/domain/registrations.js'
import { SharedAddressIndex, type SharedAddressReport } from '../../gateway/domain/shared-addresses.js'
import { createRedisStores } from '../../gateway/store/redis/index.js'
import { startRedis, stopRedis } from '../lib/redis-server.js'
import { quantile } from '../lib/stats.js'
import { population, type ClusterTruth, type SynthRegistration } from '../synth/population.js'

class OptionError extends Error {}

function options (): { sizes: [number, number], queries: number, seed: string } {
  let values: Record<string, string | undefined>
  try {
    values = parseArgs({ options: { sizes: { type: 'string' }, queries: { type: 'string' }, seed: { type: 'string' } }, strict: true, allowPositionals: false }).values
  } catch (err) {
    throw new OptionError((err as Error).message)
  }
  const sizes = (values.sizes ?? '100000,1000000').split(',').map(Number)
  if (sizes.length !== 2 || !sizes.every((n) => Number.isInteger(n) && n >= 1_200 && n <= 2_000_000) || (sizes[0] as number) >= (sizes[1] as number)) {
    throw new OptionError(`--sizes must be two whole numbers from 1200 to 2000000, smaller first, such as 100000,1000000; got "${values.sizes ?? ''}"`)
  }
  const queries = Number(values.queries ?? '200')
  if (!Number.isInteger(queries) || queries < 1 || queries > 10_000) throw new OptionError(`--queries must be a whole number from 1 to 10000, got "${values.queries ?? ''}"`)
  return { sizes: sizes as [number, number], queries, seed: values.seed ?? 'trends-bench' }
}

const POES = defaults.poes.map((p) => p.slug)
const say = (line: string): void => { process.stderr.write(`trends-bench: ${line}\n`) }

/** Whether the report holds exactly the planted clusters, each with its truth's counts. */
function check (report: SharedAddressReport, truth: readonly ClusterTruth[]): { found: number, problems: string[] } {
  const problems: string[] = []
  let found = 0
  const rows = [...report.clusters]
  for (const [i, t] of truth.entries()) {
    const row = rows.find((r) => r.claimants === t.claimants && r.distinctLastNames === t.distinctLastNames)
    if (row === undefined) {
      problems.push(`planted cluster ${i} (${t.claimants} claimants, ${t.distinctLastNames} family names) not in the report`)
      continue
    }
    rows.splice(rows.indexOf(row), 1)
    if (JSON.stringify(row.perPoe) !== JSON.stringify(t.claimantsPerPoe)) problems.push(`planted cluster ${i}: per port ${JSON.stringify(row.perPoe)}, truth ${JSON.stringify(t.claimantsPerPoe)}`)
    else if (row.registrations !== t.households) problems.push(`planted cluster ${i}: ${row.registrations} registrations, truth ${t.households}`)
    else found++
  }
  for (const r of rows) problems.push(`an address that was not planted is in the report: ${r.claimants} claimants, ${r.distinctLastNames} family names`)
  return { found, problems }
}

async function main (): Promise<number> {
  const o = options()
  const dir = await mkdtemp(join(tmpdir(), 'trends-bench-'))
  const redis = await startRedis(dir)
  const identityKey = randomBytes(32)
  try {
    const stores = await createRedisStores({ url: `redis://127.0.0.1:${redis.port}`, keyPrefix: 'bench', commandTimeoutMs: 5_000, connectTimeoutMs: 1_000 })
    const index = new SharedAddressIndex({ stores, identityKey, poes: POES, maxExamined: defaults.trends.maxExamined, retentionMs: defaults.trends.retentionDays * 86_400_000 })
    const results: Array<{ size: number, p50: number, p99: number, mb: number, found: number, planted: number, problems: string[] }> = []
    for (const size of o.sizes) {
      await stores.redisClient?.flushall()
      const pop = population({ registrants: size, seed: o.seed, poes: POES })
      const started = performance.now()
      let done = 0
      let batch: SynthRegistration[] = []
      const flush = async (): Promise<void> => {
        await Promise.all(batch.map(async (r) => {
          const record: RegistrationRecord = {
            registrationId: `reg_${r.household.toString(36).padStart(22, '0')}`,
            owner: r.account,
            createdAt: new Date(1.7e12 + r.at * 1000).toISOString(),
            createdAtMs: 1.7e12 + r.at * 1000,
            preferredLanguage: r.preferredLanguage,
            members: r.members,
            identities: r.members.map((m) => identityHash(identityKey, m))
          }
          await index.recordRegistration(record)
          await index.recordRequest(record, r.poe, record.createdAtMs)
        }))
        done += batch.length
        batch = []
      }
      // A household's first registration: its repeats are the same claims (the index counts a person once).
      for (const r of pop.registrations()) {
        if (r.attempt !== 0) continue
        batch.push(r)
        if (batch.length === 500) await flush()
        if (done > 0 && done % 100_000 === 0 && batch.length === 0) say(`${size}: ${done} households recorded`)
      }
      await flush()
      say(`${size}: ${done} households recorded in ${((performance.now() - started) / 1000).toFixed(1)} s (not timed)`)
      const info = await stores.redisClient?.info('memory') ?? ''
      const mb = Number(/used_memory:(\d+)/.exec(info)?.[1] ?? 0) / 1048576

      const times: number[] = []
      let last: SharedAddressReport | undefined
      for (let q = 0; q < o.queries + 10; q++) {
        const t0 = performance.now()
        last = await index.report({ minClaimants: defaults.trends.defaultMinClaimants, minDistinctLastNames: 1, limit: defaults.trends.defaultLimit }, Date.now())
        // The first ten warm the connection and the JIT.
        if (q >= 10) times.push(performance.now() - t0)
      }
      times.sort((a, b) => a - b)
      const { found, problems } = check(last as SharedAddressReport, pop.truth.clusters)
      results.push({ size, p50: quantile(times, 0.5), p99: quantile(times, 0.99), mb, found, planted: pop.truth.clusters.length, problems })
    }
    await stores.close()

    process.stdout.write(`machine: private redis-server, ${o.queries} reports a size (minClaimants ${defaults.trends.defaultMinClaimants}, limit ${defaults.trends.defaultLimit})\n`)
    process.stdout.write('| registrants | report p50 ms | report p99 ms | clusters found | Redis MB |\n| --- | --- | --- | --- | --- |\n')
    for (const r of results) process.stdout.write(`| ${r.size} | ${r.p50.toFixed(2)} | ${r.p99.toFixed(2)} | ${r.found}/${r.planted} | ${r.mb.toFixed(1)} |\n`)
    for (const r of results) for (const p of r.problems) process.stdout.write(`${r.size}: ${p}\n`)
    const [small, large] = results as [typeof results[number], typeof results[number]]
    const found = Math.min(small.found, large.found)
    process.stdout.write(`trends-bench: small=${small.size} large=${large.size} p50_ms_small=${small.p50.toFixed(2)} p50_ms_large=${large.p50.toFixed(2)} large_vs_small=${(large.p50 / small.p50).toFixed(2)} clusters_found=${found}/${large.planted} redis_mb_large=${large.mb.toFixed(0)}\n`)
    return small.problems.length === 0 && large.problems.length === 0 ? 0 : 1
  } finally {
    await stopRedis(redis.child)
    await rm(dir, { recursive: true, force: true })
  }
}

main().then((code) => { process.exitCode = code }, (err: unknown) => {
  process.stderr.write(`trends-bench: ${err instanceof OptionError ? err.message : err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`)
  process.exitCode = 2
})
