// Why the vendor contract limiter does not use bottleneck's clustering on a Redis Cluster either
// (gateway/vendor/contract-limiter.ts): a canary on the run's 6-node Cluster (Redis 7) that says
// when that changes. bottleneck 2.19.5's keys carry no hash tag, so its scripts span slots; an id
// that is itself a {tag} keeps them on one slot, and then it breaks as on one Redis 7 once its
// keys expire (the "ERR " prefix its recovery does not expect).
import { setTimeout as sleep } from 'node:timers/promises'
import Bottleneck from 'bottleneck'
import { describe, expect, inject, it } from 'vitest'
import { suiteRedis, uniquePrefix } from '../../helpers/app.js'

function clusterConnection (): Bottleneck.IORedisConnection {
  const target = suiteRedis()
  if (!('clusterNodes' in target) || inject('redisClusterNodes') === undefined) throw new Error('no Redis Cluster: run with npm run test:cluster (on-cluster project)')
  const connection = new Bottleneck.IORedisConnection({ clusterNodes: target.clusterNodes })
  connection.on('error', () => {})
  return connection
}

describe('bottleneck 2.19.5 clustering on a Redis Cluster', () => {
  it('refuses every job with CROSSSLOT under a plain id', async () => {
    const limiter = new Bottleneck({ id: uniquePrefix(), datastore: 'ioredis', connection: clusterConnection(), minTime: 10 })
    limiter.on('error', () => {})
    try {
      await expect(limiter.schedule(async () => 'ok')).rejects.toThrow(/^CROSSSLOT /)
    } finally {
      await limiter.disconnect()
    }
  })

  it('runs under a {tagged} id until its keys expire, then never recovers', async () => {
    const limiter = new Bottleneck({ id: `{${uniquePrefix()}}`, datastore: 'ioredis', connection: clusterConnection(), minTime: 10, timeout: 300 })
    limiter.on('error', () => {})
    try {
      await expect(limiter.schedule(async () => 'ok')).resolves.toBe('ok')
      // `timeout` expires the limiter's keys after 300 ms idle; bottleneck means to re-create them.
      await sleep(600)
      await expect(limiter.schedule(async () => 'ok')).rejects.toThrow('ERR SETTINGS_KEY_NOT_FOUND')
    } finally {
      await limiter.disconnect()
    }
  })
})
