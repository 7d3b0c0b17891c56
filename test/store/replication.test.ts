// The durability option (GATEWAY_REDIS_WAIT_REPLICAS) on a real master and replica: a record write
// resolves only once the replica has it, and one the replica cannot acknowledge is refused
// (StoreNotReplicatedError, answered 503 GW_ERR_STORE_NOT_REPLICATED), never acknowledged.
// The same on a Redis Cluster, and under a master killed mid-load: test/cluster/faults/.
import { randomUUID } from 'node:crypto'
import { connect, createServer, type AddressInfo, type Socket } from 'node:net'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { Redis } from 'ioredis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { StoreNotReplicatedError, StoreUnavailableError } from '../../gateway/store/errors.js'
import { storeKey } from '../../gateway/store/keys.js'
import { createRedisClient } from '../../gateway/store/redis/client.js'
import { RedisKeyValueStore } from '../../gateway/store/redis/key-value-store.js'
import { Replication } from '../../gateway/store/redis/replication.js'
import type { Stores } from '../../gateway/store/ports.js'
import { startRedis, stopRedis } from '../../loadtests/lib/redis-server.js'
import { buildApp, redisStores, testConfig, uniquePrefix } from '../helpers/app.js'
import { applicant } from '../helpers/tokens.js'

describe('durable writes (WAIT for replicas) on a master with one replica', () => {
  let dir: string
  let master: Awaited<ReturnType<typeof startRedis>>
  let replica: Awaited<ReturnType<typeof startRedis>>
  let onReplica: Redis
  const opened: Stores[] = []

  const stores = async (waitReplicas: number, keyPrefix = uniquePrefix()): Promise<Stores> => {
    // Generous: the test is of what a resolved write means, not of how fast the replica is, and
    // a replica sharing two busy cores with a whole test suite can take over half a second.
    const s = await redisStores({ url: `redis://127.0.0.1:${master.port}`, keyPrefix, waitReplicas, waitTimeoutMs: 3_000, commandTimeoutMs: 6_000 })
    opened.push(s)
    return s
  }

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'gateway-replication-'))
    // No 5 s wait for more replicas before a full sync (Redis 7's default repl-diskless-sync-delay).
    master = await startRedis(dir, undefined, ['--repl-diskless-sync-delay', '0'])
    replica = await startRedis(dir, undefined, ['--replicaof', '127.0.0.1', String(master.port), '--dbfilename', 'replica.rdb'])
    onReplica = new Redis(replica.port, '127.0.0.1', { lazyConnect: true })
    await onReplica.connect()
    // In sync as the master sees it (the replica online), which is what WAIT counts.
    const onMaster = new Redis(master.port, '127.0.0.1', { lazyConnect: true })
    await onMaster.connect()
    try {
      const deadline = Date.now() + 20_000
      while (!/^slave0:.*state=online/m.test(await onMaster.info('replication'))) {
        if (Date.now() > deadline) throw new Error('the replica did not sync with its master within 20 s')
        await sleep(50)
      }
    } finally {
      onMaster.disconnect()
    }
  })

  afterAll(async () => {
    await Promise.all(opened.map(async (s) => s.close()))
    onReplica?.disconnect()
    if (replica !== undefined) await stopRedis(replica.child)
    if (master !== undefined) await stopRedis(master.child)
    await rm(dir, { recursive: true, force: true })
  })

  it('resolves a record write only once the replica holds it', async () => {
    const prefix = uniquePrefix()
    const s = await stores(1, prefix)
    // Read straight after each write resolves, without waiting: WAIT already did.
    for (let i = 0; i < 50; i++) {
      const k = storeKey(`rec.${i}`)
      await s.kv.set(k, `v${i}`, { ttlMs: 60_000 })
      expect(await onReplica.get(`${prefix}:${k}`)).toBe(`v${i}`)
    }
    const claim = storeKey('claim')
    expect(await s.kv.setIfAbsent(claim, 'a', { ttlMs: 60_000 })).toBe(true)
    expect(await s.kv.setIfAbsent(claim, 'b', { ttlMs: 60_000 })).toBe(false)
    expect(await s.kv.replaceIfEquals(claim, 'a', 'c')).toBe(true)
    expect(await s.kv.replaceIfEquals(claim, 'a', 'd')).toBe(false)
    expect(await onReplica.get(`${prefix}:${claim}`)).toBe('c')

    const pool = storeKey('pool', 'day')
    expect(await s.sortedSets.add(pool, 'r1', 5, { ttlMs: 60_000 })).toBe(true)
    expect(await s.sortedSets.add(pool, 'r1', 6, { onlyIfAbsent: true, ttlMs: 60_000 })).toBe(false)
    expect(await onReplica.zscore(`${prefix}:${pool}`, 'r1')).toBe('5')
    expect(await onReplica.pttl(`${prefix}:${pool}`)).toBeGreaterThan(0)

    const event = { id: `evt_${randomUUID()}`, type: 'registration.created', time: 1, payload: '{}' }
    await s.outbox.intend(event, 'reg_1', Date.now() + 60_000)
    const entry = await s.outbox.append(event, 'reg_1')
    expect(entry.entryId).toMatch(/^\d+-\d+$/)
    const stream = `${prefix}:{outbox.${entry.partition}}:stream`
    expect(await onReplica.xrange(stream, entry.entryId, entry.entryId)).toHaveLength(1)
    expect(await onReplica.hlen(`${prefix}:{outbox.${entry.partition}}:intents`)).toBe(0)
  })

  it('refuses a write fewer replicas acknowledge than asked: StoreNotReplicatedError, not acknowledged', async () => {
    const s = await stores(2)
    const err = await s.kv.set(storeKey('two'), 'v').then(() => undefined, (e: unknown) => e)
    expect(err).toBeInstanceOf(StoreNotReplicatedError)
    expect((err as StoreNotReplicatedError).replicas).toBe(1)
    expect((err as StoreNotReplicatedError).required).toBe(2)
    await expect(s.outbox.append({ id: 'e', type: 't', time: 1, payload: '{}' }, 'p')).rejects.toBeInstanceOf(StoreNotReplicatedError)
    // Writes that are not records (rate limits) do not wait.
    expect((await s.rateLimits.decide([{ key: storeKey('bucket'), ratePerSecond: 1, burst: 1 }]))[0]?.allowed).toBe(true)
  })

  it('answers a registration whose records were not replicated with 503 GW_ERR_STORE_NOT_REPLICATED and Retry-After', async () => {
    const gateway = await buildApp({ stores: await stores(2), config: testConfig({ GATEWAY_STORE_UNAVAILABLE_RETRY_AFTER_SECONDS: '7' }) })
    try {
      const res = await gateway.inject({
        method: 'POST',
        url: '/v1/registrations',
        headers: { ...applicant(), 'idempotency-key': randomUUID(), 'accept-language': 'es' },
        payload: { members: [{ firstName: 'Rep', lastName: 'Lica', dateOfBirth: '1990-01-02', nationality: 'VEN', usAddress: { line1: '1 Wait St', city: 'Tucson', state: 'AZ', zip: '85701' } }], preferredLanguage: 'es' }
      })
      expect(res.statusCode).toBe(503)
      expect(res.headers['retry-after']).toBe('7')
      expect(res.json()).toEqual({ code: 'GW_ERR_STORE_NOT_REPLICATED', message: 'El servicio no pudo confirmar que su solicitud se guardó. Inténtelo de nuevo en un minuto.', retryAfterSeconds: 7 })
    } finally {
      await gateway.close()
    }
  })

  it('reports not ready (503 on /readyz) while the durable connection is down, though the main one is up', async () => {
    const s = await stores(1)
    const gateway = await buildApp({ stores: s, config: testConfig() })
    const admin = new Redis(master.port, '127.0.0.1', { lazyConnect: true })
    await admin.connect()
    const [, maxClients] = await admin.config('GET', 'maxclients') as [string, string]
    try {
      expect((await gateway.inject({ method: 'GET', url: '/readyz' })).statusCode).toBe(200)
      // Close every durable connection to this master (this test's and the earlier ones') and
      // leave no room for one more client, so they stay down while the main ones stay up.
      const durableIds = String(await admin.client('LIST')).split('\n').filter((line) => / name=gateway-durable /.test(line)).map((line) => /^id=(\d+) /.exec(line)?.[1] as string)
      expect(durableIds.length).toBeGreaterThan(0)
      const connected = Number(/^connected_clients:(\d+)/m.exec(await admin.info('clients'))?.[1])
      await admin.config('SET', 'maxclients', String(connected - durableIds.length))
      for (const id of durableIds) await admin.client('KILL', 'ID', id)

      const down = await gateway.inject({ method: 'GET', url: '/readyz' })
      expect(down.statusCode).toBe(503)
      expect(down.json().code).toBe('GW_ERR_STORE_UNAVAILABLE')
      // As readiness says: record writes are refused, the main connection still answers.
      await expect(s.kv.set(storeKey('while-down'), 'v')).rejects.toBeInstanceOf(StoreUnavailableError)
      expect((await s.rateLimits.decide([{ key: storeKey('bucket-down'), ratePerSecond: 1, burst: 1 }]))[0]?.allowed).toBe(true)

      await admin.config('SET', 'maxclients', maxClients)
      const deadline = Date.now() + 15_000
      while ((await gateway.inject({ method: 'GET', url: '/readyz' })).statusCode !== 200) {
        if (Date.now() > deadline) throw new Error('/readyz not 200 within 15 s of the durable connection being let back')
        await sleep(100)
      }
      await s.kv.set(storeKey('after'), 'v')
    } finally {
      await admin.config('SET', 'maxclients', maxClients)
      admin.disconnect()
      await gateway.close()
    }
  })

  it('sends concurrent durable writes together (group commit): each resolves, replicated, under fewer WAITs than writes', async () => {
    const prefix = uniquePrefix()
    const s = await stores(1, prefix)
    const onMaster = new Redis(master.port, '127.0.0.1', { lazyConnect: true })
    await onMaster.connect()
    const waits = async () => Number(/^cmdstat_wait:calls=(\d+),/m.exec(await onMaster.info('commandstats'))?.[1] ?? 0)
    try {
      const before = await waits()
      const n = 200
      const added = await Promise.all(Array.from({ length: n }, async (_, i) => {
        if (i % 4 === 1) return s.kv.setIfAbsent(storeKey(`g.${i}`), `v${i}`, { ttlMs: 60_000 })
        if (i % 4 === 2) return s.sortedSets.add(storeKey('g.pool'), `m${i}`, i, { ttlMs: 60_000 })
        if (i % 4 === 3) return (await s.outbox.append({ id: `evt_g${i}`, type: 't', time: i, payload: '{}' }, `p${i}`)).entryId
        await s.kv.set(storeKey(`g.${i}`), `v${i}`, { ttlMs: 60_000 })
        return undefined
      }))
      for (const [i, reply] of added.entries()) {
        if (i % 4 === 1 || i % 4 === 2) expect(reply).toBe(true)
        if (i % 4 === 3) expect(reply).toMatch(/^\d+-\d+$/)
      }
      const waited = await waits() - before
      expect(waited).toBeGreaterThan(0)
      expect(waited).toBeLessThan(n)
      // Each resolved once replicated: all on the replica, read without waiting.
      for (let i = 0; i < n; i += 4) expect(await onReplica.get(`${prefix}:${storeKey(`g.${i}`)}`)).toBe(`v${i}`)
      for (let i = 1; i < n; i += 4) expect(await onReplica.get(`${prefix}:${storeKey(`g.${i}`)}`)).toBe(`v${i}`)
      expect(await onReplica.zcard(`${prefix}:${storeKey('g.pool')}`)).toBe(n / 4)
    } finally {
      onMaster.disconnect()
    }
  })

  it('refuses a durable write that waited in the queue past its budget without sending it: its key stays absent', async () => {
    const prefix = uniquePrefix()
    const client = createRedisClient({ url: `redis://127.0.0.1:${master.port}`, keyPrefix: prefix, commandTimeoutMs: 6_000, connectTimeoutMs: 2_000 })
    await client.connect()
    const onMaster = new Redis(master.port, '127.0.0.1', { lazyConnect: true })
    await onMaster.connect()
    try {
      // Two replicas asked, one there: the first pipeline's WAIT holds the connection for its
      // whole 400 ms, so the write queued behind it waits past its 50 ms budget.
      const kv = new RedisKeyValueStore(client, new Replication(client, { replicas: 2, timeoutMs: 400, queueBudgetMs: 50 }))
      const first = kv.set(storeKey('first'), 'v').then(() => undefined, (e: unknown) => e)
      const queued = kv.set(storeKey('queued'), 'v').then(() => undefined, (e: unknown) => e)
      expect(await first).toBeInstanceOf(StoreNotReplicatedError)
      const refused = await queued
      expect(refused).toBeInstanceOf(StoreUnavailableError)
      expect(refused).not.toBeInstanceOf(StoreNotReplicatedError)
      // Sent and written, though not acknowledged: the first. Never sent: the queued one. A
      // later write on the same connection has been answered, so nothing sent before it is pending.
      await expect(kv.set(storeKey('later'), 'v')).rejects.toBeInstanceOf(StoreNotReplicatedError)
      expect(await onMaster.get(`${prefix}:${storeKey('first')}`)).toBe('v')
      expect(await onMaster.get(`${prefix}:${storeKey('later')}`)).toBe('v')
      expect(await onMaster.exists(`${prefix}:${storeKey('queued')}`)).toBe(0)
    } finally {
      onMaster.disconnect()
      client.disconnect()
    }
  })

  it('never sends again after a reconnect a write already answered as failed (the durable connection), as ioredis would by default', async () => {
    // A loopback proxy in front of the master that can black-hole what the client sends (a
    // partition), then drop the client's side so it reconnects.
    let partitioned = false
    const sides: Socket[] = []
    const proxy = createServer((client) => {
      const server = connect(master.port, '127.0.0.1')
      sides.push(client)
      client.on('data', (d) => { if (!partitioned) server.write(d) })
      server.on('data', (d) => client.write(d))
      for (const side of [client, server]) side.on('error', () => {})
      client.on('close', () => server.destroy())
      server.on('close', () => client.destroy())
    })
    await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve))
    const onMaster = new Redis(master.port, '127.0.0.1', { lazyConnect: true })
    await onMaster.connect()
    const ghostAfterReconnect = async (noResend: boolean): Promise<string | null> => {
      const prefix = uniquePrefix()
      const client = createRedisClient({ url: `redis://127.0.0.1:${(proxy.address() as AddressInfo).port}`, keyPrefix: prefix, commandTimeoutMs: 300, connectTimeoutMs: 1_000, noResend })
      try {
        await client.connect()
        const replication = new Replication(client, { replicas: 0, timeoutMs: 100 })
        await replication.command('set', 'warm', '1')
        partitioned = true
        await expect(replication.command('set', 'ghost', '1')).rejects.toBeInstanceOf(StoreUnavailableError)
        for (const side of sides.splice(0)) side.destroy()
        partitioned = false
        // Reconnected, and a later command answered: anything resent has landed by now.
        const deadline = Date.now() + 10_000
        while (await client.get('warm').catch(() => null) !== '1') {
          if (Date.now() > deadline) throw new Error('no reconnect within 10 s')
          await sleep(50)
        }
        return await onMaster.get(`${prefix}:ghost`)
      } finally {
        client.disconnect()
      }
    }
    try {
      // The control: with ioredis' default the refused write lands after the reconnect.
      expect(await ghostAfterReconnect(false)).toBe('1')
      expect(await ghostAfterReconnect(true)).toBe(null)
    } finally {
      onMaster.disconnect()
      proxy.close()
    }
  })

  it('validates its options when built, with exact messages', async () => {
    const client = createRedisClient({ url: `redis://127.0.0.1:${master.port}`, keyPrefix: uniquePrefix(), commandTimeoutMs: 1_000, connectTimeoutMs: 1_000 })
    expect(() => new Replication(client, { replicas: -1, timeoutMs: 1 })).toThrow('replicas must be a non-negative integer')
    expect(() => new Replication(client, { replicas: 1, timeoutMs: 0 })).toThrow('timeoutMs must be a positive integer')
    expect(() => new Replication(client, { replicas: 1, timeoutMs: 1, queueBudgetMs: 1.5 })).toThrow('queueBudgetMs must be a positive integer')
    client.disconnect()
  })
})
