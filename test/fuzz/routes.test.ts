// Every route the app registers, fuzzed: bodies, headers, query strings and path parameters,
// with and without a token of the right role. The route list comes from the app itself (onRoute),
// so a new route is fuzzed without a change here, and a route of the OpenAPI document that the
// fuzzer did not reach fails the run. For every case: no 5xx, a catalogued GW_ERR_* code in every
// 4xx, the security headers, Object.prototype untouched, and the app still answering. Then the
// heap after a garbage collection, before and after a further batch, on the memory store; and a
// smaller run on Redis.
//
// A failure names the seed and the path to the failing case: re-run it with
//   FUZZ_SEED=<seed> npx vitest run --config test/vitest.config.ts test/fuzz/routes.test.ts
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import fc from 'fast-check'
import type { FastifyInstance, RouteOptions } from 'fastify'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ERRORS } from '../../gateway/errors.js'
import { buildApp, redisStores, testConfig } from '../helpers/app.js'
import { requestFor, type FuzzRequest, type FuzzRoute, type JsonSchema } from './arbitraries.js'

const SEED = process.env.FUZZ_SEED === undefined ? Date.now() ^ (Math.random() * 0x7fffffff) : Number(process.env.FUZZ_SEED)
// Cases per run, by part: at least 10,000 in all (asserted at the end).
const MEMORY_CASES = 8_000
const MEMORY_BATCH = 1_500
const REDIS_CASES = 2_000
const MIN_TOTAL = 10_000
let total = 0

// Limits out of the way so cases reach validation, handlers and stores rather than a 429.
const env = {
  GATEWAY_RATE_LIMIT_RULES: '[]',
  GATEWAY_REGISTRATION_PER_DEVICE_MAX: '1000',
  GATEWAY_REGISTRATION_PER_SUBJECT_MAX: '1000',
  GATEWAY_REGISTRATION_MIN_INTERVAL_SECONDS: '0',
  GATEWAY_REGISTRATION_IDENTITY_CONFLICTS_MAX: '1000',
  GATEWAY_REGISTRATION_PER_IP_MAX: '1000000',
  // Every case comes from one address; a third carry a bad token, which would soon shut it out.
  GATEWAY_AUTH_FAILURES_PER_IP_PER_SECOND: '100000',
  GATEWAY_AUTH_FAILURE_BURST_PER_IP: '1000000',
  // CORS open to one origin, so its preflight route is fuzzed too.
  GATEWAY_CORS_ORIGINS: '["https://app.example.gov"]'
}

const catalogue = new Set(Object.keys(ERRORS))
const prototypeKeys = {
  object: Object.getOwnPropertyNames(Object.prototype).sort(),
  array: Object.getOwnPropertyNames(Array.prototype).sort(),
  function: Object.getOwnPropertyNames(Function.prototype).sort()
}

/** The app's routes as onRoute saw them, one per method and URL. */
function collector (): { routes: FuzzRoute[], onRoute: (route: RouteOptions) => void } {
  const routes: FuzzRoute[] = []
  const seen = new Set<string>()
  return {
    routes,
    onRoute (route) {
      for (const method of [route.method].flat()) {
        const key = `${method} ${route.url}`
        if (seen.has(key)) continue
        seen.add(key)
        const schema = (route.schema ?? {}) as FuzzRoute['schema']
        routes.push({ method, url: route.url, roles: route.config?.roles, schema: { body: schema.body as JsonSchema, querystring: schema.querystring as JsonSchema, params: schema.params as JsonSchema } })
      }
    }
  }
}

/** What is wrong with one answer, or undefined when it keeps every promise. */
function violation (req: FuzzRequest, res: { statusCode: number, headers: Record<string, unknown>, body: string }): string | undefined {
  if (res.statusCode >= 500) return `status ${res.statusCode}: ${res.body.slice(0, 300)}`
  // Every answer carries the security headers, the router's own refusals included.
  if (res.headers['x-content-type-options'] !== 'nosniff' || typeof res.headers['content-security-policy'] !== 'string') return `status ${res.statusCode} without the security headers`
  if (res.statusCode >= 400 && req.method !== 'HEAD') {
    let code: unknown
    try {
      code = (JSON.parse(res.body) as { code?: unknown }).code
    } catch {
      return `status ${res.statusCode} with a body that is not JSON (${String(res.headers['content-type'])}): ${res.body.slice(0, 200)}`
    }
    if (typeof code !== 'string' || !catalogue.has(code)) return `status ${res.statusCode} without a catalogued code: ${res.body.slice(0, 300)}`
  }
  for (const [name, proto] of [['object', Object.prototype], ['array', Array.prototype], ['function', Function.prototype]] as const) {
    if (Object.getOwnPropertyNames(proto).sort().join() !== prototypeKeys[name].join()) return `${name} prototype polluted: ${Object.getOwnPropertyNames(proto).filter((k) => !prototypeKeys[name].includes(k)).join(', ')}`
  }
  if ((({}) as Record<string, unknown>).polluted !== undefined) return 'Object.prototype.polluted is set'
  return undefined
}

interface Outcome { cases: number, statuses: Map<number, number>, writes2xx: number }

/** Runs `numRuns` cases against one route; fails with the seed and path, never with the payload (it can be megabytes). */
async function fuzzRoute (app: FastifyInstance, route: FuzzRoute, numRuns: number, seed: number, outcome: Outcome): Promise<void> {
  let failure: string | undefined
  const details = await fc.check(fc.asyncProperty(requestFor(route), async (req) => {
    const res = await app.inject({ method: req.method as 'GET', url: req.url, headers: req.headers, ...(req.payload === undefined ? {} : { payload: req.payload }) })
    outcome.cases++
    outcome.statuses.set(res.statusCode, (outcome.statuses.get(res.statusCode) ?? 0) + 1)
    if (res.statusCode < 300 && req.method !== 'GET' && req.method !== 'HEAD') outcome.writes2xx++
    const problem = violation(req, res)
    if (problem !== undefined) {
      const headers = Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k, v.length > 80 ? `${v.slice(0, 80)}... (${v.length})` : v]))
      failure = `${req.label} ${req.url.slice(0, 200)} ${JSON.stringify(headers)}: ${problem}`
      return false
    }
    return true
  }), { numRuns, seed, endOnFailure: true })
  total += details.numRuns
  if (details.failed) {
    throw new Error(`${route.method} ${route.url} failed after ${details.numRuns} cases (seed ${details.seed}, path ${details.counterexamplePath ?? ''}): ${failure ?? String(details.errorInstance)}`)
  }
  // The app still answers after the route's batch.
  const health = await app.inject('/healthz')
  expect(health.statusCode, `${route.method} ${route.url} left the app unable to answer`).toBe(200)
}

/** `global.gc` without restarting the worker with --expose-gc: the flag, then a fresh context's gc. */
function collectGarbage (): () => void {
  setFlagsFromString('--expose-gc')
  return runInNewContext('gc') as () => void
}

function heapAfterGc (gc: () => void): number {
  // Twice: weak references and finalizers free more on the second pass.
  gc()
  gc()
  return process.memoryUsage().heapUsed
}

afterAll(() => {
  expect(total, `cases run (seed ${SEED})`).toBeGreaterThanOrEqual(MIN_TOTAL)
})

describe(`every route under fuzzing (seed ${SEED})`, () => {
  let app: FastifyInstance
  const { routes, onRoute } = collector()
  const outcome: Outcome = { cases: 0, statuses: new Map(), writes2xx: 0 }
  const perRoute = new Map<string, number>()

  beforeAll(async () => {
    app = await buildApp({ config: testConfig(env), onRoute })
  })
  afterAll(async () => { await app.close() })

  it('lists every operation of the OpenAPI document among the routes it fuzzes', async () => {
    const doc = (await app.inject('/docs/json')).json() as { paths: Record<string, Record<string, unknown>> }
    const fuzzed = new Set(routes.map((r) => `${r.method} ${r.url}`))
    const operations = Object.entries(doc.paths).flatMap(([path, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${path.replace(/\{([^}]+)\}/g, ':$1')}`))
    expect(operations.length).toBeGreaterThan(20)
    expect(operations.filter((op) => !fuzzed.has(op))).toEqual([])
    // Beyond the document: the docs UI, metrics, HEAD twins of every GET.
    expect(fuzzed.has('GET /metrics')).toBe(true)
    expect(fuzzed.has('HEAD /healthz')).toBe(true)
    expect(fuzzed.has('OPTIONS *')).toBe(true)
  })

  it(`answers ${MEMORY_CASES.toLocaleString('en')} cases across every route without a 5xx, an uncatalogued 4xx or a polluted prototype (memory store)`, async () => {
    const each = Math.ceil(MEMORY_CASES / routes.length)
    for (const [i, route] of routes.entries()) {
      const before = outcome.cases
      await fuzzRoute(app, route, each, SEED + i, outcome)
      perRoute.set(`${route.method} ${route.url}`, outcome.cases - before)
    }
    // Every route was fuzzed, and the cases were not all refused at the door.
    expect([...perRoute.entries()].filter(([, n]) => n < each)).toEqual([])
    const reached = [...outcome.statuses.entries()].filter(([status]) => status < 300 || (status >= 400 && status !== 401 && status !== 403)).reduce((n, [, c]) => n + c, 0)
    expect(reached, JSON.stringify(Object.fromEntries(outcome.statuses))).toBeGreaterThan(outcome.cases / 3)
    expect(outcome.statuses.get(200) ?? 0).toBeGreaterThan(0)
    expect(outcome.statuses.get(201) ?? 0, 'no schema-valid write succeeded').toBeGreaterThan(0)
    console.log(`fuzz (memory, seed ${SEED}): ${outcome.cases} cases over ${routes.length} routes; statuses ${JSON.stringify(Object.fromEntries([...outcome.statuses.entries()].sort(([a], [b]) => a - b)))}`)
  }, 240_000)

  it('keeps its heap flat: a further batch over every route grows the heap after GC by under 8 MB', async () => {
    const gc = collectGarbage()
    const each = Math.ceil(MEMORY_BATCH / routes.length)
    // Warm up first (JIT, caches, lazily built schemas), so the two measurements compare like with like.
    for (const [i, route] of routes.entries()) await fuzzRoute(app, route, each, SEED + 10_000 + i, outcome)
    const before = heapAfterGc(gc)
    for (const [i, route] of routes.entries()) await fuzzRoute(app, route, each, SEED + 20_000 + i, outcome)
    const after = heapAfterGc(gc)
    const growth = after - before
    console.log(`fuzz heap after GC: ${(before / 2 ** 20).toFixed(1)} MB -> ${(after / 2 ** 20).toFixed(1)} MB over ${each * routes.length} cases (${(growth / (each * routes.length)).toFixed(0)} bytes a case)`)
    // Why 8 MB: the memory store keeps what the batch legitimately wrote (registrations,
    // idempotency records of 24 h, liveness checks), and runs measured -1.2 to +1.4 MB over the
    // batch. Keeping each request (its request and reply objects, headers, parsed body; several
    // kB each, a 64 kB registration body more) past its answer would pass 8 MB in 1,500 cases.
    expect(growth).toBeLessThan(8 * 2 ** 20)
  }, 240_000)
})

describe(`every route under fuzzing on Redis (seed ${SEED})`, () => {
  let app: FastifyInstance
  const { routes, onRoute } = collector()
  const outcome: Outcome = { cases: 0, statuses: new Map(), writes2xx: 0 }

  beforeAll(async () => {
    app = await buildApp({ config: testConfig(env), stores: await redisStores(), onRoute })
  })
  afterAll(async () => { await app.close() })

  it(`answers ${REDIS_CASES.toLocaleString('en')} cases across every route without a 5xx (a private redis-server)`, async () => {
    const each = Math.ceil(REDIS_CASES / routes.length)
    for (const [i, route] of routes.entries()) await fuzzRoute(app, route, each, SEED + 30_000 + i, outcome)
    expect(outcome.cases).toBeGreaterThanOrEqual(REDIS_CASES)
    // Writes reached Redis and came back (a registration made, a partner check answered).
    expect(outcome.writes2xx, 'no write succeeded').toBeGreaterThan(0)
    console.log(`fuzz (redis, seed ${SEED}): ${outcome.cases} cases; statuses ${JSON.stringify(Object.fromEntries([...outcome.statuses.entries()].sort(([a], [b]) => a - b)))}`)
  }, 240_000)
})
