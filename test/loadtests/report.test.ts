// The rehearsal report: summaries are validated with exact messages, every summary string is
// escaped, absent series leave their charts out, and a realistic run's report renders in headless
// Chromium from disk with every chart drawn, without a single request beyond its own file.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Browser } from 'playwright-core'
import { renderReport, REPORT_CSP, SummaryError, validateSummary, writeReport, type RehearsalSummary } from '../../loadtests/report/render.js'
import { launchChromium } from '../helpers/browser.js'

const SECONDS = 60
const TX = ['schedule', 'registration', 'appointment-request'] as const

// A surge-9am-like minute at a small scale: a trickle before the opening at 0:10, a spike the
// gateway answers partly with 429 and 503, then the tail. Deterministic, no randomness.
function syntheticSummary (): RehearsalSummary {
  const t = Array.from({ length: SECONDS }, (_, i) => i)
  const arrivals = t.map((s) => (s < 10 ? 5 : s < 30 ? 80 - (s - 10) * 2 : 12))
  const throughput = arrivals.map((a) => Math.min(a, 50))
  const refused = arrivals.map((a, i) => Math.max(0, a - (throughput[i] as number)))
  const load = (s: number): number => (arrivals[s] as number) / 80
  const latency = Object.fromEntries(TX.map((tx, k) => [tx, {
    p50: t.map((s) => 20 + k * 10 + 60 * load(s)),
    p95: t.map((s) => 60 + k * 20 + 400 * load(s)),
    p99: t.map((s) => 120 + k * 40 + 1400 * load(s))
  }]))
  return {
    profile: 'surge-9am',
    scale: 0.01,
    client: 'naive',
    startedAt: '2026-01-09T08:59:30.000Z',
    durationSeconds: SECONDS,
    target: 'http://127.0.0.1:8080',
    machine: '2 x AMD EPYC, node v20.20.2',
    totals: { tx: 1490, requests: 2310, txPerHour: 89_400, p99Ms: 1523.4, errors5xx: 0, lost: 0, retries: 820, refusals429: 610, shed503: 210, refusalsWithoutRetryAfter: 0, behindScheduleMs: 0 },
    gateway: { cpuMicrosPerRequest: 412.5, rssMaxMb: 181.2 },
    generator: { cpuMicrosPerRequest: 301, behindScheduleP99Ms: 2.5 },
    slos: [
      { name: 'unexpected_server_errors', threshold: 'rate<=0', value: '0', pass: true },
      { name: 'http_req_duration{tx:registration} p(99)', threshold: '<3000', value: '1563 ms', pass: true }
    ],
    verdict: 'PASS',
    series: {
      t,
      arrivals,
      throughput,
      // Naive clients: each refusal comes straight back.
      requests: arrivals.map((a, i) => a + (refused[i] as number) * 3),
      retries: refused.map((r) => r * 3),
      status: {
        '2xx': throughput,
        429: refused.map((r) => Math.round(r * 0.75)),
        503: refused.map((r) => r - Math.round(r * 0.75)),
        '5xx': t.map(() => 0),
        other: t.map(() => 0)
      },
      latency,
      vendorCallsPerSecond: t.map((s) => (s < 10 ? 0.5 : 1)),
      vendorContractPerSecond: 1,
      deliveriesPerSecond: t.map((s) => Math.min(20, (throughput[s] as number) * 0.4)),
      deliveryConfiguredPerSecond: 20,
      eventLoopLagMs: t.map((s) => 10 + 40 * load(s))
    }
  }
}

const EXPECTED_CHARTS = ['load', 'retry-storm', 'status', 'latency-schedule', 'latency-registration', 'latency-appointment-request', 'vendor', 'deliveries', 'event-loop-lag']

// Deep copy with one change, for the bad-input cases.
function changed (edit: (s: Record<string, any>) => void): unknown {
  const copy = structuredClone(syntheticSummary()) as Record<string, any>
  edit(copy)
  return copy
}

function chartIds (html: string): string[] {
  return [...html.matchAll(/data-chart="([^"]+)"/g)].map((m) => m[1] as string)
}

describe('validateSummary', () => {
  it('accepts a realistic summary and returns it unchanged in substance', () => {
    const summary = syntheticSummary()
    expect(validateSummary(summary)).toEqual(summary)
  })

  it('refuses bad summaries with exact messages', () => {
    const cases: Array<[unknown, string]> = [
      [null, 'summary must be an object'],
      [changed((s) => { s.series.arrivals.pop() }), 'summary.series.arrivals must have one value per second (60), got 59'],
      [changed((s) => { s.series.status['503'].push(1) }), 'summary.series.status["503"] must have one value per second (60), got 61'],
      [changed((s) => { s.series.latency.registration.p99[7] = -1 }), 'summary.series.latency["registration"].p99[7] must be a non-negative number or null'],
      [changed((s) => { s.series.throughput[3] = 'many' }), 'summary.series.throughput[3] must be a non-negative number'],
      [changed((s) => { s.series.t[5] = 6 }), 'summary.series.t must count seconds up by 1: t[5] is 6, expected 5'],
      [changed((s) => { s.durationSeconds = 59.5 }), 'summary.durationSeconds must be a positive integer (whole seconds, one per series point)'],
      [changed((s) => { s.client = 'rude' }), 'summary.client must be naive or polite'],
      [changed((s) => { s.verdict = 'pass' }), 'summary.verdict must be PASS or FAIL'],
      [changed((s) => { s.profile = '' }), 'summary.profile must be a non-empty string'],
      [changed((s) => { s.scale = 0 }), 'summary.scale must be a positive number'],
      [changed((s) => { s.startedAt = '9 January' }), 'summary.startedAt must be an ISO 8601 date-time with a zone, e.g. 2026-01-09T08:59:30.000Z'],
      [changed((s) => { delete s.totals.lost }), 'summary.totals.lost must be a non-negative number'],
      [changed((s) => { s.totals.dropped = 0 }), 'summary.totals.dropped is not a known field'],
      [changed((s) => { s.gateway.rssMaxMb = 'big' }), 'summary.gateway.rssMaxMb must be a non-negative number or null'],
      [changed((s) => { s.slos[1].pass = 'yes' }), 'summary.slos[1].pass must be true or false'],
      [changed((s) => { s.series.status = {} }), 'summary.series.status must have at least one status class'],
      [changed((s) => { s.series.vendorCallsPerSecond = [1, 2] }), 'summary.series.vendorCallsPerSecond must have one value per second (60), got 2'],
      [changed((s) => { s.series.vendorContractPerSecond = -1 }), 'summary.series.vendorContractPerSecond must be a non-negative number or null']
    ]
    for (const [input, message] of cases) {
      expect(() => validateSummary(input), message).toThrow(new SummaryError(message))
    }
  })

  it('reads absent or empty optional series as null and allows a null latency (a second without answers)', () => {
    const summary = validateSummary(changed((s) => {
      delete s.series.eventLoopLagMs
      s.series.deliveriesPerSecond = []
      s.series.latency.schedule.p99[4] = null
    }))
    expect(summary.series.eventLoopLagMs).toBe(null)
    expect(summary.series.deliveriesPerSecond).toBe(null)
    expect(summary.series.latency.schedule?.p99[4]).toBe(null)
  })
})

describe('renderReport', () => {
  it('is one HTML document with a strict CSP, no script, no event handler and nothing from the network', () => {
    const html = renderReport(syntheticSummary())
    expect(html.startsWith('<!doctype html>\n')).toBe(true)
    expect(html).toContain(`<meta http-equiv="Content-Security-Policy" content="${REPORT_CSP}">`)
    expect(REPORT_CSP).toBe("default-src 'none'; style-src 'unsafe-inline'; img-src data:")
    expect(html.replace(/"[^"]*"/g, '""')).not.toMatch(/<script|<[^>]*\son[a-z]+=|<link|@import|url\(|src=|href=/i)
    // The only URLs are the SVG namespace and the target the summary names.
    expect([...html.matchAll(/https?:\/\/[^\s"<]+/g)].map((m) => m[0]).filter((u) => u !== 'http://www.w3.org/2000/svg')).toEqual(['http://127.0.0.1:8080'])
    expect(chartIds(html)).toEqual(EXPECTED_CHARTS)
    // Status classes in reading order, not JavaScript's integer-keys-first order.
    const status = html.split('data-chart="status"')[1]?.split('</svg>')[0] ?? ''
    expect([...status.matchAll(/data-series="([^"]+)"/g)].map((m) => m[1])).toEqual(['2xx', '429', '503', '5xx', 'other'])
  })

  it('escapes every string from the summary', () => {
    const html = renderReport(validateSummary(changed((s) => {
      s.profile = '<script>alert(1)</script>'
      s.target = 'http://127.0.0.1/"><img src=x onerror=alert(2)>'
      s.machine = 'a & b'
      s.slos[0].name = '<b>bold</b>'
      s.slos[0].value = "it's"
      s.series.latency['<tx onload="x">'] = s.series.latency.schedule
      s.series.status['<5xx>'] = s.series.status['5xx']
    })))
    expect(html).not.toContain('<script')
    expect(html).not.toContain('<img')
    expect(html).not.toContain('<b>')
    // The handlers are there as text only, never inside a tag.
    expect(html).toContain('onerror=alert(2)')
    // No tag has an on* attribute once the (escaped) attribute values are set aside.
    expect(html.replace(/"[^"]*"/g, '""')).not.toMatch(/<[^>]*\son[a-z]+=/i)
    expect(html).toContain('<span id="profile">&lt;script&gt;alert(1)&lt;/script&gt;</span>')
    expect(html).toContain('target http://127.0.0.1/&quot;&gt;&lt;img src=x onerror=alert(2)&gt;')
    expect(html).toContain('a &amp; b')
    expect(html).toContain('<td>&lt;b&gt;bold&lt;/b&gt;</td>')
    expect(html).toContain('<td>it&#39;s</td>')
    expect(html).toContain('<figcaption>Latency: &lt;tx onload=&quot;x&quot;&gt;</figcaption>')
    expect(html).toContain('data-chart="latency-tx-onload-x"')
    expect(html).toContain('data-series="&lt;5xx&gt;"')
  })

  it('leaves out the charts of series that were not measured, and says so for the gateway figures', () => {
    const html = renderReport(validateSummary(changed((s) => {
      s.series.vendorCallsPerSecond = null
      s.series.deliveriesPerSecond = []
      delete s.series.eventLoopLagMs
      s.series.requests = null
      delete s.series.retries
      s.gateway = { cpuMicrosPerRequest: null, rssMaxMb: null }
      delete s.generator
    })))
    expect(chartIds(html)).toEqual(['load', 'status', 'latency-schedule', 'latency-registration', 'latency-appointment-request'])
    expect(html).toContain('<dt>gateway CPU / request</dt><dd>not measured</dd>')
    expect(html).toContain('<dt>gateway RSS max</dt><dd>not measured</dd>')
    expect(html).toContain('<dt>generator CPU / request</dt><dd>not measured</dd>')
  })

  it('draws the retry storm: requests and retries against arrivals, and counts bare refusals', () => {
    const html = renderReport(validateSummary(changed((s) => { s.totals.refusalsWithoutRetryAfter = 3 })))
    const storm = html.split('data-chart="retry-storm"')[1]?.split('</svg>')[0] as string
    expect([...storm.matchAll(/data-series="([^"]+)" data-points="(\d+)"/g)].map((m) => [m[1], m[2]])).toEqual([['arrivals', '60'], ['requests', '60'], ['retries', '60']])
    expect(html).toContain('<dt>refusals without Retry-After</dt><dd>3</dd>')
    expect(html).toContain('<dt>generator CPU / request</dt><dd>301 µs</dd>')
  })

  it('draws the contract and configured rates as dashed reference lines, and a null as a gap', () => {
    const html = renderReport(validateSummary(changed((s) => { s.series.latency.schedule.p99[30] = null })))
    expect(html).toMatch(/<line class="reference" data-reference="contract" [^>]*stroke-dasharray="6 4"\/>/)
    expect(html).toMatch(/<line class="reference" data-reference="configured rate" [^>]*stroke-dasharray="6 4"\/>/)
    const p99 = html.split('data-chart="latency-schedule"')[1]?.match(/data-series="p99" data-points="(\d+)" d="([^"]+)"/)
    expect(p99?.[1]).toBe('59')
    expect(p99?.[2]?.match(/M/g)).toHaveLength(2)
  })

  it('shows the verdict in its colour and notes a load generator that fell behind', () => {
    const pass = renderReport(syntheticSummary())
    expect(pass).toContain('<span id="verdict" class="verdict pass" data-verdict="PASS">PASS</span>')
    expect(pass).not.toContain('behind-schedule')
    const fail = renderReport(validateSummary(changed((s) => { s.verdict = 'FAIL'; s.totals.behindScheduleMs = 1250 })))
    expect(fail).toContain('<span id="verdict" class="verdict fail" data-verdict="FAIL">FAIL</span>')
    expect(fail).toContain('<p id="behind-schedule" class="note">The load generator fell behind its arrival schedule by up to 1,250 ms')
  })

  it('refuses an invalid summary rather than drawing it', () => {
    expect(() => renderReport(changed((s) => { s.series.arrivals.pop() }) as RehearsalSummary)).toThrow('summary.series.arrivals must have one value per second (60), got 59')
  })
})

describe('the report in headless Chromium', () => {
  let browser: Browser
  const dir = mkdtempSync(join(tmpdir(), 'rehearsal-report-'))

  beforeAll(async () => {
    browser = await launchChromium()
  })
  afterAll(async () => {
    await browser?.close()
    rmSync(dir, { recursive: true, force: true })
  })

  it('opens from disk and shows every chart with all its points, the verdict and the totals', async () => {
    const summary = syntheticSummary()
    const out = join(dir, 'run-1')
    const { summaryFile, reportFile } = await writeReport(out, summary)
    expect(summaryFile).toBe(join(out, 'summary.json'))
    expect(reportFile).toBe(join(out, 'report.html'))
    expect(JSON.parse(readFileSync(summaryFile, 'utf8'))).toEqual(summary)

    const page = await browser.newPage({ viewport: { width: 1000, height: 800 } })
    const requested: string[] = []
    const violations: string[] = []
    page.on('request', (request) => { requested.push(request.url()) })
    page.on('console', (message) => { if (message.type() === 'error') violations.push(message.text()) })
    await page.goto(pathToFileURL(reportFile).href)

    // Read through the DOM (selectors and attributes): the page's CSP forbids evaluating strings.
    expect(await page.title()).toBe('Rehearsal surge-9am · PASS')
    expect(await page.textContent('#verdict')).toBe('PASS')
    expect(await page.getAttribute('#verdict', 'class')).toBe('verdict pass')
    expect(await page.isVisible('#verdict')).toBe(true)
    expect(await page.textContent('#profile')).toBe('surge-9am')
    expect(await page.locator('#slos tbody tr').count()).toBe(2)
    expect(await page.locator('svg[data-chart]').count()).toBe(EXPECTED_CHARTS.length)

    const seriesPerChart: Record<string, number> = { load: 2, status: 5, vendor: 1, deliveries: 1, 'event-loop-lag': 1 }
    for (const id of EXPECTED_CHARTS) {
      const svg = page.locator(`svg[data-chart="${id}"]`)
      await svg.scrollIntoViewIfNeeded()
      expect(await svg.isVisible(), id).toBe(true)
      const box = await svg.boundingBox()
      expect(box?.width, id).toBeGreaterThan(400)
      expect(box?.height, id).toBeGreaterThan(100)
      expect(await svg.getAttribute('data-points'), id).toBe(String(SECONDS))
      const paths = svg.locator('path.series')
      expect(await paths.count(), id).toBe(seriesPerChart[id] ?? 3)
      for (const path of await paths.all()) {
        const name = `${id} ${await path.getAttribute('data-series') ?? ''}`
        // One M and then an L per further second: a point for every second.
        expect((await path.getAttribute('d'))?.match(/[ML]-?\d/g), name).toHaveLength(SECONDS)
        expect(await path.getAttribute('data-points'), name).toBe(String(SECONDS))
        // A flat line has no height, which Playwright counts as hidden: the all-zero classes.
        if (name !== 'status 5xx' && name !== 'status other') expect(await path.isVisible(), name).toBe(true)
      }
    }
    expect(await page.locator('svg[data-chart="vendor"] line.reference[data-reference="contract"]').count()).toBe(1)
    expect(await page.locator('svg[data-chart="deliveries"] line.reference[data-reference="configured rate"]').count()).toBe(1)
    expect(await page.locator('svg[data-chart="latency-registration"] path[data-series="p99"]').isVisible()).toBe(true)

    const screenshot = join(dir, 'report.png')
    await page.screenshot({ path: screenshot, fullPage: true })
    const png = readFileSync(screenshot)
    expect(png.subarray(0, 8)).toEqual(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]))
    expect(png.length).toBeGreaterThan(10_000)

    // Self-contained: the page asked for nothing but itself, and nothing broke the CSP.
    expect(requested).toEqual([pathToFileURL(reportFile).href])
    expect(violations).toEqual([])
    await page.close()
  }, 20_000)
})
