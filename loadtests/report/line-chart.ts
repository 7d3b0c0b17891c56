// A small line chart drawn as inline SVG on the server, so the report needs no script and no
// chart library (its CSP allows none): axes with ticks, a legend, one path per line (a gap where a
// value is null) and dashed horizontal reference lines for contracted or configured rates.
import { escapeHtml } from './html.js'

export interface ChartLine {
  name: string
  /** One value per entry of the chart's `t`; null leaves a gap. */
  values: ReadonlyArray<number | null>
  color: string
}

export interface ChartReference {
  name: string
  value: number
  color: string
}

export interface LineChartOptions {
  /** Goes to data-chart: how tests and readers find the chart. */
  id: string
  title: string
  /** Of the y axis, e.g. "req/s" or "ms". */
  unit: string
  /** Seconds since start, ascending. */
  t: readonly number[]
  lines: readonly ChartLine[]
  references?: readonly ChartReference[]
}

const WIDTH = 880
const HEIGHT = 280
const MARGIN = { left: 64, right: 20, top: 40, bottom: 40 }
const X_STEPS = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400]

// 1, 2, 2.5 or 5 times a power of ten, at least `raw`.
function niceStep (raw: number): number {
  const power = 10 ** Math.floor(Math.log10(raw))
  for (const m of [1, 2, 2.5, 5, 10]) if (m * power >= raw) return m * power
  return 10 * power
}

function clock (seconds: number): string {
  const s = Math.round(seconds)
  const pad = (n: number): string => String(n).padStart(2, '0')
  if (s >= 3600) return `${Math.floor(s / 3600)}:${pad(Math.floor(s / 60) % 60)}:${pad(s % 60)}`
  return `${Math.floor(s / 60)}:${pad(s % 60)}`
}

function tickLabel (value: number, step: number): string {
  // As many decimals as the step has (2.5 -> 1, 0.25 -> 2), after float noise is rounded away.
  const decimals = (String(Number(step.toPrecision(6))).split('.')[1] ?? '').length
  return value.toLocaleString('en-US', { maximumFractionDigits: decimals })
}

const r1 = (n: number): string => String(Math.round(n * 10) / 10)

/** The chart as an `<svg>` element with data-chart and data-points (the number of seconds). */
export function lineChart (options: LineChartOptions): string {
  const { t, lines } = options
  const references = options.references ?? []
  const plotW = WIDTH - MARGIN.left - MARGIN.right
  const plotH = HEIGHT - MARGIN.top - MARGIN.bottom
  const t0 = t[0] ?? 0
  const span = Math.max(1, (t.at(-1) ?? t0) - t0)
  let max = 0
  for (const line of lines) for (const v of line.values) if (v !== null && v > max) max = v
  for (const ref of references) if (ref.value > max) max = ref.value
  const yStep = niceStep(max > 0 ? max / 5 : 0.2)
  const yMax = Math.max(yStep, Math.ceil(max / yStep - 1e-9) * yStep)
  const x = (sec: number): number => MARGIN.left + ((sec - t0) / span) * plotW
  const y = (v: number): number => MARGIN.top + plotH - (v / yMax) * plotH
  const out: string[] = []

  out.push(`<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 ${WIDTH} ${HEIGHT}" width="${WIDTH}" height="${HEIGHT}" role="img" aria-label="${escapeHtml(options.title)}" data-chart="${escapeHtml(options.id)}" data-points="${t.length}">`)
  out.push(`<title>${escapeHtml(options.title)}</title>`)

  // Grid and y ticks.
  out.push('<g class="axis y">')
  for (let i = 0; i <= Math.round(yMax / yStep); i++) {
    const v = i * yStep
    const yy = r1(y(v))
    out.push(`<line x1="${MARGIN.left}" x2="${WIDTH - MARGIN.right}" y1="${yy}" y2="${yy}" stroke="#e3e3e3"/>`)
    out.push(`<text x="${MARGIN.left - 6}" y="${yy}" text-anchor="end" dominant-baseline="middle">${tickLabel(v, yStep)}</text>`)
  }
  out.push(`<text x="14" y="${MARGIN.top + plotH / 2}" text-anchor="middle" transform="rotate(-90 14 ${MARGIN.top + plotH / 2})">${escapeHtml(options.unit)}</text>`)
  out.push('</g>')

  // X ticks: the smallest round step that gives at most ten.
  const xStep = X_STEPS.find((s) => span / s <= 10) ?? niceStep(span / 10)
  out.push('<g class="axis x">')
  for (let sec = Math.ceil(t0 / xStep) * xStep; sec <= t0 + span + 1e-9; sec += xStep) {
    const xx = r1(x(sec))
    out.push(`<line x1="${xx}" x2="${xx}" y1="${MARGIN.top + plotH}" y2="${MARGIN.top + plotH + 5}" stroke="#555"/>`)
    out.push(`<text x="${xx}" y="${MARGIN.top + plotH + 18}" text-anchor="middle">${clock(sec)}</text>`)
  }
  out.push(`<line x1="${MARGIN.left}" x2="${WIDTH - MARGIN.right}" y1="${MARGIN.top + plotH}" y2="${MARGIN.top + plotH}" stroke="#555"/>`)
  out.push(`<line x1="${MARGIN.left}" x2="${MARGIN.left}" y1="${MARGIN.top}" y2="${MARGIN.top + plotH}" stroke="#555"/>`)
  out.push(`<text x="${WIDTH - MARGIN.right}" y="${HEIGHT - 4}" text-anchor="end">time since start (m:ss)</text>`)
  out.push('</g>')

  for (const ref of references) {
    const yy = r1(y(ref.value))
    out.push(`<line class="reference" data-reference="${escapeHtml(ref.name)}" x1="${MARGIN.left}" x2="${WIDTH - MARGIN.right}" y1="${yy}" y2="${yy}" stroke="${escapeHtml(ref.color)}" stroke-width="1.5" stroke-dasharray="6 4"/>`)
  }

  for (const line of lines) {
    const d: string[] = []
    let points = 0
    let pen = 'M'
    line.values.forEach((v, i) => {
      if (v === null) {
        pen = 'M'
        return
      }
      d.push(`${pen}${r1(x(t[i] as number))},${r1(y(v))}`)
      pen = 'L'
      points++
    })
    out.push(`<path class="series" data-series="${escapeHtml(line.name)}" data-points="${points}" d="${d.join('')}" fill="none" stroke="${escapeHtml(line.color)}" stroke-width="1.5" stroke-linejoin="round"/>`)
  }

  // Legend along the top: a swatch and a name per line, dashed for references.
  let lx = MARGIN.left
  out.push('<g class="legend">')
  for (const item of [...lines.map((l) => ({ ...l, dashed: false })), ...references.map((r) => ({ name: `${r.name} (${r.value.toLocaleString('en-US', { maximumFractionDigits: 2 })} ${options.unit})`, color: r.color, dashed: true }))]) {
    out.push(`<line x1="${lx}" x2="${lx + 18}" y1="16" y2="16" stroke="${escapeHtml(item.color)}" stroke-width="2.5"${item.dashed ? ' stroke-dasharray="6 4"' : ''}/>`)
    out.push(`<text x="${lx + 23}" y="16" dominant-baseline="middle">${escapeHtml(item.name)}</text>`)
    lx += 23 + 7.2 * item.name.length + 18
  }
  out.push('</g>')
  out.push('</svg>')
  return out.join('')
}
