// The liveness pipeline, wired: the photo-check pool (piscina, workers/liveness.ts), the vendor
// client behind the contract limiter, the service (gateway/domain/liveness.ts) and its dispatcher,
// which starts with the server and stops with it, and the metrics ops watch: uploads by outcome,
// vendor calls by outcome and duration, queue depth, scans used and left, the rate of the last
// hour and the date the budget runs out at that rate.
import fp from 'fastify-plugin'
import { Piscina } from 'piscina'
import { Counter, Gauge, Histogram } from 'prom-client'
import { CheckerBusyError, LivenessService, type PhotoChecker } from '../domain/liveness.js'
import { createContractLimiter, pacedRate } from '../vendor/contract-limiter.js'
import { LivenessVendorClient, noVendor } from '../vendor/liveness-vendor.js'
import type { PhotoCheckInput, PhotoCheckResult } from '../../workers/liveness.js'
import { perScrape } from '../lib/scrape-cache.js'
import { workerFile } from './workers.js'

declare module 'fastify' {
  interface FastifyInstance {
    liveness: LivenessService
  }
}

export interface LivenessPluginOptions {
  /** The worker file to run photo checks in; tests put a fault-injecting one here. */
  workerFile?: string
}

export default fp<LivenessPluginOptions>(async function liveness (fastify, opts) {
  const { config, clock, stores } = fastify
  const { liveness: rules, vendor: contract } = config

  const pool = new Piscina({
    filename: opts.workerFile ?? workerFile('liveness'),
    minThreads: 0,
    maxThreads: config.workers.livenessMaxThreads,
    maxQueue: rules.checkQueueMax,
    idleTimeout: config.workers.idleTimeoutMs
  })
  const limits = { minWidth: rules.minWidth, minHeight: rules.minHeight, maxWidth: rules.maxWidth, maxHeight: rules.maxHeight, maxPixels: rules.maxPixels }
  const checkInput = { limits, thresholds: rules.thresholds, vendorMaxSide: rules.vendorMaxSide } satisfies Omit<PhotoCheckInput, 'photo'>
  const checker: PhotoChecker = {
    check: async (photo) => {
      // Bounded, waiting for a thread included: an upload never outlives its Idempotency-Key's
      // pending time, so a client's retry cannot start a second check beside it.
      const signal = AbortSignal.timeout(rules.checkTimeoutMs)
      try {
        return await pool.run({ ...checkInput, photo } satisfies PhotoCheckInput, { signal }) as PhotoCheckResult
      } catch (err) {
        if ((err as Error).message === 'Task queue is at limit' || signal.aborted) throw new CheckerBusyError()
        fastify.log.warn({ err: { type: (err as Error).name, message: (err as Error).message } }, 'a photo check failed in its worker; that upload is refused, the pool goes on')
        throw err
      }
    }
  }

  const calls = new Counter({ name: 'gateway_vendor_calls_total', help: 'Liveness vendor calls by outcome: pass, fail, rate_limited, error, timeout, budget, breaker_open.', labelNames: ['outcome'] as const, registers: [fastify.metrics] })
  const callSeconds = new Histogram({ name: 'gateway_vendor_call_duration_seconds', help: 'Duration of liveness vendor calls.', buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30], registers: [fastify.metrics] })
  // Below the contract by the configured pacing, and by the jitter a call can gain on the way.
  const rate = pacedRate(contract.ratePerSecond * contract.pacing)
  const limiter = createContractLimiter({
    id: 'liveness-vendor',
    ratePerSecond: rate,
    maxConcurrent: contract.maxConcurrent,
    redis: stores.redisClient === undefined ? undefined : { client: stores.redisClient }
  })
  const vendor = contract.url === ''
    ? noVendor
    : new LivenessVendorClient({
      url: contract.url,
      timeoutMs: contract.timeoutMs,
      maxRetries: contract.maxRetries,
      breakerResetMs: contract.breakerResetMs,
      limiter,
      observe: (outcome, seconds) => {
        calls.inc({ outcome })
        if (outcome !== 'breaker_open') callSeconds.observe(seconds)
      }
    })

  const uploads = new Counter({ name: 'gateway_liveness_uploads_total', help: 'Liveness photo uploads by outcome: accepted, or why refused (empty, format, truncated, dimensions, unreadable, too_dark, too_bright, backlit, blurred, check_error: the worker crashed or threw).', labelNames: ['outcome'] as const, registers: [fastify.metrics] })
  const decisions = new Counter({ name: 'gateway_liveness_decisions_total', help: 'Vendor verdicts on queued checks: pass or fail.', labelNames: ['outcome'] as const, registers: [fastify.metrics] })
  const dispatchErrors = new Counter({ name: 'gateway_liveness_dispatch_errors_total', help: 'Errors of the liveness dispatcher itself (the store away, a bug); it goes on and the check is tried again.', registers: [fastify.metrics] })
  const deferrals = new Counter({ name: 'gateway_liveness_deferred_total', help: 'Checks put back in the queue: unavailable (no verdict after the retries, or the breaker open) or budget (the contract total is spent).', labelNames: ['reason'] as const, registers: [fastify.metrics] })
  const service = new LivenessService({
    stores,
    clock,
    registrations: fastify.registrations,
    events: fastify.events,
    checker,
    vendor,
    rules: {
      limits,
      maxPhotoBytes: rules.maxPhotoBytes,
      vendorQueueMax: rules.vendorQueueMax,
      totalScans: contract.totalScans,
      pacedRate: rate,
      maxConcurrent: contract.maxConcurrent,
      resultTtlMs: rules.resultTtlDays * 24 * 3600_000,
      photoTtlMs: rules.photoTtlHours * 3600_000,
      refusedPauseMs: contract.refusedPauseMinutes * 60_000,
      // Renewed every 10 s while an instance works on a check: 30 s after it dies, another takes over.
      leaseMs: 30_000,
      retryDelayMs: 5_000,
      idleMs: 250
    },
    signals: {
      uploaded: (outcome) => uploads.inc({ outcome }),
      flagged: (reason) => fastify.fraudSignals.flagged(reason),
      decided: (outcome) => decisions.inc({ outcome }),
      deferred: (reason) => deferrals.inc({ reason }),
      failed: (err) => {
        dispatchErrors.inc()
        fastify.log.error({ err: { type: (err as Error).name, message: (err as Error).message } }, 'liveness dispatcher error; it goes on')
      }
    }
  })
  fastify.decorate('liveness', service)

  // Budget figures come from the store at scrape time, so every instance reports the shared truth.
  type Usage = { used: number, lastHour: number, queued: number }
  const read = perScrape(async () => service.usage())
  const gauge = (name: string, help: string, value: (u: Usage) => number) => {
    // eslint-disable-next-line no-new -- registered in the registry by the constructor
    new Gauge({
      name,
      help,
      registers: [fastify.metrics],
      async collect () {
        const now = await read()
        if (now !== undefined) this.set(value(now))
      }
    })
  }
  gauge('gateway_vendor_budget_total', 'Scans in the liveness vendor contract (GATEWAY_VENDOR_TOTAL_SCANS).', () => contract.totalScans)
  gauge('gateway_vendor_budget_used', 'Scans of the contract used (or reserved for a call in flight), across instances.', (u) => u.used)
  gauge('gateway_vendor_budget_remaining', 'Scans of the contract left, across instances.', (u) => Math.max(0, contract.totalScans - u.used))
  gauge('gateway_vendor_scans_last_hour', 'Scans the vendor gave a verdict on in the last 60 minutes, across instances: the current burn rate.', (u) => u.lastHour)
  gauge('gateway_vendor_budget_depletion_timestamp_seconds', 'When the contract runs out at the last hour\'s rate (Unix seconds); +Inf while nothing is being used.', (u) => {
    const perSecond = u.lastHour / 3600
    return perSecond === 0 ? Infinity : clock.now() / 1000 + Math.max(0, contract.totalScans - u.used) / perSecond
  })
  gauge('gateway_liveness_queue_depth', 'Checked photos waiting for the vendor (or with it), across instances.', (u) => u.queued)
  // eslint-disable-next-line no-new -- registered in the registry by the constructor
  new Gauge({ name: 'gateway_vendor_contract_rate', help: 'The vendor contract rate, scans per second (GATEWAY_VENDOR_RATE_PER_SECOND), to draw beside the call rate.', registers: [fastify.metrics], collect () { this.set(contract.ratePerSecond) } })
  // eslint-disable-next-line no-new -- registered in the registry by the constructor
  new Gauge({
    name: 'gateway_vendor_circuit_open',
    help: 'The vendor circuit breaker of this instance: 1 open, 0.5 half-open, 0 closed.',
    registers: [fastify.metrics],
    collect () {
      const state = vendor instanceof LivenessVendorClient ? vendor.state().breaker : 'closed'
      this.set(state === 'open' ? 1 : state === 'half_open' ? 0.5 : 0)
    }
  })
  const labelNames = ['pool'] as const
  for (const [name, help, value] of [
    ['gateway_liveness_pool_utilization', 'Share of the photo-check pool\'s capacity in use since it started (piscina utilization, 0 to 1).', () => pool.utilization],
    ['gateway_liveness_pool_queue_size', 'Photos waiting for a worker thread in this instance.', () => pool.queueSize],
    ['gateway_liveness_pool_threads', 'Photo-check worker threads running.', () => pool.threads.length]
  ] as const) {
    // eslint-disable-next-line no-new -- registered in the registry by the constructor
    new Gauge({ name, help, labelNames, registers: [fastify.metrics], collect () { this.set({ pool: 'liveness' }, value()) } })
  }

  if (contract.url === '') fastify.log.warn('no liveness vendor configured (GATEWAY_VENDOR_URL): checked photos wait in the queue')
  fastify.addHook('onReady', async () => { service.start() })
  // Closing: the vendor client first (no new attempts, backoffs cut short), then the limiter (slot
  // waits end), then the dispatcher, which then only waits for calls already on the wire. A check
  // cut off keeps its scan and its place: its lease runs out and another instance sends it again
  // with the same Idempotency-Key.
  fastify.addHook('onClose', async () => {
    if (vendor instanceof LivenessVendorClient) vendor.abort()
    await Promise.all([limiter.close(), service.stop()])
    if (vendor instanceof LivenessVendorClient) await vendor.close()
    await pool.close({ force: true })
  })
}, { name: 'liveness', dependencies: ['registrations', 'metrics', 'stores', 'events'] })
