// The rehearsal report: one self-contained HTML file per run (no network, no script; charts are
// inline SVG drawn here) written beside the summary.json it was drawn from. The Node runner calls
// writeReport; the report can be opened from disk, mailed or attached to an issue as it is.
import { mkdir, writeFile } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { escapeHtml, reportPage, slug } from './html.js'
import { lineChart, type ChartLine } from './line-chart.js'
import { validateSummary, type RehearsalSummary } from './summary.js'

export { SummaryError, validateSummary } from './summary.js'
export type { LatencySeries, RehearsalSeries, RehearsalSummary, RehearsalTotals } from './summary.js'

export { REPORT_CSP } from './html.js'

const STATUS_COLORS: Record<string, string> = { '2xx': '#2e7d32', '3xx': '#0277bd', '4xx': '#f9a825', 429: '#ef6c00', 503: '#6a1b9a', '5xx': '#c62828', other: '#757575' }
const STATUS_ORDER = ['2xx', '3xx', '4xx', '429', '503', '5xx', 'other']
const PALETTE = ['#1565c0', '#00897b', '#8e24aa', '#f4511e', '#6d4c41', '#3949ab', '#c0ca33', '#d81b60']
const PERCENTILE_COLORS = { p50: '#1565c0', p95: '#ef6c00', p99: '#c62828' }

const STYLE = `
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #1d1d1d; margin: 0 auto; padding: 24px; max-width: 960px; }
h1 { font-size: 22px; margin: 0 0 4px; } h2 { font-size: 17px; margin: 28px 0 8px; }
.meta { color: #555; margin: 0 0 16px; }
.verdict { display: inline-block; font-weight: 700; font-size: 18px; padding: 4px 14px; border-radius: 4px; color: #fff; }
.verdict.pass { background: #2e7d32; } .verdict.fail { background: #c62828; }
.totals { display: grid; grid-template-columns: repeat(auto-fill, minmax(150px, 1fr)); gap: 8px; margin: 16px 0; }
.totals div { border: 1px solid #ddd; border-radius: 4px; padding: 6px 10px; }
.totals dt { color: #555; font-size: 12px; } .totals dd { margin: 0; font-size: 18px; font-variant-numeric: tabular-nums; }
.note { background: #fff3e0; border-left: 4px solid #ef6c00; padding: 8px 12px; }
table { border-collapse: collapse; width: 100%; } th, td { text-align: left; padding: 4px 8px; border-bottom: 1px solid #e3e3e3; }
td.pass { color: #2e7d32; font-weight: 600; } td.fail { color: #c62828; font-weight: 600; }
figure { margin: 12px 0 20px; } figcaption { font-weight: 600; margin-bottom: 4px; }
svg.chart { width: 100%; height: auto; max-width: 880px; display: block; font: 11px system-ui, sans-serif; fill: #333; }
svg.chart text { fill: #333; }
`

const integer = (n: number): string => Math.round(n).toLocaleString('en-US')
const decimal = (n: number, digits: number): string => n.toLocaleString('en-US', { maximumFractionDigits: digits })

function figure (caption: string, svg: string): string {
  return `<figure><figcaption>${escapeHtml(caption)}</figcaption>${svg}</figure>`
}

function headline (s: RehearsalSummary): string {
  const { totals, gateway } = s
  const cells: Array<[string, string]> = [
    ['transactions', integer(totals.tx)],
    ['transactions / hour', integer(totals.txPerHour)],
    ['requests', integer(totals.requests)],
    ['p99 latency', `${decimal(totals.p99Ms, 1)} ms`],
    ['5xx answers', integer(totals.errors5xx)],
    ['lost (no answer)', integer(totals.lost)],
    ['retries', integer(totals.retries)],
    ['429 refusals', integer(totals.refusals429)],
    ['503 shed', integer(totals.shed503)],
    ['refusals without Retry-After', integer(totals.refusalsWithoutRetryAfter)],
    ['gateway CPU / request', gateway.cpuMicrosPerRequest === null ? 'not measured' : `${decimal(gateway.cpuMicrosPerRequest, 1)} µs`],
    ['gateway RSS max', gateway.rssMaxMb === null ? 'not measured' : `${decimal(gateway.rssMaxMb, 1)} MB`],
    ['generator CPU / request', s.generator.cpuMicrosPerRequest === null ? 'not measured' : `${decimal(s.generator.cpuMicrosPerRequest, 1)} µs`]
  ]
  const verdict = s.verdict === 'PASS' ? 'pass' : 'fail'
  const parts = [
    `<h1>Rehearsal <span id="profile">${escapeHtml(s.profile)}</span></h1>`,
    `<p class="meta">scale ${escapeHtml(decimal(s.scale, 4))} · <span id="client">${s.client}</span> clients · started ${escapeHtml(s.startedAt)} · ${integer(s.durationSeconds)} s · target ${escapeHtml(s.target)} · ${escapeHtml(s.machine)}</p>`,
    `<p><span id="verdict" class="verdict ${verdict}" data-verdict="${s.verdict}">${s.verdict}</span></p>`,
    `<dl class="totals">${cells.map(([k, v]) => `<div><dt>${escapeHtml(k)}</dt><dd>${escapeHtml(v)}</dd></div>`).join('')}</dl>`
  ]
  if (totals.behindScheduleMs > 0) {
    parts.push(`<p id="behind-schedule" class="note">The load generator fell behind its arrival schedule by up to ${decimal(totals.behindScheduleMs, 1)} ms: it sent less load, or later, than the profile asks, so read the figures as a lower bound on the load.</p>`)
  }
  parts.push('<h2>Service-level objectives</h2>')
  if (s.slos.length === 0) {
    parts.push('<p>No objectives were checked.</p>')
  } else {
    parts.push('<table id="slos"><thead><tr><th>objective</th><th>threshold</th><th>value</th><th>result</th></tr></thead><tbody>')
    for (const slo of s.slos) {
      parts.push(`<tr><td>${escapeHtml(slo.name)}</td><td>${escapeHtml(slo.threshold)}</td><td>${escapeHtml(slo.value)}</td><td class="${slo.pass ? 'pass' : 'fail'}">${slo.pass ? 'pass' : 'fail'}</td></tr>`)
    }
    parts.push('</tbody></table>')
  }
  return parts.join('\n')
}

function charts (s: RehearsalSummary): string {
  const { series } = s
  const t = series.t
  const out: string[] = ['<h2>Over time</h2>']
  out.push(figure('Arrivals and throughput', lineChart({
    id: 'load',
    title: 'Arrivals and throughput per second',
    unit: 'per s',
    t,
    lines: [{ name: 'arrivals', values: series.arrivals, color: '#1565c0' }, { name: 'throughput', values: series.throughput, color: '#2e7d32' }]
  })))
  // Known classes in reading order (JavaScript lists '429' and '503' first, as integer keys).
  const rank = (name: string): number => STATUS_ORDER.includes(name) ? STATUS_ORDER.indexOf(name) : STATUS_ORDER.length
  const statusLines: ChartLine[] = Object.entries(series.status)
    .sort(([a], [b]) => rank(a) - rank(b) || (a < b ? -1 : a > b ? 1 : 0))
    .map(([name, values], i) => ({ name, values, color: STATUS_COLORS[name] ?? PALETTE[i % PALETTE.length] as string }))
  if (series.requests !== null) {
    // A client that re-asks on every error multiplies the load: requests far above arrivals.
    const lines: ChartLine[] = [{ name: 'arrivals', values: series.arrivals, color: '#1565c0' }, { name: 'requests', values: series.requests, color: '#6d4c41' }]
    if (series.retries !== null) lines.push({ name: 'retries', values: series.retries, color: '#c62828' })
    out.push(figure('Requests, arrivals and retries (the retry storm)', lineChart({ id: 'retry-storm', title: 'Requests, arrivals and retries per second', unit: 'per s', t, lines })))
  }
  out.push(figure('Answers by status', lineChart({ id: 'status', title: 'Answers per second by status', unit: 'per s', t, lines: statusLines })))
  for (const [tx, l] of Object.entries(series.latency)) {
    out.push(figure(`Latency: ${tx}`, lineChart({
      id: `latency-${slug(tx)}`,
      title: `Latency of ${tx}, ms`,
      unit: 'ms',
      t,
      lines: (['p50', 'p95', 'p99'] as const).map((p) => ({ name: p, values: l[p], color: PERCENTILE_COLORS[p] }))
    })))
  }
  if (series.vendorCallsPerSecond !== null) {
    out.push(figure('Liveness vendor calls', lineChart({
      id: 'vendor',
      title: 'Liveness vendor calls per second',
      unit: 'calls/s',
      t,
      lines: [{ name: 'vendor calls', values: series.vendorCallsPerSecond, color: '#6a1b9a' }],
      references: series.vendorContractPerSecond === null ? [] : [{ name: 'contract', value: series.vendorContractPerSecond, color: '#c62828' }]
    })))
  }
  if (series.deliveriesPerSecond !== null) {
    out.push(figure('Backend deliveries', lineChart({
      id: 'deliveries',
      title: 'Deliveries to the backend per second',
      unit: 'deliveries/s',
      t,
      lines: [{ name: 'deliveries', values: series.deliveriesPerSecond, color: '#00897b' }],
      references: series.deliveryConfiguredPerSecond === null ? [] : [{ name: 'configured rate', value: series.deliveryConfiguredPerSecond, color: '#c62828' }]
    })))
  }
  if (series.eventLoopLagMs !== null) {
    out.push(figure('Gateway event-loop lag', lineChart({
      id: 'event-loop-lag',
      title: 'Gateway event-loop lag, ms',
      unit: 'ms',
      t,
      lines: [{ name: 'event-loop lag', values: series.eventLoopLagMs, color: '#f4511e' }]
    })))
  }
  return out.join('\n')
}

/** The report as a complete HTML document: headline, SLO table and one chart per series. */
export function renderReport (summary: RehearsalSummary): string {
  const s = validateSummary(summary)
  return reportPage(`Rehearsal ${s.profile} · ${s.verdict}`, STYLE, `${headline(s)}\n${charts(s)}`)
}

/** Writes summary.json and report.html into `dir` (created if missing); returns their paths. */
export async function writeReport (dir: string, summary: RehearsalSummary): Promise<{ summaryFile: string, reportFile: string }> {
  const s = validateSummary(summary)
  const html = renderReport(s)
  const out = resolve(dir)
  await mkdir(out, { recursive: true })
  const summaryFile = join(out, 'summary.json')
  const reportFile = join(out, 'report.html')
  await writeFile(summaryFile, `${JSON.stringify(s, null, 2)}\n`)
  await writeFile(reportFile, html)
  return { summaryFile, reportFile }
}
