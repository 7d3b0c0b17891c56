// The rehearsal profiles: every file validates, bad ones are refused with exact messages, and the
// arithmetic k6 and the Node runner share says what the brief's numbers say.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import {
  constantRate, durationSeconds, loadProfile, mixPick, parseScale, perSecond, PROFILES_DIR, profileNames, ProfileError,
  surgeArrivalsBetween, surgeStages, tokensNeeded, totalArrivals, TX_TYPES, validateProfile, vusFor, type Profile
} from '../../loadtests/profiles/index.js'

const raw = (name: string): Record<string, unknown> => JSON.parse(readFileSync(join(PROFILES_DIR, `${name}.json`), 'utf8')) as Record<string, unknown>

describe('profile files', () => {
  it('holds the profiles the issue names, and every one validates', () => {
    expect(profileNames()).toEqual(['bot-farm', 'soak', 'steady-240k', 'steady-360k', 'steady-480k', 'surge-9am', 'vendor-throttle'])
    for (const name of profileNames()) expect(loadProfile(name).name).toBe(name)
  })

  it('has the three hourly profiles at 240k, 360k and 480k transactions an hour, one per arrival', () => {
    for (const [name, rate] of [['steady-240k', 240_000], ['steady-360k', 360_000], ['steady-480k', 480_000]] as const) {
      const profile = loadProfile(name)
      expect(profile.arrival).toEqual({ model: 'open', kind: 'constant', rate, timeUnit: '1h', durationSeconds: 600 })
      expect(profile.mix).toBeDefined()
    }
  })

  it('has the vendor profile at 32 uploads a second and the bot farm at registrations 2 s apart', () => {
    const vendor = loadProfile('vendor-throttle')
    expect(perSecond(vendor, 1)).toBe(32)
    expect(vendor.journey?.steps.filter((tx) => tx === 'liveness-upload')).toHaveLength(1)
    const bots = loadProfile('bot-farm')
    expect(bots.journey).toEqual({ steps: Array(10).fill('registration'), thinkSeconds: 2 })
    expect(bots.network.addresses).toBe(8)
  })
})

describe('profile arithmetic', () => {
  it('turns 480,000 an hour into 133.33… arrivals a second, exactly rate × scale / 3600', () => {
    const profile = loadProfile('steady-480k')
    expect(perSecond(profile, 1)).toBe(480_000 / 3600)
    expect(perSecond(profile, 1).toFixed(1)).toBe('133.3')
    expect(perSecond(profile, 0.1)).toBe(48_000 / 3600)
    expect(perSecond(loadProfile('steady-240k'), 1)).toBe(240_000 / 3600)
    expect(perSecond(loadProfile('steady-360k'), 1)).toBe(100)
  })

  it('scales rates to whole arrivals per time unit (k6 takes integers), never below 1', () => {
    const profile = loadProfile('steady-480k')
    expect(constantRate(profile, 1)).toBe(480_000)
    expect(constantRate(profile, 0.1)).toBe(48_000)
    expect(constantRate(profile, 0.000_001)).toBe(1)
    expect(totalArrivals(profile, 1)).toBe(80_000)
    expect(totalArrivals(profile, 0.25)).toBe(20_000)
    expect(tokensNeeded(profile, 0.1)).toBe(8_000)
    expect(vusFor(profile, 0.1)).toEqual({ preAllocatedVUs: 48, maxVUs: 480 })
    expect(vusFor(profile, 0.000_001)).toEqual({ preAllocatedVUs: 1, maxVUs: 1 })
  })

  it('caps the soak\'s accounts, reused in turn', () => {
    const soak = loadProfile('soak')
    expect(totalArrivals(soak, 1)).toBe(960_000)
    expect(tokensNeeded(soak, 1)).toBe(100_000)
    expect(tokensNeeded(soak, 0.01)).toBe(1_000)
  })

  it('shapes the 9 a.m. surge: 449,000 devices, most of them in the first 60 s after the opening', () => {
    const surge = loadProfile('surge-9am')
    expect(surge.arrival.kind).toBe('surge')
    const lead = surge.arrival.kind === 'surge' ? surge.arrival.leadSeconds : NaN
    expect(lead).toBe(30)
    // Each level is rounded to whole arrivals per minute: at most half an arrival per minute of
    // the 10-minute shape, 5 in all.
    expect(Math.abs(totalArrivals(surge, 1) - 449_000)).toBeLessThanOrEqual(5)
    const firstMinute = surgeArrivalsBetween(surge, 1, lead, lead + 60)
    expect(firstMinute).toBe(359_200)
    expect(firstMinute / totalArrivals(surge, 1)).toBeGreaterThan(0.5)
    expect(surgeArrivalsBetween(surge, 1, 0, durationSeconds(surge))).toBeCloseTo(totalArrivals(surge, 1), 6)
    expect(perSecond(surge, 1)).toBeCloseTo(449_000 * 0.8 / 60, 6)
    expect(surgeStages(surge, 1)).toEqual({
      timeUnit: '1m',
      startRate: 44_900,
      stages: [
        { durationSeconds: 30, target: 44_900 },
        { durationSeconds: 0, target: 359_200 },
        { durationSeconds: 60, target: 359_200 },
        { durationSeconds: 0, target: 22_450 },
        { durationSeconds: 120, target: 22_450 },
        { durationSeconds: 0, target: 3_454 },
        { durationSeconds: 390, target: 3_454 }
      ]
    })
    expect(Math.abs(totalArrivals(surge, 0.01) - 4_490)).toBeLessThanOrEqual(5)
    expect(surgeStages(surge, 0.01).stages[2]).toEqual({ durationSeconds: 60, target: 3_592 })
  })

  it('picks a mix\'s transactions in proportion over any stretch of arrivals', () => {
    const mix = loadProfile('steady-240k').mix as Record<string, number>
    const counts: Record<string, number> = {}
    for (let k = 5_000; k < 15_000; k++) { const tx = mixPick(mix, k); counts[tx] = (counts[tx] ?? 0) + 1 }
    for (const tx of TX_TYPES) expect(Math.abs((counts[tx] ?? 0) / 10_000 - (mix[tx] ?? 0))).toBeLessThan(0.005)
  })

  it('parses SCALE with exact messages', () => {
    expect(parseScale(undefined)).toBe(1)
    expect(parseScale('')).toBe(1)
    expect(parseScale('0.1')).toBe(0.1)
    expect(() => parseScale('0')).toThrow(new ProfileError('scale must be a number greater than 0 and at most 10, got "0"'))
    expect(() => parseScale('ten')).toThrow(new ProfileError('scale must be a number greater than 0 and at most 10, got "ten"'))
    expect(() => perSecond(loadProfile('steady-240k'), -1)).toThrow(new ProfileError('scale must be a number greater than 0 and at most 10, got -1'))
  })
})

describe('profile validation', () => {
  const dir = mkdtempSync(join(tmpdir(), 'profiles-'))
  afterAll(() => { rmSync(dir, { recursive: true, force: true }) })

  function refusal (change: (p: Record<string, any>) => void, base = 'steady-240k'): string {
    const profile = structuredClone(raw(base)) as Record<string, any>
    change(profile)
    try {
      validateProfile(profile, `${base}.json`, base)
    } catch (err) {
      expect(err).toBeInstanceOf(ProfileError)
      return (err as Error).message
    }
    throw new Error('accepted')
  }

  it.each([
    [(p: any) => { p.name = 'other' }, 'steady-240k.json: name must be steady-240k (the file name), got other'],
    [(p: any) => { p.extra = 1 }, 'steady-240k.json: extra is not a known field'],
    [(p: any) => { p.arrival.model = 'closed' }, 'steady-240k.json: arrival.model must be open (arrivals per unit time, whatever the answers)'],
    [(p: any) => { p.arrival.kind = 'spiky' }, 'steady-240k.json: arrival.kind must be constant or surge'],
    [(p: any) => { p.arrival.rate = 1.5 }, 'steady-240k.json: arrival.rate must be an integer from 1 to 100000000'],
    [(p: any) => { p.arrival.timeUnit = '1d' }, 'steady-240k.json: arrival.timeUnit must be one of 1s, 1m, 1h'],
    [(p: any) => { p.mix.schedule = 0.5 }, 'steady-240k.json: mix shares must add up to 1, got 1.05'],
    [(p: any) => { p.mix.login = 0 }, 'steady-240k.json: mix.login is not a transaction type (schedule, status-poll, registration, appointment-request, liveness-upload)'],
    [(p: any) => { p.journey = { steps: ['schedule'], thinkSeconds: 0 } }, 'steady-240k.json: exactly one of mix and journey must be given'],
    [(p: any) => { p.client.behaviour = 'rude' }, 'steady-240k.json: client.behaviour must be naive or polite'],
    [(p: any) => { p.vus.max = 1 }, 'steady-240k.json: vus.max must be at least vus.preAllocated'],
    [(p: any) => { p.slo.latencyMs.schedule.p99 = 100 }, 'steady-240k.json: slo.latencyMs.schedule.p99 must be at least its p95'],
    [(p: any) => { p.slo.serverErrorRate = 2 }, 'steady-240k.json: slo.serverErrorRate must be a number from 0 to 1'],
    [(p: any) => { delete p.slo.droppedIterations }, 'steady-240k.json: slo.droppedIterations must be a non-negative integer'],
    [(p: any) => { p.network.addresses = -1 }, 'steady-240k.json: network.addresses must be an integer from 0 (one per arrival) to 4194304']
  ])('refuses a steady profile: %#', (change, message) => {
    expect(refusal(change)).toBe(message)
  })

  it.each([
    [(p: any) => { p.arrival.shape[0].share = 0.1 }, 'surge-9am.json: arrival.shape shares must add up to 1, got 1.05'],
    [(p: any) => { p.arrival.leadSeconds = 20 }, 'surge-9am.json: arrival.leadSeconds must end where a shape segment ends (the opening starts a segment)'],
    [(p: any) => { p.arrival.opening = { source: 'waiting-room', maxWaitSeconds: 60 } }, 'surge-9am.json: arrival.opening.room must name the waiting room (a lower-case slug) when the source is waiting-room'],
    [(p: any) => { p.arrival.opening.source = 'noon' }, 'surge-9am.json: arrival.opening.source must be one of request-window, waiting-room, now'],
    [(p: any) => { p.journey.steps.push('logout') }, 'surge-9am.json: journey.steps[4] is not a transaction type (schedule, status-poll, registration, appointment-request, liveness-upload)']
  ])('refuses a surge profile: %#', (change, message) => {
    expect(refusal(change, 'surge-9am')).toBe(message)
  })

  it('refuses a missing file, a bad name and bad JSON with exact messages', () => {
    writeFileSync(join(dir, 'broken.json'), '{ "name": ')
    writeFileSync(join(dir, 'steady-240k.json'), JSON.stringify(raw('steady-240k')))
    expect(() => loadProfile('nope', dir)).toThrow(new ProfileError(`no profile nope: nope.json is not in ${dir} (there are broken, steady-240k)`))
    expect(() => loadProfile('../etc', dir)).toThrow(new ProfileError('profile name must be a lower-case slug of letters, digits and dashes, got "../etc"'))
    expect(() => loadProfile('broken', dir)).toThrow(/^broken\.json: not valid JSON \(/)
    expect(loadProfile('steady-240k', dir)).toEqual(loadProfile('steady-240k') satisfies Profile)
  })
})
