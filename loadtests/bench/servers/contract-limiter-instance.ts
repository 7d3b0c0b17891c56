// One gateway instance's contract limiter in a process of its own, for contract-limiter-bench:
// its own event loop and its own Redis connection, made the way the gateway makes it. Told over
// IPC what to do, it schedules that many scans to the vendor simulator and reports each start.
import { randomUUID } from 'node:crypto'
import { performance } from 'node:perf_hooks'
import { request } from 'undici'
import { createRedisClient } from '../../../gateway/store/redis/client.js'
import { createContractLimiter } from '../../../gateway/vendor/contract-limiter.js'

export interface InstanceTask {
  redisUrl: string
  keyPrefix: string
  id: string
  ratePerSecond: number
  maxConcurrent: number
  jobs: number
  vendorUrl: string
}

export interface InstanceReport {
  /** Start times, epoch ms with fractions (performance.timeOrigin + now). */
  starts: number[]
  statuses: Record<string, number>
  errors: string[]
}

// A 4-byte JPEG head is all the simulator checks.
const PHOTO = Buffer.from([0xff, 0xd8, 0xff, 0xe0]).toString('base64')

process.once('message', (task: InstanceTask) => {
  (async () => {
    const client = createRedisClient({ url: task.redisUrl, keyPrefix: task.keyPrefix, commandTimeoutMs: 1_000, connectTimeoutMs: 1_000 })
    await client.connect()
    const limiter = createContractLimiter({ id: task.id, ratePerSecond: task.ratePerSecond, maxConcurrent: task.maxConcurrent, redis: { client } })
    process.send?.({ ready: true })
    await new Promise((resolve) => process.once('message', resolve))
    const report: InstanceReport = { starts: [], statuses: {}, errors: [] }
    await Promise.all(Array.from({ length: task.jobs }, async () => {
      try {
        const status = await limiter.schedule(async () => {
          report.starts.push(performance.timeOrigin + performance.now())
          const res = await request(`${task.vendorUrl}/v1/scans`, {
            method: 'POST',
            headers: { 'content-type': 'application/json', 'idempotency-key': randomUUID() },
            body: JSON.stringify({ reference: randomUUID(), photo: PHOTO })
          })
          await res.body.dump()
          return res.statusCode
        })
        report.statuses[status] = (report.statuses[status] ?? 0) + 1
      } catch (err) {
        report.errors.push((err as Error).message)
      }
    }))
    await limiter.close()
    client.disconnect()
    process.send?.(report, () => process.exit(0))
  })()
})
