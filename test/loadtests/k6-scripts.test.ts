// The k6 scripts, without k6 (it is not installed here): each parses as the ES2017 module syntax
// k6 accepts and imports only k6 modules and our own files; evaluated in Node against stub k6
// modules, rehearsal.js exports the options its profile says, read from the same file the Node
// loader reads; the synthetic data it sends passes the gateway's own schemas.
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join, relative, resolve } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { parse } from 'acorn'
import { Compile } from 'typebox/compile'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { defaults } from '../../config/defaults.js'
import { newRegistrationSchema } from '../../gateway/schemas/registration.js'
import {
  constantRate, loadProfile, profileNames, surgeStages, vusFor, type Profile
} from '../../loadtests/profiles/index.js'

const ROOT = fileURLToPath(new URL('../../', import.meta.url))
const K6_DIR = join(ROOT, 'loadtests/k6')
const SCRIPTS = readdirSync(K6_DIR).filter((f) => f.endsWith('.js'))
const SHARED = ['loadtests/profiles/model.js']
const K6_MODULES = ['k6', 'k6/http', 'k6/metrics', 'k6/data', 'k6/execution']
const NODE_ONLY = ['require', 'process', 'Buffer', 'module', '__dirname', '__filename', 'setTimeout', 'setInterval']

interface Node { type: string, [key: string]: unknown }

/** The pure helpers of loadtests/k6/lib.js (plain JavaScript, so typed here). */
interface K6Lib {
  deviceId: (runTag: string, n: number) => string
  clientAddress: (n: number, addresses: number) => string
  person: (runTag: string, n: number, k: number) => { firstName: string, lastName: string, dateOfBirth: string }
  checkBaseUrl: (url: string) => string
}

function walk (node: unknown, visit: (n: Node) => void): void {
  if (node === null || typeof node !== 'object') return
  if (Array.isArray(node)) { node.forEach((n) => { walk(n, visit) }); return }
  const n = node as Node
  if (typeof n.type === 'string') visit(n)
  for (const value of Object.values(n)) walk(value, visit)
}

describe('k6 scripts parse as k6 modules', () => {
  it.each([...SCRIPTS.map((f) => `loadtests/k6/${f}`), ...SHARED])('%s', (file) => {
    const source = readFileSync(join(ROOT, file), 'utf8')
    // ES2017 modules: what k6 v0.45's engine runs (no object spread, optional chaining, ??).
    const ast = parse(source, { ecmaVersion: 2017, sourceType: 'module' })
    const imports: string[] = []
    const identifiers = new Set<string>()
    walk(ast, (n) => {
      if (n.type === 'ImportDeclaration') imports.push((n.source as { value: string }).value)
      if (n.type === 'Identifier') identifiers.add(n.name as string)
    })
    for (const spec of imports) {
      if (spec.startsWith('.')) expect(existsSync(resolve(dirname(join(ROOT, file)), spec)), spec).toBe(true)
      else expect(K6_MODULES, spec).toContain(spec)
    }
    for (const name of NODE_ONLY) expect(identifiers.has(name), `${file} uses ${name}`).toBe(false)
  })

  it('has one entry script, and it exports options, setup and a default function', () => {
    const ast = parse(readFileSync(join(K6_DIR, 'rehearsal.js'), 'utf8'), { ecmaVersion: 2017, sourceType: 'module' })
    const exported: string[] = []
    walk(ast, (n) => {
      if (n.type === 'ExportDefaultDeclaration') exported.push('default')
      if (n.type === 'ExportNamedDeclaration') {
        const decl = n.declaration as Node | null
        if (decl?.type === 'FunctionDeclaration') exported.push((decl.id as { name: string }).name)
        if (decl?.type === 'VariableDeclaration') for (const d of decl.declarations as Array<{ id: { name: string } }>) exported.push(d.id.name)
      }
    })
    expect(exported.sort()).toEqual(['PROFILE_PATH', 'default', 'options', 'setup'])
  })
})

// Evaluates the k6 scripts in Node: copies of them whose k6 imports point at stubs, with k6's
// init-context globals (__ENV, open) provided; open() resolves against the real loadtests/k6,
// as k6 resolves it against the entry script's folder.
describe('rehearsal.js options', () => {
  let dir: string
  let opened: string[] = []
  let loads = 0

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'k6-eval-'))
    mkdirSync(join(dir, 'stubs'))
    const stubs: Record<string, string> = {
      k6: 'export function sleep () {}\nexport function check () { return true }\nexport function fail (m) { throw new Error(m) }\n',
      'k6/http': 'export default { get () {}, post () {}, request () {} }\n',
      'k6/metrics': 'class Metric { constructor (name) { this.name = name } add () {} }\nexport class Rate extends Metric {}\nexport class Counter extends Metric {}\nexport class Trend extends Metric {}\n',
      'k6/data': 'export class SharedArray extends Array { constructor (name, fn) { super(); for (const v of fn()) this.push(v) } }\n',
      'k6/execution': 'export default { scenario: { iterationInTest: 0 }, vu: { idInTest: 1 } }\n'
    }
    for (const [spec, text] of Object.entries(stubs)) writeFileSync(join(dir, 'stubs', `${spec.replace('/', '-')}.js`), text)
    for (const sub of ['loadtests/k6', 'loadtests/profiles']) mkdirSync(join(dir, sub), { recursive: true })
    cpSync(join(ROOT, 'loadtests/profiles/model.js'), join(dir, 'loadtests/profiles/model.js'))
    for (const file of SCRIPTS) {
      const source = readFileSync(join(K6_DIR, file), 'utf8').replace(/from '(k6(?:\/[a-z]+)?)'/g, (_, spec: string) => `from '../../stubs/${spec.replace('/', '-')}.js'`)
      writeFileSync(join(dir, 'loadtests/k6', file), source)
    }
    writeFileSync(join(dir, 'tokens.json'), JSON.stringify(['t0', 't1', 't2']))
    writeFileSync(join(dir, 'photo.b64'), 'AAAA\n')
  })
  afterAll(() => {
    rmSync(dir, { recursive: true, force: true })
    delete (globalThis as Record<string, unknown>).__ENV
    delete (globalThis as Record<string, unknown>).open
  })

  async function evaluate (env: Record<string, string>): Promise<{ options: any, PROFILE_PATH: string }> {
    opened = []
    const g = globalThis as Record<string, unknown>
    g.__ENV = { TOKENS_FILE: join(dir, 'tokens.json'), PHOTO_FILE: join(dir, 'photo.b64'), ...env }
    g.open = (path: string) => {
      const file = resolve(K6_DIR, path)
      opened.push(file)
      return readFileSync(file, 'utf8')
    }
    // A fresh query string evaluates the entry script again under the new environment.
    return await import(`${pathToFileURL(join(dir, 'loadtests/k6/rehearsal.js')).href}?load=${++loads}`) as { options: any, PROFILE_PATH: string }
  }

  function expectedThresholds (profile: Profile): Record<string, string[]> {
    const t: Record<string, string[]> = {}
    if (profile.slo.serverErrorRate !== undefined) t.server_errors = [`rate<=${profile.slo.serverErrorRate}`]
    t.unexpected_server_errors = [`rate<=${profile.slo.unexpectedServerErrorRate}`]
    t.refusals_without_retry_after = ['count<=0']
    t.dropped_iterations = [`count<=${profile.slo.droppedIterations}`]
    for (const [tx, l] of Object.entries(profile.slo.latencyMs)) t[`http_req_duration{tx:${tx}}`] = [`p(95)<${l.p95}`, `p(99)<${l.p99}`]
    return t
  }

  it.each(profileNames())('%s: reads the same file the Node loader reads and derives the same options', async (name) => {
    const { options, PROFILE_PATH } = await evaluate({ PROFILE: name, SCALE: '0.1' })
    expect(PROFILE_PATH).toBe(`../profiles/${name}.json`)
    expect(relative(ROOT, opened[0] as string)).toBe(`loadtests/profiles/${name}.json`)
    const profile = loadProfile(name)
    expect(Object.keys(options.scenarios)).toEqual([name])
    const scenario = options.scenarios[name]
    expect(scenario.tags).toEqual({ profile: name })
    expect(options.tags).toEqual({ profile: name, scale: '0.1' })
    const vus = vusFor(profile, 0.1)
    expect(scenario.preAllocatedVUs).toBe(vus.preAllocatedVUs)
    expect(scenario.maxVUs).toBe(vus.maxVUs)
    expect(options.thresholds).toEqual(expectedThresholds(profile))
    if (profile.arrival.kind === 'constant') {
      expect(scenario.executor).toBe('constant-arrival-rate')
      expect(scenario.rate).toBe(constantRate(profile, 0.1))
      expect(scenario.timeUnit).toBe(profile.arrival.timeUnit)
      expect(scenario.duration).toBe(`${profile.arrival.durationSeconds}s`)
    } else {
      const plan = surgeStages(profile, 0.1)
      expect(scenario.executor).toBe('ramping-arrival-rate')
      expect(scenario.startRate).toBe(plan.startRate)
      expect(scenario.timeUnit).toBe('1m')
      expect(scenario.stages).toEqual(plan.stages.map((s) => ({ duration: `${s.durationSeconds}s`, target: s.target })))
    }
  })

  it('runs the hourly profiles at the profile\'s rate per hour times the scale', async () => {
    for (const [name, rate] of [['steady-240k', 24_000], ['steady-360k', 36_000], ['steady-480k', 48_000]] as const) {
      const { options } = await evaluate({ PROFILE: name, SCALE: '0.1' })
      expect(options.scenarios[name]).toMatchObject({ executor: 'constant-arrival-rate', rate, timeUnit: '1h', duration: '600s' })
      expect(options.thresholds['http_req_duration{tx:schedule}']).toEqual(['p(95)<250', 'p(99)<1000'])
      expect(options.thresholds.server_errors).toEqual(['rate<=0.001'])
      expect(options.thresholds.dropped_iterations).toEqual(['count<=0'])
    }
  })

  it('aims the surge with ramping-arrival-rate and waits for the opening in setup (setupTimeout)', async () => {
    const { options } = await evaluate({ PROFILE: 'surge-9am', SCALE: '0.01' })
    expect(options.scenarios['surge-9am']).toMatchObject({ executor: 'ramping-arrival-rate', startRate: 449, timeUnit: '1m' })
    expect(options.scenarios['surge-9am'].stages[2]).toEqual({ duration: '60s', target: 3592 })
    expect(options.setupTimeout).toBe('960s')
    // The surge allows deliberate 503s with Retry-After: only unexpected 5xx are thresholded.
    expect(options.thresholds.server_errors).toBeUndefined()
    expect(options.thresholds.unexpected_server_errors).toEqual(['rate<=0'])
    // Every refusal must say when to come back, in every profile.
    expect(options.thresholds.refusals_without_retry_after).toEqual(['count<=0'])
  })

  it('opens the photo only for profiles that upload one, and the tokens file always', async () => {
    await evaluate({ PROFILE: 'bot-farm' })
    expect(opened.map((f) => relative(ROOT, f))).toEqual(['loadtests/profiles/bot-farm.json', relative(ROOT, join(dir, 'tokens.json'))])
    await evaluate({ PROFILE: 'vendor-throttle' })
    expect(opened.map((f) => relative(dir, f)).slice(1)).toEqual(['tokens.json', 'photo.b64'])
  })

  it.each([
    [{ PROFILE: '' }, 'PROFILE must name a file in loadtests/profiles, such as -e PROFILE=steady-240k, got ""'],
    [{ PROFILE: 'steady-240k', SCALE: '-1' }, 'scale must be a number greater than 0 and at most 10, got "-1"'],
    [{ PROFILE: 'steady-240k', CLIENT: 'rude' }, 'CLIENT must be naive or polite, got "rude"'],
    [{ PROFILE: 'steady-240k', BASE_URL: 'http://203.0.113.9:8080' }, 'BASE_URL must be http://127.0.0.1, http://localhost or http://[::1] with an optional port (rehearsals stay on this machine), got http://203.0.113.9:8080']
  ])('refuses %j', async (env, message) => {
    await expect(evaluate(env)).rejects.toThrow(message)
  })
})

describe('the synthetic applicants the k6 library sends', () => {
  let lib: K6Lib
  beforeAll(async () => {
    const dir = mkdtempSync(join(tmpdir(), 'k6-lib-'))
    afterAll(() => { rmSync(dir, { recursive: true, force: true }) })
    // The same stubbing, enough to import lib.js's pure helpers.
    mkdirSync(join(dir, 'loadtests/k6'), { recursive: true })
    mkdirSync(join(dir, 'loadtests/profiles'), { recursive: true })
    cpSync(join(ROOT, 'loadtests/profiles/model.js'), join(dir, 'loadtests/profiles/model.js'))
    cpSync(join(K6_DIR, 'options.js'), join(dir, 'loadtests/k6/options.js'))
    writeFileSync(join(dir, 'stub.js'), 'export default {}\nexport function sleep () {}\nexport class Rate { add () {} }\nexport class Counter { add () {} }\n')
    writeFileSync(join(dir, 'loadtests/k6/lib.js'), readFileSync(join(K6_DIR, 'lib.js'), 'utf8').replace(/from 'k6(?:\/[a-z]+)?'/g, "from '../../stub.js'"))
    lib = await import(pathToFileURL(join(dir, 'loadtests/k6/lib.js')).href) as K6Lib
  })

  it('gives each arrival a canonical device id, unique in the run', () => {
    const ids = new Set<string>()
    for (const n of [0, 1, 255, 4096, 2 ** 40]) {
      const id = lib.deviceId('0a1b2c3d', n)
      expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/)
      ids.add(id)
    }
    expect(ids.size).toBe(5)
    expect(lib.deviceId('0a1b2c3d', 255)).toBe('0a1b2c3d-0000-4000-8000-0000000000ff')
  })

  it('gives synthetic client addresses in 100.64.0.0/10, one per arrival or a few in turn', () => {
    expect(lib.clientAddress(0, 0)).toBe('100.64.0.0')
    expect(lib.clientAddress(65_536 + 257, 0)).toBe('100.65.1.1')
    expect(lib.clientAddress(4_194_303, 0)).toBe('100.127.255.255')
    expect(lib.clientAddress(13, 8)).toBe('100.64.0.5')
  })

  it('registers people the gateway\'s own schema accepts, with valid past dates of birth', () => {
    const validator = Compile(newRegistrationSchema(defaults.registrations.maxMembers))
    for (const n of [0, 7, 11, 54, 1_000_003]) {
      const member = lib.person('0a1b2c3d', n, 0)
      expect(member.firstName).toBe('Test')
      expect(member.lastName).toBe(`Person ${n}-0 0a1b2c3d`)
      expect(validator.Check({ members: [member], preferredLanguage: 'ht' })).toBe(true)
      expect(Number.isNaN(Date.parse(member.dateOfBirth))).toBe(false)
      expect(member.dateOfBirth < new Date().toISOString().slice(0, 10)).toBe(true)
    }
    // The validator does refuse: a name of three letters for a nationality is not ISO alpha-3.
    expect(validator.Check({ members: [{ ...lib.person('0a1b2c3d', 1, 0), nationality: 'Hti' }], preferredLanguage: 'ht' })).toBe(false)
  })

  it('keeps BASE_URL on this machine', () => {
    expect(lib.checkBaseUrl('http://127.0.0.1:8080/')).toBe('http://127.0.0.1:8080')
    expect(lib.checkBaseUrl('http://[::1]:8080')).toBe('http://[::1]:8080')
    expect(() => lib.checkBaseUrl('https://example.org')).toThrow('BASE_URL must be http://127.0.0.1, http://localhost or http://[::1] with an optional port (rehearsals stay on this machine), got https://example.org')
  })
})
