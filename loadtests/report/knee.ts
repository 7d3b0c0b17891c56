// The knee search's page: one row per step, linking each step's own rehearsal report, and the
// knee itself. Self-contained like the rehearsal report (no script, no network).
import { escapeHtml, reportPage } from './html.js'

export interface KneeStep {
  arrivalsPerSecond: number
  txPerSecond: number
  txPerHour: number
  p99Ms: number
  errors5xx: number
  lost: number
  gatewayCpuMicrosPerRequest: number | null
  generatorCpuMicrosPerRequest: number | null
  /** The generator fell behind its schedule by more than 100 ms in this step. */
  generatorBehind: boolean
  /** The SLOs the step broke, each with its value and threshold. */
  failed: string[]
  verdict: 'PASS' | 'FAIL'
  /** The step's report.html, relative to the knee page. */
  report: string
}

export interface KneeSummary {
  profile: string
  client: 'naive' | 'polite'
  stepSeconds: number
  startedAt: string
  machine: string
  target: string
  steps: KneeStep[]
  /** The highest passing step below the lowest failing one. */
  knee: KneeStep | null
  firstFailing: KneeStep | null
  /** Who set the knee: the gateway, or the load generator (behind schedule in the failing step). */
  limitedBy: 'gateway' | 'generator' | 'not-found'
}

const STYLE = `
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #1d1d1d; margin: 0 auto; padding: 24px; max-width: 1080px; }
h1 { font-size: 22px; margin: 0 0 4px; } .meta { color: #555; margin: 0 0 16px; }
.knee { font-size: 18px; font-weight: 700; } .note { background: #fff3e0; border-left: 4px solid #ef6c00; padding: 8px 12px; }
table { border-collapse: collapse; width: 100%; } th, td { text-align: left; padding: 4px 8px; border-bottom: 1px solid #e3e3e3; }
td.pass { color: #2e7d32; font-weight: 600; } td.fail { color: #c62828; font-weight: 600; }
`

const n = (x: number | null): string => x === null ? 'n/a' : x.toLocaleString('en-US', { maximumFractionDigits: 1 })

/** The knee page as a complete HTML document. */
export function renderKnee (s: KneeSummary): string {
  const rows = s.steps.map((step, i) => `<tr data-step="${i + 1}" data-verdict="${step.verdict}"><td>${i + 1}</td><td>${n(step.arrivalsPerSecond)}</td><td>${n(step.txPerSecond)}</td><td>${(step.txPerHour / 480_000).toFixed(2)}</td><td>${n(step.p99Ms)}</td><td>${step.errors5xx}</td><td>${step.lost}</td><td>${n(step.gatewayCpuMicrosPerRequest)}</td><td>${n(step.generatorCpuMicrosPerRequest)}${step.generatorBehind ? ' (behind schedule)' : ''}</td><td class="${step.verdict === 'PASS' ? 'pass' : 'fail'}">${step.verdict}</td><td>${escapeHtml(step.failed.join('; ') || '-')}</td><td><a href="${escapeHtml(step.report)}">report</a></td></tr>`)
  let headline: string
  if (s.knee === null) headline = '<p id="knee" class="knee" data-found="false">No step passed: the knee is below the first rate tried.</p>'
  else if (s.firstFailing === null) headline = `<p id="knee" class="knee" data-found="false">No step failed: the knee is above ${n(s.knee.txPerSecond)} transactions/s (${(s.knee.txPerHour / 480_000).toFixed(2)} x 480k/h).</p>`
  else headline = `<p id="knee" class="knee" data-found="true" data-tx-per-s="${s.knee.txPerSecond}">Knee: ${n(s.knee.txPerSecond)} transactions/s, ${n(s.knee.txPerHour)} an hour, ${(s.knee.txPerHour / 480_000).toFixed(2)} x 480k/h, ${n(s.knee.gatewayCpuMicrosPerRequest)} µs of gateway CPU a request</p>`
  const note = s.limitedBy === 'generator'
    ? '<p class="note">In the failing step the load generator fell behind its schedule by more than 100 ms: on this machine the generator, not necessarily the gateway, set the knee. The gateway CPU per request is the figure that stays fair.</p>'
    : ''
  return reportPage(`Capacity knee ${s.profile}`, STYLE, `<h1>Capacity knee: ${escapeHtml(s.profile)}</h1>
<p class="meta">${s.client} clients · ${s.stepSeconds} s a step · started ${escapeHtml(s.startedAt)} · target ${escapeHtml(s.target)} · ${escapeHtml(s.machine)}</p>
${headline}
${note}
<table id="steps"><thead><tr><th>step</th><th>arrivals/s</th><th>tx/s</th><th>x 480k</th><th>p99 ms</th><th>5xx</th><th>lost</th><th>gateway µs CPU/req</th><th>generator µs CPU/req</th><th>verdict</th><th>failed objectives</th><th></th></tr></thead>
<tbody>
${rows.join('\n')}
</tbody></table>`)
}
