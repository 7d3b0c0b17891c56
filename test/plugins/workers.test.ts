import { createHash } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { allocate, type PoolEntry } from '../../workers/allocation.js'
import { buildApp } from '../helpers/app.js'

describe('worker pool', () => {
  it('runs the draw on a worker thread with the same result as in process, and reports the pool', async () => {
    const gateway = await buildApp()
    try {
      const entries: PoolEntry[] = Array.from({ length: 2_000 }, (_, i) => ({ registrationId: `r${i}`, createdAtMs: i * 7 % 2_000, groupSize: 1 + (i % 4), identities: [`p${i}`], poe: i % 2 === 0 ? 'laredo' : 'hidalgo' }))
      const input = {
        entries,
        slots: { laredo: [{ slot: '08:00', capacity: 100 }, { slot: '10:00', capacity: 100 }], hidalgo: [{ slot: '08:00', capacity: 200 }] },
        oldestShare: 0.3,
        seed: createHash('sha256').update('worker-test').digest()
      }
      const onThread = await gateway.workers.allocate(input)
      expect(onThread).toEqual(allocate(input))
      expect(onThread.counts.laredo?.random.people).toBeGreaterThan(0)
      const metrics = (await gateway.inject('/metrics')).body
      expect(metrics).toMatch(/^gateway_worker_pool_threads\{pool="allocation"\} 1$/m)
      expect(metrics).toMatch(/^gateway_worker_pool_queue_size\{pool="allocation"\} 0$/m)
      expect(metrics).toMatch(/^gateway_worker_pool_utilization\{pool="allocation"\} [0-9.e-]+$/m)
    } finally {
      await gateway.close()
    }
  })
})
