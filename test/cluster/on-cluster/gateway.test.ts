// The built gateway as a real process with REDIS_CLUSTER_NODES, on the run's 6-node Redis Cluster:
// it reports ready, takes a registration and an appointment request end to end, replays an
// idempotent write, and applies its rate limits (buckets of several hash tags, so several slots).
import { randomUUID } from 'node:crypto'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { uniquePrefix } from '../../helpers/app.js'
import { startGateway, stopGateway, type GatewayProcess } from '../../helpers/process.js'
import { applicant, publicKeyPem } from '../../helpers/tokens.js'

const scratch = mkdtempSync(join(tmpdir(), 'gateway-on-cluster-'))
writeFileSync(join(scratch, 'jwt.pem'), publicKeyPem)
writeFileSync(join(scratch, 'identity.key'), Buffer.alloc(32, 9))

const inside = { latitude: 31.3, longitude: -110.9, accuracyMeters: 10 }
const member = { firstName: 'Clus', lastName: 'Ter', dateOfBirth: '1981-04-05', nationality: 'RUS', usAddress: { line1: '6 Node Road', city: 'Tucson', state: 'AZ', zip: '85701' } }

/** HH:MM in UTC, `minutes` from now. */
function utcClock (minutes: number): string {
  return new Date(Date.now() + minutes * 60_000).toISOString().slice(11, 16)
}

describe('a gateway process on a Redis Cluster (REDIS_CLUSTER_NODES)', () => {
  let gateway: GatewayProcess | undefined
  let base: string

  beforeAll(async () => {
    const nodes = inject('redisClusterNodes')
    if (nodes === undefined) throw new Error('no Redis Cluster: run with npm run test:cluster (on-cluster project)')
    gateway = startGateway({
      GATEWAY_PORT: '0',
      GATEWAY_ACCESS_LOG: 'false',
      REDIS_CLUSTER_NODES: nodes,
      GATEWAY_REDIS_KEY_PREFIX: uniquePrefix(),
      GATEWAY_AUTH_PUBLIC_KEY_FILE: join(scratch, 'jwt.pem'),
      GATEWAY_IDENTITY_KEY_FILE: join(scratch, 'identity.key'),
      // A request window open now, whatever the hour the suite runs at.
      GATEWAY_TIMEZONE: 'UTC',
      GATEWAY_REQUEST_WINDOW_OPENS_AT: utcClock(-60),
      GATEWAY_REQUEST_WINDOW_CLOSES_AT: utcClock(120),
      GATEWAY_ALLOCATION_AT: utcClock(180),
      // Durable writes on: every record write waits for its master's replica.
      GATEWAY_REDIS_WAIT_REPLICAS: '1',
      GATEWAY_REDIS_COMMAND_TIMEOUT_MS: '2000',
      GATEWAY_REDIS_WAIT_TIMEOUT_MS: '1000'
    })
    base = await Promise.race([gateway.listening, sleep(30_000).then(() => { throw new Error(`gateway not listening within 30 s:\n${(gateway as GatewayProcess).stderr().slice(-2000)}`) })])
  })
  afterAll(async () => {
    stopGateway(gateway)
    await rm(scratch, { recursive: true, force: true })
  })

  it('is ready, registers, takes an appointment request, and replays an idempotent write', async () => {
    expect((await fetch(`${base}/readyz`)).status).toBe(200)
    const headers = { ...applicant(randomUUID(), { sub: `cluster-${randomUUID()}` }), 'content-type': 'application/json' }
    const key = randomUUID()
    const register = async () => fetch(`${base}/v1/registrations`, { method: 'POST', headers: { ...headers, 'idempotency-key': key }, body: JSON.stringify({ members: [member], preferredLanguage: 'ru' }) })
    const created = await register()
    const body = await created.json() as { registrationId: string }
    expect(created.status, JSON.stringify(body)).toBe(201)
    const again = await register()
    expect(again.status).toBe(201)
    expect((await again.json() as { registrationId: string }).registrationId).toBe(body.registrationId)

    const read = await fetch(`${base}/v1/registrations/${body.registrationId}`, { headers })
    expect(read.status).toBe(200)
    expect((await read.json() as { registrationId: string }).registrationId).toBe(body.registrationId)

    const asked = await fetch(`${base}/v1/appointment-requests`, { method: 'POST', headers: { ...headers, 'idempotency-key': randomUUID() }, body: JSON.stringify({ registrationId: body.registrationId, poe: 'nogales', location: inside }) })
    const request = await asked.json() as { requestId: string }
    expect(asked.status, JSON.stringify(request)).toBe(202)
    const status = await fetch(`${base}/v1/appointment-requests/${request.requestId}`, { headers })
    expect(status.status).toBe(200)
    expect((await status.json() as { requestId: string }).requestId).toBe(request.requestId)
  })

  it('refuses a device past its burst with 429, Retry-After and GW_ERR_RATE_LIMITED', async () => {
    // The device bucket's burst is 20 (config/defaults.ts); each request also draws from the
    // global, route, subject and IP buckets, each its own hash tag and slot.
    const headers = applicant(randomUUID(), { sub: `cluster-${randomUUID()}` })
    const statuses: number[] = []
    let refused: Response | undefined
    for (let i = 0; i < 30 && refused === undefined; i++) {
      const res = await fetch(`${base}/v1/schedule`, { headers })
      statuses.push(res.status)
      if (res.status === 429) refused = res
      else await res.arrayBuffer()
    }
    expect(statuses.slice(0, 20)).toEqual(Array.from({ length: 20 }, () => 200))
    expect(refused?.status).toBe(429)
    expect(Number(refused?.headers.get('retry-after'))).toBeGreaterThan(0)
    expect((await refused?.json() as { code: string }).code).toBe('GW_ERR_RATE_LIMITED')
  })
})
