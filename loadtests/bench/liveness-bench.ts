// npm run bench:liveness: how many selfies a second the liveness pre-check (workers/liveness.ts)
// gets through on a piscina pool of 1 and then 2 worker threads, and whether the main thread's
// event loop stays responsive while the pool is saturated (the decode runs off-thread, so it
// should: target p99 < 50 ms).
// Photos: synthetic 960 × 1280 portraits (loadtests/lib/photos.ts), JPEG quality 90, a mix of
// passing and failing scenes, each fully checked (decode, vendor JPEG at 1024 px, measures).
// For each pool size: a warm-up, then for a fixed time twice as many tasks in flight as threads
// (so a thread never waits for the next photo), then the stragglers are awaited and counted.
// Measured on the main thread while the pool works:
//   - event-loop delay: perf_hooks.monitorEventLoopDelay, 10 ms resolution; reported as p99 minus
//     the 10 ms period, as @fastify/under-pressure (the gateway's shedding) computes it;
//   - libuv threadpool wait: p99 of an fs.stat round trip every 20 ms. sharp decodes on the
//     process-wide libuv threadpool, which the main thread's fs and dns.lookup share.
// Knobs (for a smoke test): LIVENESS_BENCH_SECONDS (per pool size, default 8),
// LIVENESS_BENCH_PHOTOS (distinct photos, default 8), LIVENESS_BENCH_SIZE (WxH, default 960x1280),
// LIVENESS_BENCH_WORKERS (pool sizes, default 1,2).
// Last line: liveness-bench: workers=<last pool size> photos_per_s=<one decimal> event_loop_p99_ms=<one decimal>
import { stat } from 'node:fs/promises'
import { availableParallelism, cpus, loadavg } from 'node:os'
import { monitorEventLoopDelay } from 'node:perf_hooks'
import { fileURLToPath } from 'node:url'
import { Piscina } from 'piscina'
import sharp from 'sharp'
import { defaults } from '../../config/defaults.js'
import { type PhotoCheckInput, type PhotoCheckResult } from '../../workers/liveness.js'
import { PORTRAITS, portraitJpeg, type PortraitName } from '../lib/photos.js'
import { quantile } from '../lib/stats.js'

const WORKER = fileURLToPath(new URL('../../workers/liveness.js', import.meta.url))
const RESOLUTION_MS = 10
const PROBE_EVERY_MS = 20

function positive (name: string, fallback: number): number {
  const raw = process.env[name]
  if (raw === undefined || raw === '') return fallback
  const n = Number(raw)
  if (!(n > 0)) throw new RangeError(`liveness-bench: ${name} must be a positive number, got "${raw}"`)
  return n
}

const seconds = positive('LIVENESS_BENCH_SECONDS', 8)
const photoCount = Math.round(positive('LIVENESS_BENCH_PHOTOS', 8))
const [width, height] = (process.env.LIVENESS_BENCH_SIZE ?? '960x1280').split('x').map(Number) as [number, number]
if (!(width >= 320 && height >= 320)) throw new RangeError('liveness-bench: LIVENESS_BENCH_SIZE must be WxH, each at least 320')
const poolSizes = (process.env.LIVENESS_BENCH_WORKERS ?? '1,2').split(',').map(Number)
if (!poolSizes.every((n) => Number.isInteger(n) && n >= 1)) throw new RangeError('liveness-bench: LIVENESS_BENCH_WORKERS must be positive integers')

// Mostly photos that pass (the full path: decode, measures, vendor JPEG), some that fail.
const mix: PortraitName[] = ['deep-well-lit', 'light-well-lit', 'medium-well-lit', 'deep-window-lit', 'light-under-exposed', 'light-backlit', 'deep-blurred', 'light-blown-out']
const photos: Buffer[] = []
for (let i = 0; i < photoCount; i++) {
  const name = mix[i % mix.length] as PortraitName
  photos.push(await portraitJpeg({ ...PORTRAITS[name], seed: 100 + i, width, height }))
}
const limits = { minWidth: 320, minHeight: 320, maxWidth: 8000, maxHeight: 8000, maxPixels: 40_000_000 }
const task = (i: number): PhotoCheckInput => ({ photo: photos[i % photos.length] as Buffer, limits, thresholds: { ...defaults.liveness.thresholds }, vendorMaxSide: 1024 })

interface Row { workers: number, photos: number, seconds: number, perSecond: number, taskP50: number, taskP99: number, loopP99: number, loopMax: number, poolP99: number, passed: number }

async function run (workers: number): Promise<Row> {
  const pool = new Piscina<PhotoCheckInput, PhotoCheckResult>({ filename: WORKER, minThreads: workers, maxThreads: workers, idleTimeout: 60_000 })
  try {
    // Threads started, sharp loaded, code warm.
    await Promise.all(Array.from({ length: workers * 4 }, (_, i) => pool.run(task(i))))

    const loop = monitorEventLoopDelay({ resolution: RESOLUTION_MS })
    const probes: number[] = []
    const probing = { on: true }
    const probe = async () => {
      while (probing.on) {
        const t0 = performance.now()
        await stat(WORKER)
        probes.push(performance.now() - t0)
        await new Promise((resolve) => setTimeout(resolve, PROBE_EVERY_MS))
      }
    }
    const latencies: number[] = []
    let next = 0
    let passed = 0
    const started = performance.now()
    const deadline = started + seconds * 1000
    loop.enable()
    const prober = probe()
    const lane = async () => {
      while (performance.now() < deadline) {
        const t0 = performance.now()
        const result = await pool.run(task(next++))
        latencies.push(performance.now() - t0)
        if (result.ok) passed++
      }
    }
    await Promise.all(Array.from({ length: workers * 2 }, lane))
    const elapsed = (performance.now() - started) / 1000
    loop.disable()
    probing.on = false
    await prober
    latencies.sort((a, b) => a - b)
    probes.sort((a, b) => a - b)
    return {
      workers,
      photos: latencies.length,
      seconds: elapsed,
      perSecond: latencies.length / elapsed,
      taskP50: quantile(latencies, 0.5),
      taskP99: quantile(latencies, 0.99),
      loopP99: Math.max(0, loop.percentile(99) / 1e6 - RESOLUTION_MS),
      loopMax: Math.max(0, loop.max / 1e6 - RESOLUTION_MS),
      poolP99: probes.length > 0 ? quantile(probes, 0.99) : 0,
      passed
    }
  } finally {
    await pool.close()
  }
}

const rows: Row[] = []
for (const workers of poolSizes) rows.push(await run(workers))

const cpu = cpus()[0]?.model ?? 'unknown CPU'
process.stdout.write(`node ${process.version}, ${availableParallelism()} CPUs (${cpu}), load average ${loadavg().map((l) => l.toFixed(2)).join(' ')}, ` +
  `sharp ${sharp.versions.sharp} (libvips ${sharp.versions.vips}, concurrency ${sharp.concurrency()}), UV_THREADPOOL_SIZE ${process.env.UV_THREADPOOL_SIZE ?? '4 (default)'}\n`)
process.stdout.write(`${photoCount} distinct ${width} × ${height} JPEGs (${Math.round(photos.reduce((s, p) => s + p.length, 0) / photos.length / 1024)} KiB on average), ${seconds} s per pool size, vendor JPEG 1024 px\n`)
process.stdout.write('| workers | photos | photos/s | task p50 ms | task p99 ms | event loop p99 ms | event loop max ms | threadpool wait p99 ms | passed |\n| --- | --- | --- | --- | --- | --- | --- | --- | --- |\n')
for (const r of rows) {
  process.stdout.write(`| ${r.workers} | ${r.photos} | ${r.perSecond.toFixed(1)} | ${r.taskP50.toFixed(1)} | ${r.taskP99.toFixed(1)} | ${r.loopP99.toFixed(1)} | ${r.loopMax.toFixed(1)} | ${r.poolP99.toFixed(1)} | ${r.passed} |\n`)
}
const last = rows[rows.length - 1] as Row
process.stdout.write(`liveness-bench: workers=${last.workers} photos_per_s=${last.perSecond.toFixed(1)} event_loop_p99_ms=${last.loopP99.toFixed(1)}\n`)
