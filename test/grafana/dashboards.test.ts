// The Grafana dashboards (grafana/dashboards/*.json) against a real Prometheus scraping real
// gateways: one on the embedded store, one on Redis, one shedding. Traffic of every kind goes
// through real HTTP (registrations, appointment requests through the waiting room, schedule
// reads, a liveness upload checked by the vendor simulator, events delivered and dead-lettered,
// a 429, 503s from shedding and from a fail-closed route, the vendor budget's 503, a Redis
// fallback), then every panel's every expression is evaluated through Prometheus's HTTP API and
// must be valid and return series; every metric and label it names must be on the gateways'.
// A fourth gateway, in this process on a clock the test moves, meets every integrity signal (each
// registration limit, duplicate identities and photos, a shared address) and runs a draw, so the
// Integrity dashboard's figures are checked against what the traffic made and the draw's summary.
// A fifth shares its store and ran an older draw: the panels must show the newest draw alone, and
// the store's figures once, not once per instance.
import { spawn, type ChildProcess } from 'node:child_process'
import { generateKeyPairSync, randomUUID } from 'node:crypto'
import { once } from 'node:events'
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import WebSocket from 'ws'
import { parse, stringify } from 'yaml'
import type { FastifyInstance } from 'fastify'
import { defaults } from '../../config/defaults.js'
import { ManualClock } from '../../gateway/store/clock.js'
import { createMemoryStores } from '../../gateway/store/memory/index.js'
import { freePort, startRedis, stopRedis } from '../../loadtests/lib/redis-server.js'
import { startBackend, type BackendSimulator } from '../../loadtests/simulators/backend.js'
import { startLivenessVendor, type LivenessVendorSimulator } from '../../loadtests/simulators/liveness-vendor.js'
import { PORTRAITS, portraitJpeg } from '../fixtures/photos.js'
import { buildApp, testConfig } from '../helpers/app.js'
import { startGateway, stopGateway, type GatewayProcess } from '../helpers/process.js'
import { applicant, publicKeyPem, token } from '../helpers/tokens.js'
import { PROMETHEUS_DIR, SCRAPE_SERIES, dashboards, exportedLabels, exportedNames, metricNames, rules, substitute, unknownLabels, type Dashboard, type MetricDefinition } from './promql.js'

// Grafana 12's dashboard schema.
const SCHEMA_VERSION = 41
const UIDS = ['gateway-edge', 'gateway-integrity', 'gateway-pipeline', 'gateway-slo', 'gateway-surge']
// Grafana's reference to the dashboard's datasource variable, written as Grafana writes it.
const DATASOURCE_VARIABLE = '$' + '{datasource}'

const scratch = mkdtempSync(join(tmpdir(), 'gateway-grafana-'))
// The in-process gateway's clock: Monday 23 November 2026, 1 p.m. in New York, with the request
// window for Tuesday's draw open (as in test/routes/allocations.test.ts).
const integrityClock = new ManualClock(Date.parse('2026-11-23T18:00:00Z'))
// The fifth's: a day earlier, for the draw of Monday 23 November.
const olderClock = new ManualClock(Date.parse('2026-11-22T18:00:00Z'))
const publicKeyFile = join(scratch, 'jwt.pem')
writeFileSync(publicKeyFile, publicKeyPem)
const identityKeyFile = join(scratch, 'identity.key')
writeFileSync(identityKeyFile, Buffer.alloc(32, 3))
const signingKeyFile = join(scratch, 'admission.pem')
writeFileSync(signingKeyFile, generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }))

// A request window open now (UTC, with the draw in its closed hour), so requests are accepted
// whatever the time of day the suite runs.
const hhmm = (minutesFromNow: number) => {
  const d = new Date(Date.now() + minutesFromNow * 60_000)
  return `${String(d.getUTCHours()).padStart(2, '0')}:${String(d.getUTCMinutes()).padStart(2, '0')}`
}
const location = { latitude: 31.3, longitude: -110.9, accuracyMeters: 10 }
const member = (n: string) => ({ firstName: `Dash${n}`, lastName: 'Board', dateOfBirth: '1990-01-01', nationality: 'HTI', usAddress: { line1: '1 A St', city: 'Miami', state: 'FL', zip: '33101' } })

interface Answer { status: number, headers: Headers, body: Record<string, unknown> }
async function call (base: string, method: string, path: string, headers: Record<string, string>, body?: unknown): Promise<Answer> {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: { ...headers, ...(body === undefined ? {} : { 'content-type': 'application/json', 'idempotency-key': randomUUID() }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) })
  })
  const text = await res.text()
  return { status: res.status, headers: res.headers, body: text === '' ? {} : JSON.parse(text) as Record<string, unknown> }
}

async function eventually<T> (what: string, read: () => Promise<T | undefined>, timeoutMs = 15_000): Promise<T> {
  const end = Date.now() + timeoutMs
  for (;;) {
    const value = await read()
    if (value !== undefined) return value
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`)
    await sleep(100)
  }
}

interface QueryResult { status: string, error?: string, data?: { resultType: string, result: Array<{ metric: Record<string, string> }> } }

describe('Grafana dashboards against a real Prometheus and real gateways', () => {
  let redis: { child: ChildProcess, port: number } | undefined
  let vendor: LivenessVendorSimulator | undefined
  let backend: BackendSimulator | undefined
  let refusing: BackendSimulator | undefined
  const gateways: GatewayProcess[] = []
  let prometheus: ChildProcess | undefined
  let promBase = ''
  let memoryBase = ''
  let redisBase = ''
  let shedBase = ''
  let integrity: FastifyInstance | undefined
  let integrityBase = ''
  let older: FastifyInstance | undefined
  let olderBase = ''
  let drawn: { fairness: { rows: Array<{ dimension: string, value: string, entrants: number, winners: number }> } } | undefined
  const sockets: WebSocket[] = []
  let exported = new Set<string>()
  let labels = new Map<string, Set<string>>()

  beforeAll(async () => {
    mkdirSync(join(scratch, 'redis'))
    redis = await startRedis(join(scratch, 'redis'))
    vendor = await startLivenessVendor({ ratePerSecond: 20, totalScans: 1_000, latencyMs: 5 })
    // Every other delivery is refused with 503 at first, so some are retried.
    backend = await startBackend({ latencyMs: 1, failShare: 0.5 })
    refusing = await startBackend({ latencyMs: 1 })
    refusing.set({ status: 400 })
    const common = {
      GATEWAY_PORT: '0',
      GATEWAY_WS_PORT: '0',
      GATEWAY_ACCESS_LOG: 'false',
      GATEWAY_DOCS_ENABLED: 'false',
      GATEWAY_AUTH_PUBLIC_KEY_FILE: publicKeyFile,
      GATEWAY_IDENTITY_KEY_FILE: identityKeyFile,
      GATEWAY_WAITING_ROOM_SIGNING_KEY_FILE: signingKeyFile,
      GATEWAY_TIMEZONE: 'UTC',
      GATEWAY_REQUEST_WINDOW_OPENS_AT: hhmm(-120),
      GATEWAY_REQUEST_WINDOW_CLOSES_AT: hhmm(120),
      GATEWAY_ALLOCATION_AT: hhmm(150),
      GATEWAY_ALLOCATION_AUTO_DRAW: 'false',
      GATEWAY_WAITING_ROOMS: JSON.stringify([{ name: 'requests', routes: ['POST /v1/appointment-requests'], openings: [new Date(Date.now() - 60_000).toISOString()], preOpenMinutes: 1, activeMinutes: 60, admitPerSecond: 50, maxActive: 1000 }]),
      // The defaults, and a small bucket per device on schedule reads for a 429 (refilling every 100 s).
      GATEWAY_RATE_LIMIT_RULES: JSON.stringify([...defaults.rateLimit.rules, { name: 'schedule-device', scope: 'device', ratePerSecond: 0.01, burst: 3, routes: ['/v1/schedule'] }]),
      GATEWAY_RATE_LIMIT_RETRY_JITTER_SECONDS: '0',
      GATEWAY_VENDOR_URL: vendor.url,
      GATEWAY_VENDOR_RATE_PER_SECOND: '20',
      GATEWAY_VENDOR_TOTAL_SCANS: '1000',
      GATEWAY_DELIVERY_URL: backend.url,
      GATEWAY_DELIVERY_URLS: JSON.stringify({ 'appointment.requested': refusing.url }),
      GATEWAY_DELIVERY_RETRY_BASE_MS: '10'
    }
    gateways.push(
      // A contract of one scan: the second upload gets the vendor budget's 503, which has no
      // Retry-After and so is an unplanned 5xx for the availability SLI.
      startGateway({ ...common, GATEWAY_VENDOR_TOTAL_SCANS: '1' }),
      startGateway({ ...common, REDIS_URL: `redis://127.0.0.1:${redis.port}`, GATEWAY_REDIS_KEY_PREFIX: 'dash' }),
      // Over its memory threshold from the start: it sheds every request but /metrics and health.
      startGateway({ ...common, GATEWAY_SHED_MAX_RSS_BYTES: '1' })
    )
    ;[memoryBase, redisBase, shedBase] = await Promise.all(gateways.map(async (g) => g.listening))
    // Laredo takes 6 people a day, so the draw below leaves some out and its rates are not all 1.
    const integrityConfig = testConfig({
      GATEWAY_RATE_LIMIT_RULES: '[]',
      GATEWAY_VENDOR_URL: vendor.url,
      GATEWAY_REGISTRATION_PER_IP_MAX: '3',
      GATEWAY_REGISTRATION_DEVICE_SUBJECTS_FLAG: '2',
      GATEWAY_POES: JSON.stringify([{ slug: 'laredo', name: 'Laredo', state: 'TX', dailyCapacity: 6 }])
    })
    const shared = createMemoryStores({ clock: integrityClock })
    integrity = await buildApp({ clock: integrityClock, stores: shared, config: integrityConfig })
    integrityBase = await integrity.listen({ host: '127.0.0.1', port: 0 })
    older = await buildApp({ clock: olderClock, stores: shared, config: integrityConfig })
    olderBase = await older.listen({ host: '127.0.0.1', port: 0 })

    const promPort = await freePort()
    const targets = [memoryBase, redisBase, shedBase, integrityBase, olderBase].map((b) => new URL(b).host)
    // The rules as they are, every group evaluated every second: a group's first evaluation
    // comes up to its interval after the start, 5 minutes for the 30-day windows.
    const ruleFile = parse(readFileSync(join(PROMETHEUS_DIR, 'alerts.yml'), 'utf8')) as { groups: Array<{ interval?: string }> }
    for (const group of ruleFile.groups) delete group.interval
    writeFileSync(join(scratch, 'alerts.yml'), stringify(ruleFile))
    writeFileSync(join(scratch, 'prometheus.yml'), [
      'global:',
      '  scrape_interval: 1s',
      '  evaluation_interval: 1s',
      'rule_files:',
      `  - ${JSON.stringify(join(scratch, 'alerts.yml'))}`,
      'scrape_configs:',
      '  - job_name: gateway',
      '    static_configs:',
      `      - targets: ${JSON.stringify(targets)}`,
      ''
    ].join('\n'))
    prometheus = spawn('prometheus', [
      `--config.file=${join(scratch, 'prometheus.yml')}`,
      `--storage.tsdb.path=${join(scratch, 'tsdb')}`,
      `--web.listen-address=127.0.0.1:${promPort}`,
      '--log.level=warn'
    ], { stdio: ['ignore', 'ignore', 'pipe'] })
    let promErr = ''
    prometheus.on('error', (err) => { promErr += `spawn failed: ${err.message} (install the Debian package prometheus)` })
    prometheus.stderr?.setEncoding('utf8').on('data', (c: string) => { promErr = (promErr + c).slice(-4096) })
    promBase = `http://127.0.0.1:${promPort}`
    await eventually(`Prometheus ready on ${promBase} (${promErr})`, async () => {
      if (prometheus?.exitCode !== null) throw new Error(`prometheus exited: ${promErr}`)
      return (await fetch(`${promBase}/-/ready`).then((r) => r.status, () => 0)) === 200 ? true : undefined
    })

    const pages = await Promise.all([memoryBase, redisBase, shedBase, integrityBase, olderBase].map(async (b) => await (await fetch(`${b}/metrics`)).text()))
    exported = new Set([...pages.flatMap((page) => [...exportedNames(page)]), ...SCRAPE_SERIES.keys()])
    // The labels of the series the gateways have now, and of those they define but have not
    // counted yet (a refusal counter before the first refusal), from an app of the same code.
    const definitions = await buildApp({ config: testConfig({ GATEWAY_WAITING_ROOMS: common.GATEWAY_WAITING_ROOMS, GATEWAY_VENDOR_URL: vendor.url }) })
    try {
      labels = exportedLabels(pages.join('\n'), definitions.metrics.getMetricsAsArray() as unknown as MetricDefinition[])
    } finally {
      await definitions.close()
    }
  })

  afterAll(async () => {
    for (const ws of sockets) ws.terminate()
    if (prometheus !== undefined && prometheus.exitCode === null && prometheus.pid !== undefined) {
      const child = prometheus
      const exited = once(child, 'exit')
      child.kill('SIGTERM')
      // A Prometheus that does not stop within 10 s (a TSDB flush stuck) is killed.
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000)
      await exited
      clearTimeout(timer)
    }
    await Promise.all(gateways.map(async (g) => {
      if (g.child.exitCode !== null) return
      g.child.kill('SIGTERM')
      const timer = setTimeout(() => stopGateway(g), 10_000)
      await g.exited
      clearTimeout(timer)
    }))
    await Promise.all([vendor?.close(), backend?.close(), refusing?.close(), integrity?.close(), older?.close()])
    if (redis !== undefined) await stopRedis(redis.child)
    rmSync(scratch, { recursive: true, force: true })
  })

  const all = () => dashboards()
  const panelsOf = (d: Dashboard) => d.panels.filter((p) => p.type !== 'row')
  const expressions = () => all().flatMap(({ dashboard }) => panelsOf(dashboard).flatMap((panel) => (panel.targets ?? []).map((t) => ({ dashboard: dashboard.title, panel: panel.title, refId: t.refId, expr: t.expr }))))

  describe('lint', () => {
    it('has the five dashboards with stable, unique uids and the current schema version', () => {
      expect(all().map((d) => d.dashboard.uid).sort()).toEqual(UIDS)
      expect(all().map((d) => d.file)).toEqual(['edge.json', 'integrity.json', 'pipeline.json', 'slo.json', 'surge.json'])
      for (const { dashboard } of all()) expect(dashboard.schemaVersion, dashboard.uid).toBe(SCHEMA_VERSION)
    })

    it('gives each panel an id unique in its dashboard and every query panel a query', () => {
      for (const { dashboard } of all()) {
        const ids = dashboard.panels.map((p) => p.id)
        expect(new Set(ids).size, dashboard.uid).toBe(ids.length)
        for (const panel of panelsOf(dashboard)) {
          expect(panel.targets?.length, `${dashboard.uid}: ${panel.title}`).toBeGreaterThan(0)
          const refIds = (panel.targets ?? []).map((t) => t.refId)
          expect(new Set(refIds).size, `${dashboard.uid}: ${panel.title}`).toBe(refIds.length)
        }
      }
      expect(expressions().length).toBeGreaterThanOrEqual(20)
    })

    it('queries through a datasource variable, never a named data source or instance', () => {
      for (const { file, dashboard } of all()) {
        const datasource = dashboard.templating.list.find((v) => v.name === 'datasource')
        expect(datasource, file).toMatchObject({ type: 'datasource', query: 'prometheus' })
        expect(dashboard.templating.list.slice(0, 3).map((v) => v.name), file).toEqual(['datasource', 'job', 'instance'])
        for (const v of dashboard.templating.list.filter((x) => x.type === 'query')) {
          expect(v.query, `${file}: ${v.name}`).toBe(v.definition)
          expect((v as unknown as { datasource: unknown }).datasource, `${file}: ${v.name}`).toEqual({ type: 'prometheus', uid: DATASOURCE_VARIABLE })
        }
        for (const panel of panelsOf(dashboard)) {
          expect((panel as unknown as { datasource: unknown }).datasource, `${file}: ${panel.title}`).toEqual({ type: 'prometheus', uid: DATASOURCE_VARIABLE })
        }
        const text = JSON.stringify(dashboard)
        // Every "uid" is a dashboard's own or the variable; instances are chosen by $instance only.
        expect([...text.matchAll(/"uid":\s*"([^"]*)"/g)].map((m) => m[1]).filter((u) => u !== DATASOURCE_VARIABLE), file).toEqual([dashboard.uid])
        expect(text, file).not.toMatch(/instance\s*(?:=|!=|=~|!~)\s*\\"(?!\$instance)/)
        expect(text, file).not.toMatch(/(?:127\.0\.0\.1|localhost|:\d{4,5}\b)/)
      }
    })

    it('lays out panels without overlap on the 24-column grid', () => {
      for (const { dashboard } of all()) {
        const boxes = dashboard.panels.map((p) => ({ title: p.title, ...p.gridPos }))
        for (const b of boxes) expect(b.x + b.w, `${dashboard.uid}: ${b.title}`).toBeLessThanOrEqual(24)
        const overlaps = boxes.flatMap((a, i) => boxes.slice(i + 1).filter((b) => a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h).map((b) => `${a.title} / ${b.title}`))
        expect(overlaps, dashboard.uid).toEqual([])
      }
    })

    it('uses only labels those metrics carry, in selectors, by and without lists and variables', () => {
      const recorded = new Set(rules().flatMap((r) => r.record === undefined ? [] : [r.record]))
      const variables = all().flatMap(({ dashboard }) => dashboard.templating.list.filter((v) => v.type === 'query').map((v) => ({ dashboard: dashboard.title, panel: `variable ${v.name}`, expr: v.definition ?? '' })))
      const unknown = [...expressions(), ...variables].flatMap((e) => unknownLabels(substitute(e.expr), labels, recorded).map((u) => `${e.dashboard} / ${e.panel}: ${u}`))
      expect(unknown).toEqual([])
      expect([...labels.get('gateway_allocation_pool_size') ?? []].sort()).toEqual(['instance', 'job', 'poe'])
    })

    it('names only metrics a real gateway exports, or rules recorded in alerts.yml', () => {
      const recorded = new Set(rules().flatMap((r) => r.record === undefined ? [] : [r.record]))
      const variables = all().flatMap(({ dashboard }) => dashboard.templating.list.filter((v) => v.type === 'query').map((v) => ({ dashboard: dashboard.title, panel: `variable ${v.name}`, expr: labelValuesSelector(v.definition ?? '') })))
      const unknown = [...expressions(), ...variables].flatMap((e) => metricNames(substitute(e.expr)).filter((n) => !exported.has(n) && !recorded.has(n)).map((n) => `${e.dashboard} / ${e.panel}: ${n}`))
      expect(unknown).toEqual([])
      // And the lint is not vacuous: what it compares with is the real page.
      expect(exported.has('http_request_duration_seconds_bucket')).toBe(true)
      expect(exported.has('gateway_allocation_pool_size')).toBe(true)
    })
  })

  describe('every expression against Prometheus', () => {
    const query = async (expr: string): Promise<QueryResult> => {
      const res = await fetch(`${promBase}/api/v1/query`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ query: expr }) })
      return await res.json() as QueryResult
    }

    it('drives traffic of every kind through the gateways', async () => {
      await Promise.all([memoryBase, redisBase].map(async (base) => { await drive(base) }))
      drawn = await meetIntegritySignals()
      await drawEarlier()

      // Shedding: 503 with Retry-After, the route still labelled. Twice, a scrape apart, so the
      // series exists before the second and rate() sees it.
      for (let i = 0; i < 2; i++) {
        const shed = await call(shedBase, 'GET', '/v1/schedule', applicant())
        expect(shed.status).toBe(503)
        expect(shed.body.code).toBe('GW_ERR_SERVER_OVERLOADED')
        expect(shed.headers.get('retry-after')).toBe('5')
        await sleep(1_500)
      }

      // The vendor budget spent (one scan, used by drive()): 503 without Retry-After, twice.
      const owner = applicant(randomUUID(), { sub: `dash-${randomUUID()}` })
      const registered = await call(memoryBase, 'POST', '/v1/registrations', owner, { members: [member('b')], preferredLanguage: 'en' })
      expect(registered.status).toBe(201)
      const photo = await portraitJpeg({ ...PORTRAITS['medium-well-lit'], width: 640, height: 640 })
      for (let i = 0; i < 2; i++) {
        const spent = await call(memoryBase, 'POST', '/v1/liveness', owner, { registrationId: registered.body.registrationId, memberIndex: 0, photo: photo.toString('base64') })
        expect(spent.status).toBe(503)
        expect(spent.body.code).toBe('GW_ERR_LIVENESS_BUDGET')
        expect(spent.headers.get('retry-after')).toBe(null)
        await sleep(1_500)
      }

      // Redis goes away under the Redis gateway: schedule reads fail open (in-process buckets),
      // registrations fail closed with 503 and Retry-After.
      await stopRedis((redis as { child: ChildProcess }).child)
      const who = applicant()
      const closed = await eventually('a fail-closed 503', async () => {
        const res = await call(redisBase, 'POST', '/v1/registrations', who, { members: [member('x')], preferredLanguage: 'en' })
        return res.status === 503 ? res : undefined
      })
      expect(closed.body.code).toBe('GW_ERR_STORE_UNAVAILABLE')
      expect(closed.headers.get('retry-after')).toBe('5')
      expect((await call(redisBase, 'GET', '/v1/schedule', applicant())).status).toBe(200)
      expect(await fetch(`${redisBase}/metrics`).then(async (r) => r.text())).toMatch(/^gateway_rate_limit_fallback_active 1$/m)
    }, 40_000)

    it('evaluates every panel\'s every expression without error and with series', async () => {
      const up = await eventually('five targets up', async () => {
        const r = await query('sum(up{job="gateway"})')
        const value = (r.data?.result[0] as { value?: [number, string] } | undefined)?.value?.[1]
        return value === '5' ? value : undefined
      })
      expect(up).toBe('5')

      // Counters need two scrapes, recording rules an evaluation, the pipeline a little time:
      // ask again until every expression has series or the time is up, then name the rest.
      const end = Date.now() + 30_000
      let failures: string[] = []
      for (;;) {
        failures = []
        for (const e of expressions()) {
          const result = await query(substitute(e.expr))
          if (result.status !== 'success') failures.push(`${e.dashboard} / ${e.panel} / ${e.refId}: invalid: ${result.error ?? 'unknown'}: ${e.expr}`)
          else if ((result.data?.result.length ?? 0) === 0) failures.push(`${e.dashboard} / ${e.panel} / ${e.refId}: no series: ${e.expr}`)
        }
        for (const { dashboard } of all()) {
          for (const v of dashboard.templating.list.filter((x) => x.type === 'query')) {
            const [selector, label] = [labelValuesSelector(v.definition ?? ''), /,\s*(\w+)\)\s*$/.exec(v.definition ?? '')?.[1]]
            const result = await query(substitute(selector))
            const values = (result.data?.result ?? []).map((s) => s.metric[label ?? ''])
            if (result.status !== 'success' || values.length === 0 || values.some((x) => x === undefined)) failures.push(`${dashboard.title} / variable ${v.name}: no values: ${v.definition ?? ''}`)
          }
        }
        if (failures.length === 0 || Date.now() > end) break
        await sleep(1_000)
      }
      expect(failures).toEqual([])
    }, 60_000)

    it('shows what the traffic did: the 429s, the shedding, the fail-closed 503s and the fallback, on the right instances', async () => {
      const [memory, onRedis, shedding] = [memoryBase, redisBase, shedBase].map((b) => new URL(b).host)
      // The last scrape may still be on its way: ask until the answer is the expected one, or 10 s.
      const seenOn = async (expr: string, expected: string[]) => {
        const end = Date.now() + 10_000
        for (;;) {
          const found = ((await query(expr)).data?.result ?? []).map((s) => s.metric.instance as string).sort()
          if (JSON.stringify(found) === JSON.stringify(expected.sort()) || Date.now() > end) return expect(found, expr).toEqual(expected.sort())
          await sleep(250)
        }
      }
      await seenOn('sum by (instance) (max_over_time(http_request_duration_seconds_count{route="/v1/schedule",status_code="429"}[5m])) == 2', [memory, onRedis])
      await seenOn('sum by (instance) (max_over_time(gateway_shed_total{reason="rssBytes"}[5m])) > 0', [shedding])
      await seenOn('sum by (instance) (max_over_time(gateway_rate_limit_unavailable_total{route="/v1/registrations"}[5m])) > 0', [onRedis])
      await seenOn('max_over_time(gateway_rate_limit_fallback_active[5m]) == 1', [onRedis])
      await seenOn('sum by (instance) (max_over_time(gateway_rate_limit_decisions_total{source="fallback"}[5m])) > 0', [onRedis])
      // Every 503 but the vendor budget's carries Retry-After and is counted as a refusal.
      const unplanned503 = 'sum by (instance) (http_request_duration_seconds_count{status_code="503"}) - on (instance) (sum by (instance) (gateway_http_deliberate_refusals_total) or 0 * sum by (instance) (http_request_duration_seconds_count{status_code="503"}))'
      await seenOn(`(${unplanned503}) == 2`, [memory])
      await seenOn(`(${unplanned503}) == 0`, [onRedis, shedding])
      await seenOn('sum by (instance) (max_over_time(gateway_http_deliberate_refusals_total{route="/v1/schedule"}[5m])) == 2', [shedding])
    }, 60_000)

    it('records an availability SLI whose 5xx numerator has real series: the vendor budget\'s 503s, every window', async () => {
      // No fallback stands in here: a ratio above 0 comes from the 503s without Retry-After.
      const windows = await eventually('every availability ratio above 0', async () => {
        const found = ((await query('{__name__=~"gateway:slo_availability_errors:ratio_rate.+",job="gateway"} > 0')).data?.result ?? []).map((s) => s.metric.__name__ as string).sort()
        return found.length === 8 ? found : undefined
      })
      expect(windows).toEqual(['5m', '30m', '1h', '2h', '6h', '1d', '3d', '30d'].map((w) => `gateway:slo_availability_errors:ratio_rate${w}`).sort())
    }, 30_000)

    it('shows on the Integrity dashboard what the integrity traffic made, and the draw\'s own selection rates', async () => {
      const host = new URL(integrityBase).host
      const panels = (dashboards().find((d) => d.file === 'integrity.json')?.dashboard.panels ?? []).filter((p) => p.type !== 'row')
      const exprOf = (title: string, refId = 'A') => {
        const expr = panels.find((p) => p.title === title)?.targets?.find((t) => t.refId === refId)?.expr
        if (expr === undefined) throw new Error(`no panel ${title} / ${refId}`)
        return substitute(expr)
      }
      // One instant query's series as "labels => value", asked until it equals what is expected
      // (the last scrape may still be on its way) or 15 s have passed.
      const shows = async (expr: string, expected: Record<string, number>, by: (m: Record<string, string>) => string) => {
        const end = Date.now() + 15_000
        for (;;) {
          const result = (await query(expr)).data?.result as Array<{ metric: Record<string, string>, value: [number, string] }> | undefined
          const found = Object.fromEntries((result ?? []).map((s) => [by(s.metric), Number(s.value[1])]))
          if (JSON.stringify(Object.entries(found).sort()) === JSON.stringify(Object.entries(expected).sort()) || Date.now() > end) return expect(found, expr).toEqual(expected)
          await sleep(500)
        }
      }
      const onIntegrity = (expr: string) => expr.replaceAll('instance=~".*"', `instance="${host}"`)
      // A 24 h panel's count over what the test made: the counters began at 0 within 5 minutes.
      const counted = (expr: string) => expr.replaceAll('increase(', 'max_over_time(').replaceAll('[1d]', '[5m]')
      const reason = (m: Record<string, string>) => m.reason ?? ''
      // Counted from the start (every reason at 0 before its first), so max_over_time of the
      // counter is what the traffic made; the panels' own selectors pick the reasons.
      await shows(`sum by (reason) (max_over_time(gateway_registration_refusals_total{instance="${host}"}[5m]))`, { device_limit: 1, velocity: 1, subject_limit: 1, ip_limit: 1, duplicate_identity: 3, subject_blocked: 2 }, reason)
      await shows(`sum by (reason) (max_over_time(gateway_fraud_flags_total{instance="${host}"}[5m]))`, { velocity: 1, device_many_subjects: 2, identity_enumeration: 1, photo_reused: 1 }, reason)
      // Each panel selects the reasons its title names, on the integrity instance.
      const selectedBy = async (title: string, refId = 'A') => ((await query(onIntegrity(exprOf(title, refId)))).data?.result ?? []).map((s) => s.metric.reason ?? '(sum)').sort()
      expect(await selectedBy('Limit refusals (24 h)')).toEqual(['device_limit', 'ip_limit', 'subject_limit', 'velocity'])
      expect(await selectedBy('Duplicate identities and conflicts')).toEqual(['duplicate_identity', 'subject_blocked'])
      expect(await selectedBy('Fraud flags, by reason')).toEqual(['device_many_subjects', 'identity_enumeration', 'photo_reused', 'velocity'])
      await shows(counted(onIntegrity(exprOf('Limit refusals (24 h)'))), { device_limit: 1, velocity: 1, subject_limit: 1, ip_limit: 1 }, reason)
      await shows(counted(onIntegrity(exprOf('Duplicate photos (24 h)'))), { '': 1 }, () => '')
      await shows(counted(onIntegrity(exprOf('Duplicate identities (24 h)'))), { '': 3 }, () => '')
      await shows(counted(onIntegrity(exprOf('Registrations from devices with many accounts (24 h)'))), { '': 2 }, () => '')
      // The shared address: 12 people at one house, spelled three ways; the report floor is 10.
      // Every instance on the store reports the same figures: shown once, over all instances.
      await shows(exprOf('Addresses at the report floor'), { '': 1 }, () => '')
      await shows(exprOf('Most claimants on one address'), { '': 12 }, () => '')
      await shows(exprOf('Last draw'), { '': Date.parse('2026-11-24T16:01:00Z') }, () => '')
      // Selection rates as the panels compute them from the last draw equal the draw's own.
      const rows = drawn?.fairness.rows ?? []
      expect(rows.length).toBeGreaterThan(4)
      expect(rows.some((r) => r.winners < r.entrants && r.winners > 0)).toBe(true)
      for (const [dimension, title] of [['language', 'Selection rate by preferred language'], ['nationality', 'Selection rate by nationality'], ['age', 'Selection rate by registration age'], ['group_size', 'Selection rate by group size']] as const) {
        const expected = Object.fromEntries(rows.filter((r) => r.dimension === dimension).map((r) => [r.value, r.winners / r.entrants]))
        expect(Object.keys(expected).length, dimension).toBeGreaterThan(0)
        await shows(exprOf(title), expected, (m) => m.value ?? '')
      }
      const counts = async (refId: string) => Object.fromEntries((((await query(exprOf('Entrants and winners, last draw', refId))).data?.result ?? []) as Array<{ metric: Record<string, string>, value: [number, string] }>).map((s) => [`${s.metric.dimension ?? ''}/${s.metric.value ?? ''}`, Number(s.value[1])]))
      expect(await counts('A')).toEqual(Object.fromEntries(rows.map((r) => [`${r.dimension}/${r.value}`, r.entrants])))
      expect(await counts('B')).toEqual(Object.fromEntries(rows.map((r) => [`${r.dimension}/${r.value}`, r.winners])))
    }, 60_000)

    it('evaluates every rule of alerts.yml without error', async () => {
      const res = await (await fetch(`${promBase}/api/v1/rules`)).json() as { data: { groups: Array<{ rules: Array<{ name: string, health: string, lastError?: string }> }> } }
      const loaded = res.data.groups.flatMap((g) => g.rules)
      expect(loaded.map((r) => r.name).sort()).toEqual(rules().map((r) => r.record ?? r.alert).sort())
      expect(loaded.filter((r) => r.health !== 'ok').map((r) => `${r.name}: ${r.health} ${r.lastError ?? ''}`)).toEqual([])
    })
  })

  /**
   * On the in-process gateway, every integrity signal once or a counted few times, registrations
   * at one shared address asking for Laredo, and the draw of their pool date; returns its summary.
   */
  async function meetIntegritySignals (): Promise<{ fairness: { rows: Array<{ dimension: string, value: string, entrants: number, winners: number }> } }> {
    const app = integrity as FastifyInstance
    let ip = 0
    // Past the 30 s a device must wait between registrations, unless a test wants velocity.
    const register = async (who: Record<string, string>, members: unknown[], language = 'es', remoteAddress = `10.7.${++ip >> 8}.${ip & 255}`) => {
      integrityClock.advance(31_000)
      const res = await app.inject({ method: 'POST', url: '/v1/registrations', remoteAddress, headers: { ...who, 'idempotency-key': randomUUID() }, payload: { members, preferredLanguage: language } })
      return { status: res.statusCode, code: res.json<{ code?: string }>().code, registrationId: res.json<{ registrationId?: string }>().registrationId }
    }
    // Everyone but the house's lives at an address of their own.
    let street = 0
    const person = (first: string, last: string, line1 = `${++street} Elm St`, dateOfBirth = '1988-03-04', nationality = 'VEN') => ({ firstName: first, lastName: last, dateOfBirth, nationality, usAddress: { line1, city: 'Houston', state: 'TX', zip: '77002' } })
    const id = (prefix: string) => `${prefix}-${randomUUID()}`

    // One house, twelve people of twelve families, written three ways, in four languages, one
    // group of two; each asks for Laredo.
    const spellings = ['742 Evergreen Terrace', '742 EVERGREEN TER.', '742 evergreen ter']
    const languages = ['es', 'ht', 'ru', 'en']
    const nationalities = ['VEN', 'HTI', 'RUS', 'COL']
    for (let i = 0; i < 11; i++) {
      const who = applicant(randomUUID(), { sub: id('house') })
      const members = [person(`H${i}`, `Family${i}`, spellings[i % 3], `19${70 + i}-01-0${1 + (i % 9)}`, nationalities[i % 4])]
      if (i === 10) members.push(person('H11', 'Family11', spellings[2], '2015-06-07', 'VEN'))
      const made = await register(who, members, languages[i % 4])
      expect(made.status, made.code).toBe(201)
      const asked = await app.inject({ method: 'POST', url: '/v1/appointment-requests', headers: { ...who, 'idempotency-key': randomUUID() }, payload: { registrationId: made.registrationId, poe: 'laredo', location: { latitude: 27.5, longitude: -99.5, accuracyMeters: 10 } } })
      expect(asked.statusCode, asked.body).toBe(202)
    }

    // Velocity: one device, a second registration at once.
    const quick = applicant(randomUUID(), { sub: id('quick') })
    expect((await register(quick, [person('V', 'One')])).status).toBe(201)
    const velocity = await app.inject({ method: 'POST', url: '/v1/registrations', remoteAddress: '10.8.0.1', headers: { ...quick, 'idempotency-key': randomUUID() }, payload: { members: [person('V', 'Two')], preferredLanguage: 'es' } })
    expect(velocity.json<{ code: string }>().code).toBe('GW_ERR_REG_VELOCITY')
    // A device over its 3 a day, for four accounts: a device_limit refusal, and the device
    // flagged as seen with many accounts at its 2nd and 3rd.
    const device = randomUUID()
    for (let i = 0; i < 3; i++) expect((await register(applicant(device, { sub: id('phone') }), [person(`D${i}`, 'Phone')])).status).toBe(201)
    expect((await register(applicant(device, { sub: id('phone') }), [person('D3', 'Phone')])).code).toBe('GW_ERR_REG_DEVICE_LIMIT')
    // An account over its 3 a day, from four devices.
    const account = id('account')
    for (let i = 0; i < 3; i++) expect((await register(applicant(randomUUID(), { sub: account }), [person(`S${i}`, 'Subject')])).status).toBe(201)
    expect((await register(applicant(randomUUID(), { sub: account }), [person('S3', 'Subject')])).code).toBe('GW_ERR_REG_SUBJECT_LIMIT')
    // A network over its 3 (GATEWAY_REGISTRATION_PER_IP_MAX here).
    for (let i = 0; i < 3; i++) expect((await register(applicant(randomUUID(), { sub: id('net') }), [person(`N${i}`, 'Network')], 'es', '10.9.9.9')).status).toBe(201)
    expect((await register(applicant(randomUUID(), { sub: id('net') }), [person('N3', 'Network')], 'es', '10.9.9.9')).code).toBe('GW_ERR_REG_IP_LIMIT')
    // Duplicate identities: one person registered, then named again by another account three
    // times (409 each), then a fourth (the account is blocked for probing) and a fifth (blocked).
    const known = person('Known', 'Person', '5 Oak Ave', '1979-09-09')
    const holder = applicant(randomUUID(), { sub: id('holder') })
    const held = await register(holder, [known])
    expect(held.status).toBe(201)
    const prober = id('prober')
    const probes = []
    for (let i = 0; i < 5; i++) probes.push((await register(applicant(randomUUID(), { sub: prober }), [known])).code)
    expect(probes).toEqual([...Array(3).fill('GW_ERR_REG_DUPLICATE_IDENTITY'), 'GW_ERR_REG_SUBJECT_BLOCKED', 'GW_ERR_REG_SUBJECT_BLOCKED'])
    // One photo on two registrations: the second upload is flagged.
    const photo = (await portraitJpeg({ ...PORTRAITS['medium-well-lit'], width: 640, height: 640 })).toString('base64')
    const other = applicant(randomUUID(), { sub: id('other') })
    const otherRegistration = await register(other, [person('Other', 'Photo')])
    for (const [who, registrationId] of [[holder, held.registrationId], [other, otherRegistration.registrationId]] as const) {
      const upload = await app.inject({ method: 'POST', url: '/v1/liveness', headers: { ...who, 'idempotency-key': randomUUID() }, payload: { registrationId, memberIndex: 0, photo } })
      expect(upload.statusCode, upload.body).toBe(202)
    }

    // The pool of 2026-11-24 closes at 11:00 ET; drawn a minute after the seal grace.
    integrityClock.set(Date.parse('2026-11-24T16:01:00Z'))
    const ops = { authorization: `Bearer ${token({ role: 'ops', sub: 'ops-dash' })}` }
    const draw = await app.inject({ method: 'POST', url: '/v1/ops/allocations', headers: { ...ops, 'idempotency-key': randomUUID() }, payload: { date: '2026-11-24' } })
    expect(draw.statusCode, draw.body).toBe(200)
    return draw.json()
  }

  /**
   * On the fifth gateway: a draw of Monday's pool, finished a day before the fourth's, of one
   * registration (English, Russian, alone) that wins its place, so its rates (all 1) differ
   * from the newer draw's wherever both have a value.
   */
  async function drawEarlier (): Promise<void> {
    const app = older as FastifyInstance
    const who = applicant(randomUUID(), { sub: `older-${randomUUID()}` })
    const members = [{ firstName: 'Earlier', lastName: 'Draw', dateOfBirth: '1990-02-02', nationality: 'RUS', usAddress: { line1: '1 Birch Rd', city: 'Austin', state: 'TX', zip: '78701' } }]
    const made = await app.inject({ method: 'POST', url: '/v1/registrations', remoteAddress: '10.6.0.1', headers: { ...who, 'idempotency-key': randomUUID() }, payload: { members, preferredLanguage: 'ru' } })
    expect(made.statusCode, made.body).toBe(201)
    const asked = await app.inject({ method: 'POST', url: '/v1/appointment-requests', headers: { ...who, 'idempotency-key': randomUUID() }, payload: { registrationId: made.json<{ registrationId: string }>().registrationId, poe: 'laredo', location: { latitude: 27.5, longitude: -99.5, accuracyMeters: 10 } } })
    expect(asked.statusCode, asked.body).toBe(202)
    olderClock.set(Date.parse('2026-11-23T16:01:00Z'))
    const ops = { authorization: `Bearer ${token({ role: 'ops', sub: 'ops-dash' })}` }
    const draw = await app.inject({ method: 'POST', url: '/v1/ops/allocations', headers: { ...ops, 'idempotency-key': randomUUID() }, payload: { date: '2026-11-23' } })
    expect(draw.statusCode, draw.body).toBe(200)
    expect(draw.json<{ fairness: { rows: Array<{ dimension: string, value: string, winners: number }> } }>().fairness.rows).toContainEqual(expect.objectContaining({ dimension: 'language', value: 'ru', winners: 1 }))
  }

  /** A registration, a schedule read, an appointment request through the waiting room, a WebSocket, a liveness upload and a 429. */
  async function drive (base: string): Promise<void> {
    const who = applicant(randomUUID(), { sub: `dash-${randomUUID()}` })
    const registered = await call(base, 'POST', '/v1/registrations', who, { members: [member('a')], preferredLanguage: 'es' })
    expect(registered.status).toBe(201)
    const registrationId = registered.body.registrationId as string
    expect((await call(base, 'GET', '/v1/schedule', who)).status).toBe(200)

    const request = { registrationId, poe: 'nogales', location }
    const waiting = await call(base, 'POST', '/v1/appointment-requests', who, request)
    expect(waiting.status).toBe(200)
    expect(waiting.headers.get('x-waiting-room')).toBe('requests')
    expect(waiting.body.status).toBe('waiting')
    const ticket = waiting.body.ticket as string
    const ws = new WebSocket(waiting.body.wsUrl as string)
    sockets.push(ws)
    const welcome = new Promise<Record<string, unknown>>((resolve) => ws.once('message', (data) => { resolve(JSON.parse(String(data)) as Record<string, unknown>) }))
    await once(ws, 'open')
    ws.send(JSON.stringify({ type: 'subscribe', ticket }))
    expect(['welcome', 'admitted']).toContain((await welcome).type)
    await eventually('admission', async () => {
      const view = await call(base, 'GET', `/v1/waiting-rooms/requests/tickets/${ticket}`, who)
      return view.body.status === 'admitted' ? true : undefined
    })
    const pooled = await call(base, 'POST', '/v1/appointment-requests', who, request)
    expect(pooled.status).toBe(202)
    expect(pooled.body.status).toBe('pooled')

    const photo = await portraitJpeg({ ...PORTRAITS['medium-well-lit'], width: 640, height: 640 })
    const upload = await call(base, 'POST', '/v1/liveness', who, { registrationId, memberIndex: 0, photo: photo.toString('base64') })
    expect(upload.status).toBe(202)

    // One device reading the schedule more often than its bucket of 3 allows.
    const device = applicant()
    const statuses = []
    for (let i = 0; i < 5; i++) statuses.push((await call(base, 'GET', '/v1/schedule', device)).status)
    expect(statuses).toEqual([200, 200, 200, 429, 429])
  }
})

/** The selector of a Grafana label_values(selector, label) variable query. */
function labelValuesSelector (definition: string): string {
  const match = /^label_values\((.*),\s*\w+\)$/.exec(definition.trim())
  if (match === null) throw new Error(`not a label_values(selector, label) query: ${definition}`)
  return match[1] as string
}
