// What the shared contract limiter delivers (gateway/vendor/contract-limiter.ts), measured at the
// vendor: two gateway instances (two processes, two Redis connections, one private redis-server)
// split BENCH_JOBS scans and send them through their limiters to the liveness vendor simulator,
// whose contract is BENCH_CONTRACT scans/s. At exactly the contract rate, then at
// pacedRate(contract) (50 ms of headroom) and pacedRate(contract, 100). Reported: the most requests that reached the vendor in
// any one-second window (exact, at the vendor's clock), 429s, and the time taken. Then an outage:
// Redis killed mid-way and restarted, with how fast schedule() refuses and recovers.
// Knobs (environment): BENCH_JOBS (100), BENCH_CONTRACT (5).
import { fork, type ChildProcess } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { fileURLToPath } from 'node:url'
import { createRedisClient } from '../../gateway/store/redis/client.js'
import { createContractLimiter, pacedRate } from '../../gateway/vendor/contract-limiter.js'
import { startRedis, stopRedis } from '../lib/redis-server.js'
import { maxInAnyWindow } from '../lib/sliding-window.js'
import { startLivenessVendor } from '../simulators/liveness-vendor.js'
import type { InstanceReport, InstanceTask } from './servers/contract-limiter-instance.js'

const jobs = Number(process.env.BENCH_JOBS ?? 100)
const contract = Number(process.env.BENCH_CONTRACT ?? 5)
const here = (path: string): string => fileURLToPath(new URL(path, import.meta.url))
const now = (): number => performance.timeOrigin + performance.now()

/** The child's next IPC message; rejects if it exits first. */
async function nextMessage (child: ChildProcess): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const onExit = (code: number | null): void => reject(new Error(`instance exited (${code}) before answering`))
    child.once('exit', onExit)
    child.once('message', (message) => {
      child.off('exit', onExit)
      resolve(message)
    })
  })
}

async function pacing (redisUrl: string, ratePerSecond: number): Promise<Record<string, unknown>> {
  const vendor = await startLivenessVendor({ ratePerSecond: contract, totalScans: 1e9, latencyMs: 50 })
  const instances: ChildProcess[] = []
  try {
    const id = `bench-${Math.random().toString(36).slice(2)}`
    for (let i = 0; i < 2; i++) instances.push(fork(here('./servers/contract-limiter-instance.js'), { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] }))
    const ready = instances.map(nextMessage)
    instances.forEach((child, i) => {
      const task: InstanceTask = { redisUrl, keyPrefix: 'bench', id, ratePerSecond, maxConcurrent: 4, jobs: Math.floor(jobs / 2) + (i === 0 ? jobs % 2 : 0), vendorUrl: vendor.url }
      child.send(task)
    })
    await Promise.all(ready)
    const reports = instances.map(async (child) => await nextMessage(child) as InstanceReport)
    const started = now()
    instances.forEach((child) => child.send('go'))
    const done = await Promise.all(reports)
    const starts = done.flatMap((r) => r.starts).sort((a, b) => a - b)
    const gaps = starts.slice(1).map((s, i) => s - (starts[i] as number))
    const stats = vendor.stats()
    const statuses: Record<string, number> = {}
    for (const r of done) for (const [k, v] of Object.entries(r.statuses)) statuses[k] = (statuses[k] ?? 0) + v
    return {
      ratePerSecond: Number(ratePerSecond.toFixed(3)),
      done: starts.length,
      perInstance: done.map((r) => r.starts.length).join('+'),
      statuses: JSON.stringify(statuses),
      errors: done.reduce((n, r) => n + r.errors.length, 0),
      vendorMaxIn1s: stats.maxInAnyOneSecond,
      startsMaxIn1s: maxInAnyWindow(starts),
      minGapMs: Number(Math.min(...gaps).toFixed(1)),
      totalS: Number(((now() - started) / 1000).toFixed(2))
    }
  } finally {
    for (const child of instances) if (child.exitCode === null) child.kill('SIGKILL')
    await vendor.close()
  }
}

async function outage (dir: string): Promise<Record<string, unknown>> {
  let redis = await startRedis(dir)
  const client = createRedisClient({ url: `redis://127.0.0.1:${redis.port}`, keyPrefix: 'bench', commandTimeoutMs: 1_000, connectTimeoutMs: 1_000 })
  client.on('error', () => {})
  await client.connect()
  const limiter = createContractLimiter({ id: 'bench-outage', ratePerSecond: contract, maxConcurrent: 2, redis: { client } })
  const timed = async (): Promise<{ ms: number, at: number, outcome: string }> => {
    const t = now()
    const outcome = await limiter.schedule(async () => 'ran').catch((err: Error) => `${err.name}: ${(err.cause as Error | undefined)?.message ?? err.message}`)
    return { ms: Number((now() - t).toFixed(1)), at: now(), outcome }
  }
  try {
    // A queue behind the permits, then Redis dies under it.
    const queued = Array.from({ length: 10 }, timed)
    await new Promise((resolve) => setTimeout(resolve, 500))
    const killedAt = now()
    await stopRedis(redis.child, 'SIGKILL')
    const behind = await Promise.all(queued)
    const during = await timed()
    redis = await startRedis(dir, redis.port)
    const restartedAt = now()
    let after = await timed()
    let attempts = 1
    while (after.outcome !== 'ran' && now() - restartedAt < 10_000) {
      await new Promise((resolve) => setTimeout(resolve, 50))
      after = await timed()
      attempts++
    }
    return {
      queuedWhenKilled: behind.filter((b) => b.outcome !== 'ran').length,
      ranOnSlotsBookedBeforeKill: behind.filter((b) => b.outcome === 'ran').length,
      queuedRejectedWithinMs: Number((Math.max(...behind.filter((b) => b.outcome !== 'ran').map((b) => b.at)) - killedAt).toFixed(1)),
      queuedRejection: behind.find((b) => b.outcome !== 'ran')?.outcome,
      duringOutage: `${during.outcome} in ${during.ms} ms`,
      recoveredAfterMs: Number((now() - restartedAt).toFixed(0)),
      recoveryAttempts: attempts
    }
  } finally {
    await limiter.close()
    client.disconnect()
    await stopRedis(redis.child)
  }
}

async function main (): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'contract-limiter-bench-'))
  const redis = await startRedis(dir)
  try {
    process.stderr.write(`contract-limiter-bench: ${jobs} scans over 2 instances, vendor contract ${contract}/s\n`)
    const url = `redis://127.0.0.1:${redis.port}`
    const rows = [await pacing(url, contract), await pacing(url, pacedRate(contract)), await pacing(url, pacedRate(contract, 100))]
    console.table(rows)
    await stopRedis(redis.child)
    console.log('outage:', await outage(dir))
  } finally {
    await stopRedis(redis.child)
    await rm(dir, { recursive: true, force: true })
  }
}

await main()
