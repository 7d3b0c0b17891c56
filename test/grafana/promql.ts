// What the Grafana and Prometheus tests share: the dashboards and rules as files, the metric names
// a PromQL expression uses, and the names a real gateway's /metrics exports.
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

export interface Rule { record?: string, alert?: string, expr: string, for?: string, labels?: Record<string, string>, annotations?: Record<string, string> }

export function rules (): Rule[] {
  const file = parse(readFileSync(`${PROMETHEUS_DIR}alerts.yml`, 'utf8')) as { groups: Array<{ name: string, rules: Rule[] }> }
  return file.groups.flatMap((g) => g.rules)
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
