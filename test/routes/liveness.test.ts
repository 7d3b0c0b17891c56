// The liveness pipeline end to end: real gateways on real Redis, the real photo-check worker, and
// the vendor simulator (loadtests/simulators/liveness-vendor.ts) enforcing its contract.
import { randomUUID } from 'node:crypto'
import { fileURLToPath } from 'node:url'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import type { FastifyInstance } from 'fastify'
import { ERRORS } from '../../gateway/errors.js'
import { ManualClock } from '../../gateway/store/clock.js'
import { createMemoryStores } from '../../gateway/store/memory/index.js'
import { startLivenessVendor, type LivenessVendorSimulator } from '../../loadtests/simulators/liveness-vendor.js'
import { jpegBomb, pngBomb, portraitJpeg, portraitPng, PORTRAITS } from '../fixtures/photos.js'
import { buildApp, redisStores, testConfig, uniquePrefix } from '../helpers/app.js'
import { applicant, token } from '../helpers/tokens.js'

const FAULTY_WORKER = fileURLToPath(new URL('../fixtures/faulty-liveness-worker.mjs', import.meta.url))
const member = (i: number, dob = '1990-01-01') => ({ firstName: `Liv${i}`, lastName: 'Eness', dateOfBirth: dob, nationality: 'HTI', usAddress: { line1: '1 A St', city: 'Miami', state: 'FL', zip: '33101' } })
const small = { width: 640, height: 640 }

interface Applicant { headers: Record<string, string>, registrationId: string }

async function register (gateway: FastifyInstance, i: number, members = 1): Promise<Applicant> {
  const headers = applicant(randomUUID(), { sub: `liv-${i}-${randomUUID()}` })
  const res = await gateway.inject({ method: 'POST', url: '/v1/registrations', remoteAddress: `10.7.${i >> 8}.${i & 255}`, headers: { ...headers, 'idempotency-key': randomUUID() }, payload: { members: Array.from({ length: members }, (_, m) => member(i * 10 + m)), preferredLanguage: 'ht' } })
  expect(res.statusCode, res.body).toBe(201)
  return { headers, registrationId: res.json().registrationId }
}

const upload = async (gateway: FastifyInstance, who: Applicant, photo: Buffer, extra: Record<string, unknown> = {}) => gateway.inject({
  method: 'POST',
  url: '/v1/liveness',
  headers: { ...who.headers, 'idempotency-key': randomUUID(), 'accept-language': 'ht' },
  payload: { registrationId: who.registrationId, memberIndex: 0, photo: photo.toString('base64'), ...extra }
})

const waitFor = async (what: () => Promise<boolean>, ms: number) => {
  const until = Date.now() + ms
  while (Date.now() < until) {
    if (await what()) return
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  throw new Error(`not within ${ms} ms`)
}

const env = (vendor: LivenessVendorSimulator | undefined, more: Record<string, string> = {}) => testConfig({
  GATEWAY_RATE_LIMIT_RULES: '[]',
  GATEWAY_REGISTRATION_MIN_INTERVAL_SECONDS: '0',
  GATEWAY_REGISTRATION_PER_IP_MAX: '100000',
  GATEWAY_VENDOR_URL: vendor?.url ?? '',
  GATEWAY_VENDOR_RATE_PER_SECOND: '5',
  ...more
})

describe('liveness: a burst against a 5/s vendor, two gateway instances on one Redis', () => {
  let vendor: LivenessVendorSimulator
  const gateways: FastifyInstance[] = []
  afterAll(async () => {
    await Promise.all(gateways.map(async (g) => g.close()))
    await vendor.close()
  })

  it('200 uploads: the vendor never sees more than 5 in any second, all 200 finish, none lost, positions honest', async () => {
    vendor = await startLivenessVendor({ ratePerSecond: 5, totalScans: 1_000, latencyMs: 50 })
    const keyPrefix = uniquePrefix()
    for (let i = 0; i < 2; i++) gateways.push(await buildApp({ stores: await redisStores({ keyPrefix }), config: env(vendor) }))
    const [a, b] = gateways as [FastifyInstance, FastifyInstance]
    const photo = await portraitJpeg({ ...PORTRAITS['medium-well-lit'], ...small })
    const people = await Promise.all(Array.from({ length: 20 }, async (_, i) => register(a, i)))
    const ids: string[] = []
    for (let i = 0; i < 200; i++) {
      const person = people[i % 20] as Applicant
      const res = await upload(i % 2 === 0 ? a : b, person, photo)
      expect(res.statusCode, res.body).toBe(202)
      expect(res.json()).toEqual({ livenessId: expect.stringMatching(/^liv_/), status: 'checking' })
      ids.push(res.json().livenessId)
    }
    const owner = (i: number) => (people[i % 20] as Applicant).headers
    const view = async (i: number) => (await a.inject({ url: `/v1/liveness/${ids[i] as string}`, headers: owner(i) })).json()

    // Positions: first come, first served, each one honest about what is ahead of it.
    const first = await Promise.all(ids.map(async (_, i) => view(i)))
    const queued = first.filter((v) => v.status === 'queued')
    expect(queued.length).toBeGreaterThan(150)
    const positions = queued.map((v) => v.position as number)
    expect(positions).toEqual([...positions].sort((x, y) => x - y))
    expect(new Set(positions).size).toBe(positions.length)
    expect(Math.max(...positions)).toBeLessThanOrEqual(200)
    for (const v of queued) expect(v.estimatedWaitSeconds).toBeGreaterThanOrEqual(Math.floor(v.position / 5))
    const last = queued.at(-1)
    const lastIndex = ids.indexOf(last.livenessId)

    await waitFor(async () => vendor.stats().accepted >= 60, 30_000)
    const later = await view(lastIndex)
    expect(later.status).toBe('queued')
    expect(later.position).toBeLessThan(last.position)

    await waitFor(async () => vendor.stats().accepted >= 200, 90_000)
    // The last verdicts are written a moment after the vendor answers.
    await waitFor(async () => (await Promise.all(ids.map(async (_, i) => view(i)))).every((v) => v.status === 'passed'), 5_000)
    const stats = vendor.stats()
    expect(stats.maxInAnyOneSecond).toBeLessThanOrEqual(5)
    expect(stats.rejected429).toBe(0)
    expect(stats.accepted).toBe(200)
    expect(stats.distinctKeys).toBe(200)
    const metrics = (await a.inject({ url: '/metrics' })).body
    expect(metrics).toContain('gateway_vendor_budget_used 200')
    expect(metrics).toContain('gateway_vendor_budget_remaining 399800')
    expect(metrics).toContain('gateway_liveness_queue_depth 0')
  }, 150_000)
})

describe('liveness: uploads, refusals and faults (real Redis, real worker)', () => {
  let vendor: LivenessVendorSimulator
  let gateway: FastifyInstance
  let who: Applicant
  beforeAll(async () => {
    vendor = await startLivenessVendor({ ratePerSecond: 50, totalScans: 1_000, latencyMs: 10 })
    gateway = await buildApp({ stores: await redisStores(), config: env(vendor, { GATEWAY_VENDOR_RATE_PER_SECOND: '50' }), livenessWorkerFile: FAULTY_WORKER })
    who = await register(gateway, 1)
  })
  afterAll(async () => {
    await gateway.close()
    await vendor.close()
  })

  it('accepts a real PNG sent as photo.jpg with image/jpeg, by its bytes', async () => {
    const png = await portraitPng({ ...PORTRAITS['deep-well-lit'], ...small })
    const res = await upload(gateway, who, png, { fileName: 'photo.jpg', contentType: 'image/jpeg' })
    expect(res.statusCode, res.body).toBe(202)
    const id = res.json().livenessId as string
    await waitFor(async () => (await gateway.inject({ url: `/v1/liveness/${id}`, headers: who.headers })).json().status === 'passed', 10_000)
  })

  it.each([
    ['a zero-byte photo', async () => Buffer.alloc(0), 400, 'GW_ERR_LIVENESS_PHOTO_EMPTY'],
    ['a text file', async () => Buffer.from('this is not a photo, just some text\n'.repeat(20)), 415, 'GW_ERR_LIVENESS_PHOTO_FORMAT'],
    ['a PDF named photo.jpg', async () => Buffer.from('%PDF-1.7\n1 0 obj\n<< /Type /Catalog >>\nendobj\n%%EOF\n'), 415, 'GW_ERR_LIVENESS_PHOTO_FORMAT'],
    ['a truncated JPEG', async () => (await portraitJpeg({ ...PORTRAITS['light-well-lit'], ...small })).subarray(0, 5_000), 422, 'GW_ERR_LIVENESS_PHOTO_UNREADABLE'],
    ['a 50,000 x 50,000 pixel PNG bomb', async () => pngBomb(50_000, 50_000), 422, 'GW_ERR_LIVENESS_PHOTO_DIMENSIONS'],
    ['a 50,000 x 50,000 pixel JPEG bomb', async () => jpegBomb(50_000, 50_000), 422, 'GW_ERR_LIVENESS_PHOTO_DIMENSIONS'],
    ['a photo too small', async () => portraitJpeg({ ...PORTRAITS['light-well-lit'], width: 200, height: 200 }), 422, 'GW_ERR_LIVENESS_PHOTO_DIMENSIONS'],
    ['an under-exposed deep-toned face', async () => portraitJpeg({ ...PORTRAITS['deep-under-exposed'], ...small }), 422, 'GW_ERR_LIVENESS_TOO_DARK'],
    ['an under-exposed light-toned face', async () => portraitJpeg({ ...PORTRAITS['light-under-exposed'], ...small }), 422, 'GW_ERR_LIVENESS_TOO_DARK'],
    ['a blurred face', async () => portraitJpeg({ ...PORTRAITS['light-blurred'], ...small }), 422, 'GW_ERR_LIVENESS_BLURRED']
  ] as const)('refuses %s with a clear, localized 4xx', async (_name, make, status, code) => {
    const res = await upload(gateway, who, await make())
    expect(res.statusCode, res.body).toBe(status)
    expect(res.json()).toEqual({ code, message: ERRORS[code].messages.ht })
  })

  it('refuses a deeply nested body before parsing it', async () => {
    const nested = `{"registrationId":"${who.registrationId}","memberIndex":0,"photo":${'['.repeat(2_000_000)}${']'.repeat(2_000_000)}}`
    const res = await gateway.inject({ method: 'POST', url: '/v1/liveness', headers: { ...who.headers, 'idempotency-key': randomUUID(), 'content-type': 'application/json' }, payload: nested })
    expect(res.statusCode).toBe(400)
    expect(res.json().code).toBe('GW_ERR_REQUEST_MALFORMED_JSON')
  })

  it('refuses what is not base64, and a photo over the limit', async () => {
    const res = await gateway.inject({ method: 'POST', url: '/v1/liveness', headers: { ...who.headers, 'idempotency-key': randomUUID() }, payload: { registrationId: who.registrationId, memberIndex: 0, photo: 'not*base64!' } })
    expect(res.statusCode).toBe(400)
    expect(res.json()).toMatchObject({ code: 'GW_ERR_REQUEST_INVALID', fields: ['/body/photo'] })
    const big = await gateway.inject({ method: 'POST', url: '/v1/liveness', headers: { ...who.headers, 'idempotency-key': randomUUID() }, payload: { registrationId: who.registrationId, memberIndex: 0, photo: Buffer.alloc(5 * 1024 * 1024 + 3).toString('base64') } })
    expect(big.statusCode).toBe(413)
    expect(big.json().code).toBe('GW_ERR_LIVENESS_PHOTO_TOO_LARGE')
    const huge = await gateway.inject({ method: 'POST', url: '/v1/liveness', headers: { ...who.headers, 'idempotency-key': randomUUID() }, payload: { registrationId: who.registrationId, memberIndex: 0, photo: Buffer.alloc(6 * 1024 * 1024).toString('base64') } })
    expect(huge.statusCode).toBe(413)
    expect(huge.json().code).toBe('GW_ERR_REQUEST_BODY_TOO_LARGE')
  })

  it('a check that crashes its worker thread, or throws, fails that upload only; the pool keeps serving', async () => {
    const good = await portraitJpeg({ ...PORTRAITS['light-well-lit'], ...small })
    for (const marker of ['CRASH', 'THROW']) {
      const res = await upload(gateway, who, Buffer.concat([good, Buffer.from(marker, 'latin1')]))
      expect(res.statusCode, res.body).toBe(422)
      expect(res.json().code).toBe('GW_ERR_LIVENESS_PHOTO_UNREADABLE')
      expect((await upload(gateway, who, good)).statusCode).toBe(202)
    }
  })

  it('answers 404 to anyone but the owner, and for another\'s registration', async () => {
    const res = await upload(gateway, who, await portraitJpeg({ ...PORTRAITS['medium-well-lit'], ...small }))
    const id = res.json().livenessId as string
    const stranger = await register(gateway, 2)
    expect((await gateway.inject({ url: `/v1/liveness/${id}`, headers: stranger.headers })).json().code).toBe('GW_ERR_LIVENESS_NOT_FOUND')
    expect((await upload(gateway, { headers: stranger.headers, registrationId: who.registrationId }, await portraitJpeg({ ...PORTRAITS['medium-well-lit'], ...small }))).json().code).toBe('GW_ERR_REG_NOT_FOUND')
    expect((await upload(gateway, who, await portraitJpeg({ ...PORTRAITS['medium-well-lit'], ...small }), { memberIndex: 1 })).json().code).toBe('GW_ERR_LIVENESS_MEMBER_UNKNOWN')
  })

  it('flags the same photo on another registration as a fraud signal, re-encoded copies too', async () => {
    const scene = { ...PORTRAITS['deep-well-lit'], ...small, seed: 77 }
    const photo = await portraitJpeg(scene)
    const reused = () => /gateway_fraud_flags_total\{reason="photo_reused"\} (\d+)/
    const count = async () => Number(reused().exec((await gateway.inject({ url: '/metrics' })).body)?.[1] ?? 0)
    expect((await upload(gateway, who, photo)).statusCode).toBe(202)
    // The same person sending it again is not a signal.
    expect((await upload(gateway, who, photo)).statusCode).toBe(202)
    expect(await count()).toBe(0)
    const other = await register(gateway, 3)
    expect((await upload(gateway, other, photo)).statusCode).toBe(202)
    expect(await count()).toBe(1)
    const third = await register(gateway, 4)
    expect((await upload(gateway, third, await portraitJpeg(scene, { quality: 60 }))).statusCode).toBe(202)
    expect(await count()).toBe(2)
    const fourth = await register(gateway, 5)
    expect((await upload(gateway, fourth, await portraitJpeg({ ...PORTRAITS['light-well-lit'], ...small, seed: 78 }))).statusCode).toBe(202)
    expect(await count()).toBe(2)
  })
})

describe('liveness: budget, queue bound and vendor outage', () => {
  const closing: Array<{ close: () => Promise<unknown> }> = []
  afterEach(async () => { await Promise.all(closing.splice(0).map(async (c) => c.close())) })
  const photo = () => portraitJpeg({ ...PORTRAITS['medium-well-lit'], ...small })

  it('never spends more than the contract total, then refuses uploads with GW_ERR_LIVENESS_BUDGET', async () => {
    const vendor = await startLivenessVendor({ ratePerSecond: 50, totalScans: 1_000, latencyMs: 200 })
    const gateway = await buildApp({ stores: await redisStores(), config: env(vendor, { GATEWAY_VENDOR_RATE_PER_SECOND: '50', GATEWAY_VENDOR_TOTAL_SCANS: '3' }) })
    closing.push(gateway, vendor)
    const who = await register(gateway, 1)
    // The scan is reserved when a check is accepted: three are, the rest are refused at once.
    const statuses: number[] = []
    for (let i = 0; i < 6; i++) statuses.push((await upload(gateway, who, await photo())).statusCode)
    expect(statuses).toEqual([202, 202, 202, 503, 503, 503])
    await waitFor(async () => vendor.stats().accepted >= 3, 10_000)
    await new Promise((resolve) => setTimeout(resolve, 1_000))
    expect(vendor.stats().accepted).toBe(3)
    expect(vendor.stats().received).toBe(3)
    const refused = await upload(gateway, who, await photo())
    expect(refused.statusCode).toBe(503)
    expect(refused.json().code).toBe('GW_ERR_LIVENESS_BUDGET')
    // No Retry-After (it lasts until the contract is renewed): an unplanned 5xx for the availability SLI.
    expect(refused.headers['retry-after']).toBe(undefined)
    const metrics = (await gateway.inject({ url: '/metrics' })).body
    expect(metrics).toContain('gateway_vendor_budget_remaining 0')
    expect(metrics).toContain('gateway_vendor_budget_used 3')
    expect(metrics).toContain('http_request_duration_seconds_count{route="/v1/liveness",method="POST",status_code="503"} 4\n')
    expect(metrics).not.toContain('gateway_http_deliberate_refusals_total{')
  })

  it('refuses with GW_ERR_LIVENESS_BUSY and Retry-After when the vendor queue is full, never hangs', async () => {
    // No vendor at all: checked photos wait.
    const gateway = await buildApp({ stores: await redisStores(), config: env(undefined, { GATEWAY_LIVENESS_VENDOR_QUEUE_MAX: '2' }) })
    closing.push(gateway)
    const who = await register(gateway, 1)
    expect((await upload(gateway, who, await photo())).statusCode).toBe(202)
    expect((await upload(gateway, who, await photo())).statusCode).toBe(202)
    const busy = await upload(gateway, who, await photo())
    expect(busy.statusCode).toBe(503)
    expect(busy.json().code).toBe('GW_ERR_LIVENESS_BUSY')
    expect(Number(busy.headers['retry-after'])).toBeGreaterThanOrEqual(1)
    expect((await gateway.inject({ url: '/metrics' })).body).toContain('gateway_http_deliberate_refusals_total{route="/v1/liveness",method="POST"} 1\n')
  })

  it('keeps checks queued while the vendor is down, and finishes them when it is back', async () => {
    const vendor = await startLivenessVendor({ ratePerSecond: 50, totalScans: 1_000, latencyMs: 5 })
    vendor.set({ down: true })
    const gateway = await buildApp({ stores: await redisStores(), config: env(vendor, { GATEWAY_VENDOR_RATE_PER_SECOND: '50', GATEWAY_VENDOR_MAX_RETRIES: '0', GATEWAY_VENDOR_BREAKER_RESET_MS: '500' }) })
    closing.push(gateway, vendor)
    const who = await register(gateway, 1)
    const id = (await upload(gateway, who, await photo())).json().livenessId as string
    await waitFor(async () => vendor.stats().resets >= 1, 10_000)
    expect(['queued', 'checking']).toContain((await gateway.inject({ url: `/v1/liveness/${id}`, headers: who.headers })).json().status)
    vendor.set({ down: false })
    await waitFor(async () => (await gateway.inject({ url: `/v1/liveness/${id}`, headers: who.headers })).json().status === 'passed', 20_000)
    expect((await gateway.inject({ url: '/metrics' })).body).toMatch(/gateway_liveness_deferred_total\{reason="unavailable"\} [1-9]/)
  }, 30_000)
})

describe('liveness: a photo that waits longer than it is kept', () => {
  it('fails with reason expired and gives its scan back', async () => {
    const vendor = await startLivenessVendor({ ratePerSecond: 50, totalScans: 1_000, latencyMs: 5 })
    vendor.set({ down: true })
    const clock = new ManualClock(Date.now())
    const gateway = await buildApp({ clock, stores: createMemoryStores({ clock }), config: env(vendor, { GATEWAY_VENDOR_RATE_PER_SECOND: '50', GATEWAY_VENDOR_MAX_RETRIES: '0', GATEWAY_LIVENESS_PHOTO_TTL_HOURS: '1' }) })
    try {
      const who = await register(gateway, 1)
      const id = (await upload(gateway, who, await portraitJpeg({ ...PORTRAITS['medium-well-lit'], ...small }))).json().livenessId as string
      await waitFor(async () => vendor.stats().resets >= 1, 10_000)
      expect((await gateway.inject({ url: '/metrics' })).body).toContain('gateway_vendor_budget_used 1')
      clock.advance(3_600_000 + 60_000)
      await waitFor(async () => (await gateway.inject({ url: `/v1/liveness/${id}`, headers: who.headers })).json().status === 'failed', 10_000)
      const view = (await gateway.inject({ url: `/v1/liveness/${id}`, headers: { ...who.headers, 'accept-language': 'es' } })).json()
      expect(view).toMatchObject({ status: 'failed', reason: 'expired', code: 'GW_ERR_LIVENESS_EXPIRED', message: ERRORS.GW_ERR_LIVENESS_EXPIRED.messages.es })
      await new Promise((resolve) => setTimeout(resolve, 1_100))
      expect((await gateway.inject({ url: '/metrics' })).body).toContain('gateway_vendor_budget_used 0')
    } finally {
      await gateway.close()
      await vendor.close()
    }
  }, 30_000)
})

describe('liveness: confirmation needs every member\'s passed check', () => {
  it('refuses with one member checked, confirms with both', async () => {
    const vendor = await startLivenessVendor({ ratePerSecond: 50, totalScans: 1_000, latencyMs: 5 })
    const clock = new ManualClock(Date.now())
    const gateway = await buildApp({ clock, stores: await redisStores({ clock }), config: env(vendor, { GATEWAY_VENDOR_RATE_PER_SECOND: '50' }) })
    try {
      const who = await register(gateway, 1, 2)
      const inside = { latitude: 31.3, longitude: -110.9, accuracyMeters: 10 }
      // Into the next open window, then to its draw.
      const schedule = (await gateway.inject({ url: '/v1/schedule', headers: who.headers })).json()
      if (!schedule.requestWindow.open) clock.set(Date.parse(schedule.requestWindow.nextChangeAt) + 60_000)
      const requested = await gateway.inject({ method: 'POST', url: '/v1/appointment-requests', headers: { ...who.headers, 'idempotency-key': randomUUID() }, payload: { registrationId: who.registrationId, poe: 'nogales', location: inside } })
      expect(requested.statusCode, requested.body).toBe(202)
      const { poolDate, requestId } = requested.json()
      clock.set(gateway.allocations.sealableAt(poolDate))
      expect((await gateway.inject({ method: 'POST', url: '/v1/ops/allocations', headers: { authorization: `Bearer ${token({ role: 'ops' })}`, 'idempotency-key': randomUUID() }, payload: { date: poolDate } })).statusCode).toBe(200)
      const number = (await gateway.inject({ url: `/v1/appointment-requests/${requestId as string}`, headers: who.headers })).json().appointment.confirmationNumber as string
      const check = async (memberIndex: number) => {
        const id = (await upload(gateway, who, await portraitJpeg({ ...PORTRAITS['medium-well-lit'], ...small, seed: 100 + memberIndex }), { memberIndex })).json().livenessId as string
        await waitFor(async () => (await gateway.inject({ url: `/v1/liveness/${id}`, headers: who.headers })).json().status === 'passed', 10_000)
        return id
      }
      const confirm = async (livenessId: string) => gateway.inject({ method: 'POST', url: `/v1/appointments/${number}/confirm`, headers: { ...who.headers, 'idempotency-key': randomUUID() }, payload: { livenessId, location: inside } })
      const first = await check(0)
      expect((await confirm(first)).json().code).toBe('GW_ERR_APPT_LIVENESS_REQUIRED')
      await check(1)
      const confirmed = await confirm(first)
      expect(confirmed.statusCode, confirmed.body).toBe(200)
      expect(confirmed.json().status).toBe('confirmed')
    } finally {
      await gateway.close()
      await vendor.close()
    }
  }, 30_000)
})
