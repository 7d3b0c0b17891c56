import { randomUUID } from 'node:crypto'
import { afterEach, describe, expect, it } from 'vitest'
import type { FastifyInstance } from 'fastify'
import type { ScheduledAction } from '../../gateway/domain/draw-scheduler.js'
import { ManualClock } from '../../gateway/store/clock.js'
import { createMemoryStores } from '../../gateway/store/memory/index.js'
import { buildApp, redisStores, testConfig, uniquePrefix } from '../helpers/app.js'
import { token } from '../helpers/tokens.js'

const inside = { latitude: 31.3, longitude: -110.9, accuracyMeters: 10 }
const SECOND = 1000

/** Registers one single-person group and asks for Nogales in the pool that is open now. */
async function applyNow (gateway: FastifyInstance, n: number): Promise<{ subject: string, requestId: string }> {
  const subject = `dst-${n}`
  const { registrationId } = await gateway.registrations.create(
    { subject, deviceId: randomUUID(), network: `10.9.0.${n}` },
    { members: [{ firstName: `Dst${n}`, lastName: 'Case', dateOfBirth: '1991-02-03', nationality: 'HTI', usAddress: { line1: '1 A St', city: 'Miami', state: 'FL', zip: '33101' } }], preferredLanguage: 'ht' }
  )
  const { request } = await gateway.appointmentRequests.request(subject, { registrationId, poe: 'nogales', location: inside })
  return { subject, requestId: request.requestId }
}

/**
 * Walks the clock from `from` to `to` in 30-second ticks, applying at each instant in `applyAt`,
 * and returns every step the scheduler did with the instant it did it.
 */
async function walk (gateway: FastifyInstance, clock: ManualClock, from: string, to: string, applyAt: string[]): Promise<{ steps: string[], applicants: Array<{ subject: string, requestId: string }> }> {
  const steps: string[] = []
  const applicants: Array<{ subject: string, requestId: string }> = []
  const applyTimes = new Set(applyAt.map((t) => Date.parse(t)))
  for (let t = Date.parse(from); t <= Date.parse(to); t += 30 * SECOND) {
    clock.set(t)
    if (applyTimes.has(t)) applicants.push(await applyNow(gateway, applicants.length))
    const done: ScheduledAction[] = await gateway.drawScheduler.tick()
    for (const step of done) steps.push(`${new Date(t).toISOString()} ${step.action} ${step.date}${step.action === 'lapse' ? ` ${step.count}` : ''}`)
  }
  return { steps, applicants }
}

describe('the daily draw schedule across daylight-saving changes (America/New_York, injected clock)', () => {
  let gateway: FastifyInstance
  afterEach(async () => { await gateway.close() })

  // Window 12:00 to 11:00 local, draw at 11:00 (+30 s seal grace), 23 h to confirm (+60 s lapse grace).
  it('in March: commits before each opening, draws at 11:00 local (16:00Z before the change, 15:00Z after), lapses 23 h after the draw', async () => {
    const clock = new ManualClock()
    gateway = await buildApp({ clock, stores: createMemoryStores({ clock }), config: testConfig({ GATEWAY_RATE_LIMIT_RULES: '[]' }) })
    // Clocks go forward at 02:00 on Sunday 8 March 2026, so pool day 8 March is open 22 hours.
    const { steps, applicants } = await walk(gateway, clock, '2026-03-06T16:00:00Z', '2026-03-09T16:00:00Z', [
      '2026-03-06T18:00:00Z', // 13:00 EST, pool 7 March
      '2026-03-07T18:00:00Z', // 13:00 EST, pool 8 March
      '2026-03-08T17:00:00Z' // 13:00 EDT, pool 9 March
    ])
    expect(steps).toEqual([
      '2026-03-06T16:00:00.000Z commit 2026-03-07', // opens 12:00 EST = 17:00Z
      '2026-03-07T16:00:00.000Z commit 2026-03-08', // opens 12:00 EST = 17:00Z
      '2026-03-07T16:00:30.000Z draw 2026-03-07', // 11:00 EST
      '2026-03-08T15:00:00.000Z commit 2026-03-09', // opens 12:00 EDT = 16:00Z
      '2026-03-08T15:00:30.000Z draw 2026-03-08', // 11:00 EDT
      '2026-03-08T15:01:30.000Z lapse 2026-03-07 1', // 23 h after 16:00:30Z, plus the grace
      '2026-03-09T14:01:30.000Z lapse 2026-03-08 1',
      '2026-03-09T15:00:00.000Z commit 2026-03-10',
      '2026-03-09T15:00:30.000Z draw 2026-03-09'
    ])
    const summary = await gateway.allocations.summary('2026-03-08')
    expect(summary).toMatchObject({ status: 'drawn', opensAt: '2026-03-07T17:00:00.000Z', closesAt: '2026-03-08T15:00:00.000Z', drawAt: '2026-03-08T15:00:00.000Z', sealedAt: '2026-03-08T15:00:30.000Z', entries: 1 })
    const states = await Promise.all(applicants.map(async (a) => gateway.appointmentRequests.get(a.subject, a.requestId)))
    expect(states.map((s) => s.status)).toEqual(['lapsed', 'lapsed', 'selected'])
    expect(states[2]?.appointment?.confirmBy).toBe('2026-03-10T14:00:30.000Z')
  }, 60_000)

  it('in November: the pool day of 1 November is open 24 hours and is drawn at 16:00Z, an hour later in UTC than the day before', async () => {
    const clock = new ManualClock()
    gateway = await buildApp({ clock, stores: createMemoryStores({ clock }), config: testConfig({ GATEWAY_RATE_LIMIT_RULES: '[]' }) })
    const { steps } = await walk(gateway, clock, '2026-10-30T15:00:00Z', '2026-11-02T17:00:00Z', [
      '2026-10-30T17:00:00Z', // 13:00 EDT, pool 31 October
      '2026-10-31T17:00:00Z', // 13:00 EDT, pool 1 November
      '2026-11-01T18:00:00Z' // 13:00 EST, pool 2 November
    ])
    expect(steps).toEqual([
      '2026-10-30T15:00:00.000Z commit 2026-10-31',
      '2026-10-31T15:00:00.000Z commit 2026-11-01', // opens 12:00 EDT = 16:00Z
      '2026-10-31T15:00:30.000Z draw 2026-10-31', // 11:00 EDT
      '2026-11-01T14:01:30.000Z lapse 2026-10-31 1', // 23 h later: 09:01 EST
      '2026-11-01T16:00:00.000Z commit 2026-11-02', // opens 12:00 EST = 17:00Z
      '2026-11-01T16:00:30.000Z draw 2026-11-01', // 11:00 EST
      '2026-11-02T15:01:30.000Z lapse 2026-11-01 1',
      '2026-11-02T16:00:00.000Z commit 2026-11-03',
      '2026-11-02T16:00:30.000Z draw 2026-11-02'
    ])
    expect(await gateway.allocations.summary('2026-11-01')).toMatchObject({ opensAt: '2026-10-31T16:00:00.000Z', closesAt: '2026-11-01T16:00:00.000Z' })
  }, 60_000)

  it('seals at the close and accepts a beacon before a later draw', async () => {
    const clock = new ManualClock()
    // Closes at 11:00, drawn at 11:30 local: the beacon has half an hour.
    gateway = await buildApp({ clock, stores: createMemoryStores({ clock }), config: testConfig({ GATEWAY_RATE_LIMIT_RULES: '[]', GATEWAY_ALLOCATION_AT: '11:30' }) })
    const { steps } = await walk(gateway, clock, '2026-11-23T17:30:00Z', '2026-11-24T16:05:00Z', ['2026-11-23T18:00:00Z'])
    expect(steps).toEqual([
      '2026-11-23T17:30:00.000Z commit 2026-11-24',
      '2026-11-24T16:00:30.000Z seal 2026-11-24'
    ])
    expect(await gateway.allocations.setBeacon('2026-11-24', 'public-beacon-42')).toMatchObject({ status: 'sealed', beacon: 'public-beacon-42', entries: 1 })
    clock.set(Date.parse('2026-11-24T16:30:30Z'))
    expect(await gateway.drawScheduler.tick()).toEqual([{ action: 'commit', date: '2026-11-25' }, { action: 'draw', date: '2026-11-24' }])
    expect(await gateway.allocations.summary('2026-11-24')).toMatchObject({ status: 'drawn', beacon: 'public-beacon-42' })
  }, 60_000)
})

describe('the draw schedule on several instances (real Redis)', () => {
  const gateways: FastifyInstance[] = []
  afterEach(async () => { await Promise.all(gateways.splice(0).map(async (g) => g.close())) })

  it('three instances ticking at once draw once, and all see the same result', async () => {
    const clock = new ManualClock(Date.parse('2026-11-23T18:00:00Z'))
    const keyPrefix = uniquePrefix()
    for (let i = 0; i < 3; i++) {
      gateways.push(await buildApp({ clock, stores: await redisStores({ clock, keyPrefix }), config: testConfig({ GATEWAY_RATE_LIMIT_RULES: '[]', GATEWAY_REGISTRATION_MIN_INTERVAL_SECONDS: '0' }) }))
    }
    const [a] = gateways as [FastifyInstance]
    for (let i = 0; i < 20; i++) await applyNow(a, i)
    clock.set(Date.parse('2026-11-24T16:00:30Z'))
    const done = (await Promise.all(gateways.map(async (g) => g.drawScheduler.tick()))).flat()
    expect(done.filter((s) => s.action === 'draw')).toEqual([{ action: 'draw', date: '2026-11-24' }])
    const summaries = await Promise.all(gateways.map(async (g) => g.allocations.summary('2026-11-24')))
    expect(summaries[0]).toMatchObject({ status: 'drawn', entries: 20 })
    expect(summaries[1]).toEqual(summaries[0])
    expect(summaries[2]).toEqual(summaries[0])
    // Ticking again does nothing more.
    expect((await Promise.all(gateways.map(async (g) => g.drawScheduler.tick()))).flat().filter((s) => s.action === 'draw')).toEqual([])
  }, 60_000)
})

describe('the draw schedule timer', () => {
  let gateway: FastifyInstance
  afterEach(async () => { await gateway.close() })

  it('runs by itself when autoDraw is on', async () => {
    const clock = new ManualClock(Date.parse('2026-11-23T18:00:00Z'))
    gateway = await buildApp({ clock, stores: createMemoryStores({ clock }), config: testConfig({ GATEWAY_RATE_LIMIT_RULES: '[]', GATEWAY_ALLOCATION_AUTO_DRAW: 'true', GATEWAY_ALLOCATION_SCHEDULER_INTERVAL_SECONDS: '1' }) })
    await applyNow(gateway, 1)
    clock.set(Date.parse('2026-11-24T16:00:30Z'))
    const ops = { authorization: `Bearer ${token({ role: 'ops' })}` }
    let status = ''
    // At most 10 s of real time for a 1-second timer.
    for (let i = 0; i < 100 && status !== 'drawn'; i++) {
      await new Promise((resolve) => setTimeout(resolve, 100))
      status = (await gateway.inject({ url: '/v1/ops/allocations/2026-11-24', headers: ops })).json().status
    }
    expect(status).toBe('drawn')
    const metrics = (await gateway.inject({ url: '/metrics' })).body
    expect(metrics).toContain('gateway_allocation_schedule_steps_total{step="draw",outcome="done"} 1')
    expect(metrics).toContain('gateway_allocation_places_total{poe="nogales",rule="oldest"} 1')
  }, 30_000)
})
