// What the Grafana and Prometheus tests share: the dashboards and rules as files, the metric and
// label names a PromQL expression uses, and the names and labels a real gateway's /metrics exports.
import { readdirSync, readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { parse } from 'yaml'

export const GRAFANA_DIR = fileURLToPath(new URL('../../grafana/', import.meta.url))
export const PROMETHEUS_DIR = `${GRAFANA_DIR}prometheus/`
export const DASHBOARDS_DIR = `${GRAFANA_DIR}dashboards/`

export interface Target { refId: string, expr: string }
export interface Panel { id: number, type: string, title: string, targets?: Target[], gridPos: { x: number, y: number, w: number, h: number } }
export interface Variable { name: string, type: string, query?: string | { query: string }, definition?: string, allValue?: string }
export interface Dashboard {
  uid: string
  title: string
  schemaVersion: number
  panels: Panel[]
  templating: { list: Variable[] }
}

export function dashboards (): Array<{ file: string, dashboard: Dashboard }> {
  return readdirSync(DASHBOARDS_DIR).filter((f) => f.endsWith('.json')).sort().map((file) => ({
    file,
    dashboard: JSON.parse(readFileSync(`${DASHBOARDS_DIR}${file}`, 'utf8')) as Dashboard
  }))
}

export interface RuleGroup { name: string, interval?: string, rules: Rule[] }

export function ruleGroups (): RuleGroup[] {
  return (parse(readFileSync(`${PROMETHEUS_DIR}alerts.yml`, 'utf8')) as { groups: RuleGroup[] }).groups
}

export interface Rule { record?: string, alert?: string, expr: string, for?: string, labels?: Record<string, string>, annotations?: Record<string, string> }

export function rules (): Rule[] {
  return ruleGroups().flatMap((g) => g.rules)
}

export interface RuleTests {
  rule_files: string[]
  tests: Array<{
    input_series: Array<{ series: string, values: string }>
    alert_rule_test?: Array<{ alertname: string, eval_time: string, exp_alerts: Array<{ exp_labels: Record<string, string>, exp_annotations: Record<string, string> }> }>
  }>
}

export function ruleTests (): RuleTests {
  return parse(readFileSync(`${PROMETHEUS_DIR}alerts.test.yml`, 'utf8')) as RuleTests
}

/**
 * Grafana's variables as a test fills them in: every instance, port and room; the job the test
 * Prometheus scrapes; intervals that hold a few of its 1 s scrapes.
 */
export function substitute (expr: string): string {
  return expr
    .replaceAll('$__rate_interval', '1m')
    .replaceAll('$__interval', '15s')
    .replaceAll('$__range', '5m')
    .replaceAll('$job', 'gateway')
    .replace(/\$\{?(instance|poe|room)\}?/g, '.*')
}

const KEYWORDS = new Set(['and', 'or', 'unless', 'by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'bool', 'offset', 'inf', 'nan'])

/** The metric names (and recording-rule names) a PromQL expression selects. */
export function metricNames (expr: string): string[] {
  const bare = expr
    .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'/g, '""')
    .replace(/\{[^}]*\}/g, '{}')
    .replace(/\[[^\]]*\]/g, '')
    .replace(/\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, '')
    .replace(/(?<![\w:])\d+(?:\.\d+)?(?:e[+-]?\d+)?(?![\w:])/gi, '0')
  const names = new Set<string>()
  for (const match of bare.matchAll(/[a-zA-Z_:][a-zA-Z0-9_:]*/g)) {
    const name = match[0]
    const after = bare.slice((match.index) + name.length).trimStart()
    if (after.startsWith('(')) continue
    if (KEYWORDS.has(name.toLowerCase())) continue
    names.add(name)
  }
  return [...names]
}

/**
 * Every series name a /metrics page can carry: counters and gauges by their name, histograms by
 * _bucket, _sum and _count, summaries by their name, _sum and _count.
 */
export function exportedNames (metricsText: string): Set<string> {
  const names = new Set<string>()
  for (const [, name, type] of metricsText.matchAll(/^# TYPE (\S+) (\S+)$/gm)) {
    if (type === 'histogram') for (const suffix of ['_bucket', '_sum', '_count']) names.add(`${name as string}${suffix}`)
    else if (type === 'summary') for (const suffix of ['', '_sum', '_count']) names.add(`${name as string}${suffix}`)
    else names.add(name as string)
  }
  return names
}

/** Series Prometheus writes itself for every target, whatever the target exports. */
export const SCRAPE_SERIES = new Map([['up', new Set<string>()]])

/** Labels Prometheus adds to every scraped series (the job and the target). */
const TARGET_LABELS = ['job', 'instance']

/** A metric definition as a prom-client registry holds it. */
export interface MetricDefinition { name: string, type?: string, labelNames?: readonly string[] }

/**
 * The label names of every series name, from a /metrics page (the series it has now) and from a
 * registry's definitions (labelled series that have not happened yet, such as a refusal counter
 * before the first refusal): histograms' _bucket carry le as well. Scrape series included.
 */
export function exportedLabels (metricsText: string, definitions: readonly MetricDefinition[] = []): Map<string, Set<string>> {
  const labels = new Map<string, Set<string>>([...SCRAPE_SERIES].map(([name, set]) => [name, new Set([...set, ...TARGET_LABELS])]))
  const add = (name: string, names: Iterable<string>) => {
    const set = labels.get(name) ?? new Set(TARGET_LABELS)
    for (const n of names) set.add(n)
    labels.set(name, set)
  }
  for (const name of exportedNames(metricsText)) add(name, [])
  for (const [, name, body] of metricsText.matchAll(/^([a-zA-Z_:][a-zA-Z0-9_:]*)\{([^}]*)\}/gm)) {
    add(name as string, [...(body as string).matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="/g)].map((m) => m[1] as string))
  }
  for (const d of definitions) {
    const own = d.labelNames ?? []
    if (d.type === 'histogram') {
      add(`${d.name}_bucket`, [...own, 'le'])
      add(`${d.name}_sum`, own)
      add(`${d.name}_count`, own)
    } else if (d.type === 'summary') {
      add(d.name, [...own, 'quantile'])
      add(`${d.name}_sum`, own)
      add(`${d.name}_count`, own)
    } else {
      add(d.name, own)
    }
  }
  return labels
}

/** One label name an expression uses, and the metrics that must carry it. */
export interface LabelUse { label: string, metrics: string[], where: string }

/**
 * Every label name a PromQL expression uses: in a selector (on its metric), in a by or without
 * list (on the metrics of the expression it aggregates), and, for a Grafana label_values(selector,
 * label) query, its label.
 */
export function labelUses (expr: string): LabelUse[] {
  const uses: LabelUse[] = []
  for (const m of expr.matchAll(/([a-zA-Z_:][a-zA-Z0-9_:]*)?\s*\{((?:[^}"]|"(?:[^"\\]|\\.)*")*)\}/g)) {
    const metric = m[1]
    if (metric === undefined || KEYWORDS.has(metric.toLowerCase())) continue
    for (const matcher of (m[2] as string).matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)\s*"/g)) {
      uses.push({ label: matcher[1] as string, metrics: [metric], where: m[0] })
    }
  }
  for (const m of expr.matchAll(/\b(by|without)\s*\(([^)]*)\)/g)) {
    const start = m.index
    const end = start + m[0].length
    const after = expr.slice(end).trimStart()
    const operand = after.startsWith('(') ? balanced(after, 0) : balancedBefore(expr, start)
    const metrics = metricNames(operand)
    for (const label of (m[2] as string).split(',').map((l) => l.trim()).filter((l) => l !== '')) {
      uses.push({ label, metrics, where: m[0] })
    }
  }
  const values = /^label_values\((.*),\s*(\w+)\)$/.exec(expr.trim())
  if (values !== null) uses.push({ label: values[2] as string, metrics: metricNames(values[1] as string), where: expr })
  return uses
}

/**
 * The uses of labels no metric of theirs carries, as "label on metric(s)". Rules recorded in
 * alerts.yml are left out: their labels are what their expression keeps.
 */
export function unknownLabels (expr: string, exported: Map<string, Set<string>>, recorded: Set<string>): string[] {
  return labelUses(expr).flatMap((use) => {
    const metrics = use.metrics.filter((n) => !recorded.has(n))
    if (metrics.length === 0) return []
    return metrics.some((n) => exported.get(n)?.has(use.label) === true) ? [] : [`${use.label} on ${metrics.join(', ')} (${use.where})`]
  })
}

/** The parenthesised group that opens at text[open], brackets included. */
function balanced (text: string, open: number): string {
  let depth = 0
  for (let i = open; i < text.length; i++) {
    if (text[i] === '(') depth++
    else if (text[i] === ')' && --depth === 0) return text.slice(open, i + 1)
  }
  throw new Error(`unbalanced parentheses: ${text}`)
}

/** The parenthesised group that closes just before text[before] (a postfix "sum(...) by (x)"). */
function balancedBefore (text: string, before: number): string {
  const close = text.slice(0, before).trimEnd().length - 1
  if (text[close] !== ')') throw new Error(`no aggregation before position ${before}: ${text}`)
  let depth = 0
  for (let i = close; i >= 0; i--) {
    if (text[i] === ')') depth++
    else if (text[i] === '(' && --depth === 0) return text.slice(i, close + 1)
  }
  throw new Error(`unbalanced parentheses: ${text}`)
}
