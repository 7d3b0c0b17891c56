// Fault: a Redis Cluster master killed under load, with writes it acknowledged that its replica
// never received.
//
// INJECTS: while 16 clients keep registering through the real HTTP API of a gateway process on a
// 6-node cluster (3 masters, 3 replicas, cluster-node-timeout 1000 ms), a replication gap on the
// master serving the slot of the registration record acknowledged last: its replica is stopped
// (SIGSTOP by PID) and the master's replication link closed (CLIENT KILL TYPE replica), so what
// the master takes from then on reaches no replica. A SIGSTOP alone makes no gap: the master
// keeps writing to the link, the stopped replica's kernel buffers it, and the replica applies all
// of it once continued (tried by hand: 200 writes made during a stop all reached the replica).
// GAP_MS later the master is SIGKILLed (by PID) and the replica continued (SIGCONT). The replica
// was stopped for about GAP_MS, under half the node timeout, so no node marks it failing and it
// is promoted as usual. The killed node is then started again and rejoins as a replica.
//
// CHECKS: during the failover every answer is 201, or 503 with Retry-After and a GW_ERR_STORE_*
// code (registrations fail closed), never a hang (10 s client timeout), another status, or a
// gateway crash, and /readyz answers; after the cluster is whole again registrations are
// accepted again and /readyz says ready. Then it
// COUNTS acknowledged writes lost: for every registration answered 201, its record is read back
// (GET, its own token: 404 is lost), its registration.created event must be in the outbox (stream
// or intent; no backend is configured, so nothing is delivered), and its identity claim must
// still hold (the same person registered by another account: 409 GW_ERR_REG_DUPLICATE_IDENTITY).
// Without the durability option the master acknowledged writes during the gap, so the count is
// above 0 (asserted: the gap works); with GATEWAY_REDIS_WAIT_REPLICAS=1 those writes waited for
// a replica that never answered and were refused with 503, and the count is exactly 0.
import { randomUUID } from 'node:crypto'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { Cluster } from 'ioredis'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { eventId } from '../../../gateway/domain/events.js'
import { formatHits, needlesFromRegistrations, scanText } from '../../../loadtests/lib/pii-scan.js'
import { startRedisCluster, type RedisCluster } from '../../../loadtests/lib/redis-cluster.js'
import { uniquePrefix } from '../../helpers/app.js'
import { startGateway, stopGateway, type GatewayProcess } from '../../helpers/process.js'
import { applicant, publicKeyPem } from '../../helpers/tokens.js'

const scratch = mkdtempSync(join(tmpdir(), 'gateway-redis-failover-'))
writeFileSync(join(scratch, 'jwt.pem'), publicKeyPem)
writeFileSync(join(scratch, 'identity.key'), Buffer.alloc(32, 5))

const CLIENTS = 16
const CLIENT_TIMEOUT_MS = 10_000
// How long the doomed master takes writes its replica never gets. The replica is stopped that
// long (plus the few ms of the kill): under half of cluster-node-timeout (1000 ms), so the other
// nodes never mark it failing and it is the one promoted. Long enough for the load to land tens
// of registrations on that master (a third of the slots) without durability, and past the WAIT
// timeout below (500 ms) is not needed: a WAIT still blocked at the kill fails with the connection.
const GAP_MS = 450
const OUTBOX_PARTITIONS = 8

interface Outcome {
  /** The member(index) sent. */
  index: number
  status: number | 'no answer'
  code?: string
  retryAfter?: string | null
  sentAt: number
  /** When the answer came (or the client gave up). */
  doneAt: number
  registrationId?: string
  headers?: Record<string, string>
  detail?: string
}

const member = (i: number) => ({ firstName: `Fail${i}`, lastName: `Over${i % 97}`, dateOfBirth: `19${50 + (i % 50)}-0${1 + (i % 9)}-1${i % 10}`, nationality: 'HTI', usAddress: { line1: `${i} Failover Way`, city: 'Laredo', state: 'TX', zip: '78040' } })

/** Registers continuously from CLIENTS clients until stop(); every answer (or its absence) is kept. */
function registrationLoad (base: string, run: string) {
  const outcomes: Outcome[] = []
  let next = 0
  const state = { stopped: false }
  const client = async (): Promise<void> => {
    while (!state.stopped) {
      const i = next++
      const headers = applicant(randomUUID(), { sub: `failover-${run}-${i}` })
      const sentAt = Date.now()
      try {
        const res = await fetch(`${base}/v1/registrations`, {
          method: 'POST',
          headers: { ...headers, 'content-type': 'application/json', 'idempotency-key': randomUUID() },
          body: JSON.stringify({ members: [member(i)], preferredLanguage: 'en' }),
          signal: AbortSignal.timeout(CLIENT_TIMEOUT_MS)
        })
        const body = await res.json() as { code?: string, registrationId?: string }
        outcomes.push({
          index: i,
          status: res.status,
          sentAt,
          doneAt: Date.now(),
          retryAfter: res.headers.get('retry-after'),
          ...(body.code === undefined ? {} : { code: body.code }),
          ...(res.status === 201 ? { registrationId: body.registrationId as string, headers } : {})
        })
      } catch (err) {
        outcomes.push({ index: i, status: 'no answer', sentAt, doneAt: Date.now(), detail: (err as Error).message })
      }
    }
  }
  const clients = Array.from({ length: CLIENTS }, client)
  return {
    outcomes,
    /** How many registrations were sent (answered or not): member(0) to member(sent - 1). */
    sent: () => next,
    acked: () => outcomes.filter((o) => o.status === 201),
    stop: async () => {
      state.stopped = true
      await Promise.all(clients)
    }
  }
}

async function until (what: string, ms: number, check: () => boolean): Promise<void> {
  const deadline = Date.now() + ms
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${ms} ms`)
    await sleep(50)
  }
}

/** Retries `read` (bounded) while it answers undefined: a store still settling after the failover. */
async function settled<T> (what: string, read: () => Promise<T | undefined>): Promise<T> {
  for (let attempt = 0; attempt < 20; attempt++) {
    const value = await read()
    if (value !== undefined) return value
    await sleep(250)
  }
  throw new Error(`${what}: no definite answer after 20 tries`)
}

/** GET of an acknowledged registration: 200 kept, 404 lost. */
async function recordKept (base: string, outcome: Outcome): Promise<boolean> {
  return settled(`registration ${outcome.registrationId as string} read back`, async () => {
    const res = await fetch(`${base}/v1/registrations/${outcome.registrationId as string}`, { headers: outcome.headers as Record<string, string>, signal: AbortSignal.timeout(CLIENT_TIMEOUT_MS) })
    await res.arrayBuffer()
    return res.status === 200 ? true : res.status === 404 ? false : undefined
  })
}

/** The same person registered again by another account: 409 duplicate identity while the claim holds. */
async function claimKept (base: string, run: string, outcome: Outcome): Promise<boolean> {
  return settled(`identity claim of ${outcome.registrationId as string}`, async () => {
    const res = await fetch(`${base}/v1/registrations`, {
      method: 'POST',
      headers: { ...applicant(randomUUID(), { sub: `failover-${run}-again-${outcome.index}` }), 'content-type': 'application/json', 'idempotency-key': randomUUID() },
      body: JSON.stringify({ members: [member(outcome.index)], preferredLanguage: 'en' }),
      signal: AbortSignal.timeout(CLIENT_TIMEOUT_MS)
    })
    const body = await res.json() as { code?: string }
    if (res.status === 409) {
      expect(body.code).toBe('GW_ERR_REG_DUPLICATE_IDENTITY')
      return true
    }
    return res.status === 201 ? false : undefined
  })
}

interface Losses { records: Outcome[], events: Outcome[], claims: Outcome[] }

async function countLost (base: string, run: string, nodes: ReadonlyArray<{ host: string, port: number }>, acked: Outcome[]): Promise<Losses> {
  // Every event id in the outbox, appended (streams) or only intended (intents).
  const redis = new Cluster(nodes.map((n) => ({ ...n })), { keyPrefix: `${run}:`, lazyConnect: true })
  const inOutbox = new Set<string>()
  try {
    await redis.connect()
    for (let p = 0; p < OUTBOX_PARTITIONS; p++) {
      for (const [, fields] of await redis.xrange(`{outbox.${p}}:stream`, '-', '+')) inOutbox.add(fields[fields.indexOf('id') + 1] as string)
      for (const id of await redis.hkeys(`{outbox.${p}}:intents`)) inOutbox.add(id)
    }
  } finally {
    redis.disconnect()
  }
  const losses: Losses = { records: [], events: [], claims: [] }
  for (const o of acked) {
    if (!inOutbox.has(eventId('registration.created', o.registrationId as string))) losses.events.push(o)
  }
  for (let i = 0; i < acked.length; i += CLIENTS) {
    const batch = acked.slice(i, i + CLIENTS)
    const found = await Promise.all(batch.map(async (o) => Promise.all([recordKept(base, o), claimKept(base, run, o)])))
    batch.forEach((o, j) => {
      if (found[j]?.[0] === false) losses.records.push(o)
      if (found[j]?.[1] === false) losses.claims.push(o)
    })
  }
  return losses
}

describe('Redis Cluster master killed under registration load', () => {
  let cluster: RedisCluster
  let gateway: GatewayProcess | undefined

  beforeAll(async () => {
    cluster = await startRedisCluster({ nodeTimeoutMs: 1_000 })
  })
  afterEach(() => {
    stopGateway(gateway)
    gateway = undefined
  })
  afterAll(async () => {
    await cluster?.stop()
    await rm(scratch, { recursive: true, force: true })
  })

  const scenario = async (waitReplicas: number) => {
    const prefix = uniquePrefix()
    gateway = startGateway({
      GATEWAY_PORT: '0',
      // info: the gateway says where it listens at that level.
      GATEWAY_LOG_LEVEL: 'info',
      GATEWAY_ACCESS_LOG: 'false',
      REDIS_CLUSTER_NODES: cluster.nodesSpec,
      GATEWAY_REDIS_KEY_PREFIX: prefix,
      GATEWAY_AUTH_PUBLIC_KEY_FILE: join(scratch, 'jwt.pem'),
      GATEWAY_IDENTITY_KEY_FILE: join(scratch, 'identity.key'),
      // One loose bucket and no per-address cap: the load comes from one loopback address, and
      // this test is about the store, not the limits.
      GATEWAY_RATE_LIMIT_RULES: JSON.stringify([{ name: 'global', scope: 'global', ratePerSecond: 100_000, burst: 100_000 }]),
      GATEWAY_REGISTRATION_PER_IP_MAX: '1000000',
      // Two shared cores under load: a slow command is not what is injected here.
      GATEWAY_REDIS_COMMAND_TIMEOUT_MS: '1500',
      GATEWAY_REDIS_WAIT_REPLICAS: String(waitReplicas),
      GATEWAY_REDIS_WAIT_TIMEOUT_MS: '500',
      GATEWAY_OUTBOX_PARTITIONS: String(OUTBOX_PARTITIONS)
    })
    const base = await Promise.race([gateway.listening, sleep(30_000).then(() => { throw new Error(`gateway not listening within 30 s:\n${(gateway as GatewayProcess).stderr().slice(-2000)}`) })])
    const load = registrationLoad(base, prefix)
    try {
      await until('50 registrations acknowledged before the kill', 30_000, () => load.acked().length >= 50)

      // The master of the record acknowledged last: it holds writes made this very moment.
      const last = load.acked().at(-1) as Outcome
      const slot = await cluster.slotOf(`${prefix}:{reg.${last.registrationId as string}}`)
      const doomed = await cluster.masterOf(slot)
      const replica = (await cluster.topology()).find((n) => n.role === 'replica' && n.masterId === doomed.id && !n.failed)
      const replicaPid = replica === undefined ? undefined : cluster.pidOf(replica.port)
      if (replicaPid === undefined) throw new Error(`no running replica of master ${doomed.port}`)
      // The gap: the replica stopped and its link cut, so the master's next writes reach no replica.
      process.kill(replicaPid, 'SIGSTOP')
      let gapAt: number
      let killedPort: number
      try {
        expect(await cluster.dropReplicaLinks(doomed.port)).toBe(1)
        gapAt = Date.now()
        await sleep(GAP_MS)
        killedPort = await cluster.killMasterOf(slot)
      } finally {
        // Ours, by PID; one that has already exited is no error to hide the first one behind.
        try { process.kill(replicaPid, 'SIGCONT') } catch {}
      }
      const killedAt = Date.now()
      expect(killedPort).toBe(doomed.port)
      const killedSlots = doomed.slots
      // Readiness answers while the master is gone (ready or not, per the {health} slot), never hangs.
      const readyDuring = await fetch(`${base}/readyz`, { signal: AbortSignal.timeout(CLIENT_TIMEOUT_MS) })
      await readyDuring.arrayBuffer()
      expect([200, 503]).toContain(readyDuring.status)
      await cluster.waitForFailover(slot, killedPort)
      const failedOverAt = Date.now()
      // Long enough for requests to start and finish while the promoted master has no replica.
      await sleep(4_000)
      const restartAt = Date.now()
      await cluster.restart(killedPort)
      await cluster.waitUntilHealthy()
      const healthyAt = Date.now()
      const ackedBefore = load.acked().length
      await until('registrations acknowledged again once the cluster is whole', 30_000, () => load.acked().filter((o) => o.sentAt >= healthyAt).length >= 20)
      await load.stop()
      expect((await fetch(`${base}/readyz`, { signal: AbortSignal.timeout(CLIENT_TIMEOUT_MS) })).status).toBe(200)

      // Per the failure policy: accepted, or a deliberate 503 that says when to come back.
      const refused = load.outcomes.filter((o) => o.status !== 201)
      const summary = refused.reduce<Record<string, number>>((counts, o) => {
        const label = `${String(o.status)} ${o.code ?? o.detail ?? ''}`
        counts[label] = (counts[label] ?? 0) + 1
        return counts
      }, {})
      for (const o of refused) {
        expect(o.status, JSON.stringify(summary)).toBe(503)
        expect(['GW_ERR_STORE_UNAVAILABLE', 'GW_ERR_STORE_NOT_REPLICATED']).toContain(o.code)
        expect(Number(o.retryAfter)).toBeGreaterThan(0)
      }
      expect(gateway.child.exitCode).toBe(null)
      expect(ackedBefore).toBeGreaterThan(50)

      // Count, do not assume: read back every acknowledged registration.
      const acked = load.acked()
      const ackedSlots = await cluster.slotsOf(acked.map((o) => `${prefix}:{reg.${o.registrationId as string}}`))
      // Records on the killed master's slots (served by the promoted replica after the kill).
      const onKilledSlots = (i: number) => killedSlots.some(([a, b]) => (ackedSlots[i] as number) >= a && (ackedSlots[i] as number) <= b)
      const onKilled = acked.filter((o, i) => o.sentAt < killedAt && onKilledSlots(i))
      const losses = await countLost(base, prefix, cluster.nodes, acked)
      const lost = [...new Set([...losses.records, ...losses.events, ...losses.claims])]
      // Between the promotion and the old master's return, the promoted master had no replica:
      // requests sent and answered in that span whose record lives on its slots.
      const ackedUnreplicable = acked.filter((o, i) => o.sentAt >= failedOverAt && o.doneAt < restartAt && onKilledSlots(i))
      const report = {
        waitReplicas,
        acknowledged: acked.length,
        acknowledgedOnKilledMasterBeforeKill: onKilled.length,
        acknowledgedOnKilledMasterDuringGap: acked.filter((o, i) => o.doneAt >= gapAt && o.doneAt < killedAt && onKilledSlots(i)).length,
        answeredDuringGap: load.outcomes.filter((o) => o.doneAt >= gapAt && o.doneAt < killedAt).length,
        inFlightAtKillRefused: load.outcomes.filter((o) => o.sentAt < killedAt && o.doneAt >= killedAt && o.status === 503).length,
        acknowledgedOnPromotedMasterWithoutReplica: ackedUnreplicable.length,
        answeredWhilePromotedMasterHadNoReplica: load.outcomes.filter((o) => o.sentAt >= failedOverAt && o.doneAt < restartAt).length,
        lost: lost.length,
        lostRecords: losses.records.length,
        lostEvents: losses.events.length,
        lostClaims: losses.claims.length,
        refused: summary,
        gapMs: killedAt - gapAt,
        failoverMs: failedOverAt - killedAt,
        rejoinMs: healthyAt - failedOverAt
      }
      // console.log, not process.stdout.write: the cluster project runs in forks, whose own
      // stdout vitest does not show.
      console.log(`redis-failover: ${JSON.stringify(report)}`)
      // Through the failover too, the gateway's logs hold none of the people sent nor a token.
      const needles = needlesFromRegistrations(Array.from({ length: load.sent() }, (_, i) => ({ members: [member(i)] })), { tokens: acked.map((o) => (o.headers?.authorization ?? '').replace(/^Bearer /, '')) })
      expect(scanText('control', JSON.stringify(member(0)), needles).length).toBeGreaterThan(0)
      expect(formatHits([...scanText('gateway stdout', gateway.stdout(), needles), ...scanText('gateway stderr', gateway.stderr(), needles)])).toBe('pii-scan: no personal data found')
      // A lost record can only be one the killed master took before it died (its event and claim
      // live on other slots, so any loss of those is only checked to predate the kill).
      for (const o of losses.records) expect(onKilled).toContain(o)
      for (const o of lost) expect(o.sentAt).toBeLessThan(killedAt)
      expect(onKilled.length).toBeGreaterThan(0)
      return report
    } finally {
      await load.stop()
    }
  }

  it('without the durability option: answers per policy, recovers, and loses writes acknowledged during the gap', async () => {
    const report = await scenario(0)
    // The gap worked: the killed master acknowledged writes its replica never had, and they are
    // gone (every loss was one of its writes from before the kill, checked in the scenario).
    expect(report.acknowledgedOnKilledMasterDuringGap).toBeGreaterThan(0)
    expect(report.lostRecords).toBeGreaterThan(0)
  }, 90_000)

  it('with GATEWAY_REDIS_WAIT_REPLICAS=1: answers per policy, recovers, and loses 0 acknowledged writes', async () => {
    const report = await scenario(1)
    expect(report.lost).toBe(0)
    // The gap was exercised in this run: requests in flight when the master died (most of them
    // waiting on its WAIT) were refused with 503, not acknowledged.
    expect(report.inFlightAtKillRefused).toBeGreaterThan(0)
    // Between the promotion and the old master's return the promoted master has no replica: no
    // record written there was acknowledged unprotected (the load did go on in that span).
    expect(report.answeredWhilePromotedMasterHadNoReplica).toBeGreaterThan(0)
    expect(report.acknowledgedOnPromotedMasterWithoutReplica).toBe(0)
  }, 90_000)
})
