// The gateway's piscina pools: CPU-heavy pure tasks (the daily draw) run on worker threads so the
// event loop keeps answering. Workers load the compiled JavaScript in dist/workers/. Threads start
// on demand and end when idle; the pool closes with the server.
import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import fp from 'fastify-plugin'
import { Piscina } from 'piscina'
import { Gauge } from 'prom-client'
import type { Config } from '../../config/load.js'
import type { AllocationInput, AllocationResult } from '../../workers/allocation.js'

declare module 'fastify' {
  interface FastifyInstance {
    workers: {
      /** Runs one draw on a worker thread. */
      allocate(input: AllocationInput): Promise<AllocationResult>
    }
  }
}

/** dist/workers/<name>.js, from the gateway's source (tests) or its compiled form alike. */
export function workerFile (name: string): string {
  for (const up of ['../../dist/workers/', '../../workers/']) {
    const file = fileURLToPath(new URL(`${up}${name}.js`, import.meta.url))
    if (existsSync(file)) return file
  }
  throw new Error(`worker ${name}.js not found: run npm run build`)
}

export default fp<Config['workers']>(async function workers (fastify, opts) {
  const allocation = new Piscina({
    filename: workerFile('allocation'),
    minThreads: 0,
    maxThreads: opts.allocationMaxThreads,
    idleTimeout: opts.idleTimeoutMs
  })
  fastify.addHook('onClose', async () => { await allocation.close({ force: true }) })

  // Read when Prometheus scrapes (collect), so they cost nothing between scrapes. The registry
  // keeps them; nothing else needs a handle.
  const labelNames = ['pool'] as const
  const gauge = (name: string, help: string, read: () => number): void => {
    // eslint-disable-next-line no-new -- registered in the registry by the constructor
    new Gauge({ name, help, labelNames, registers: [fastify.metrics], collect () { this.set({ pool: 'allocation' }, read()) } })
  }
  gauge('gateway_worker_pool_utilization', 'Share of the worker pool\'s capacity in use since it started (piscina utilization, 0 to 1).', () => allocation.utilization)
  gauge('gateway_worker_pool_queue_size', 'Tasks waiting for a worker thread.', () => allocation.queueSize)
  gauge('gateway_worker_pool_threads', 'Worker threads running.', () => allocation.threads.length)

  fastify.decorate('workers', {
    allocate: async (input: AllocationInput) => allocation.run(input) as Promise<AllocationResult>
  })
}, { name: 'workers', dependencies: ['metrics'] })
