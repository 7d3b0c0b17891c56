// The Prometheus rules (grafana/prometheus/alerts.yml): promtool checks them and runs their unit
// tests (alerts.test.yml), and every metric and label they and their tests name is one a real
// gateway exports, so renaming a metric or a label fails here rather than leaving an alert that
// can never fire.
import { spawnSync } from 'node:child_process'
import type { FastifyInstance } from 'fastify'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { buildApp, testConfig } from '../helpers/app.js'
import { PROMETHEUS_DIR, SCRAPE_SERIES, exportedLabels, exportedNames, labelUses, metricNames, ruleGroups, rules, ruleTests, unknownLabels, type MetricDefinition } from './promql.js'

function promtool (...args: string[]): { status: number | null, output: string } {
  const run = spawnSync('promtool', args, { cwd: PROMETHEUS_DIR, encoding: 'utf8', timeout: 120_000 })
  if (run.error !== undefined) throw new Error(`promtool could not run (${run.error.message}): install the Debian package prometheus (npm test installs it as root)`)
  return { status: run.status, output: `${run.stdout}${run.stderr}` }
}

// A room, so the waiting room's metrics are registered too.
const ROOMS = JSON.stringify([{ name: 'requests', routes: ['POST /v1/appointment-requests'], openings: ['request-window'], preOpenMinutes: 10, activeMinutes: 60, admitPerSecond: 10, maxActive: 100 }])

describe('Prometheus rules', () => {
  let gateway: FastifyInstance
  let exported: Set<string>
  let labels: Map<string, Set<string>>
  beforeAll(async () => {
    gateway = await buildApp({ config: testConfig({ GATEWAY_WAITING_ROOMS: ROOMS }) })
    const text = (await gateway.inject({ url: '/metrics' })).body
    exported = new Set([...exportedNames(text), ...SCRAPE_SERIES.keys()])
    labels = exportedLabels(text, gateway.metrics.getMetricsAsArray() as unknown as MetricDefinition[])
  })
  afterAll(async () => { await gateway.close() })

  it('are valid, and so is the scrape configuration that loads them', () => {
    const rulesCheck = promtool('check', 'rules', 'alerts.yml')
    expect(rulesCheck.output).toContain(`SUCCESS: ${rules().length} rules found`)
    expect(rulesCheck.status).toBe(0)
    const configCheck = promtool('check', 'config', 'prometheus.yml')
    expect(configCheck.output).toContain('is valid prometheus config file syntax')
    expect(configCheck.status).toBe(0)
  })

  it('pass their unit tests (promtool test rules alerts.test.yml)', { timeout: 120_000 }, () => {
    const run = promtool('test', 'rules', 'alerts.test.yml')
    expect(run.output).toContain('SUCCESS')
    expect(run.output).not.toContain('FAILED')
    expect(run.status).toBe(0)
  })

  it('test every alert firing, with its labels and annotations, and staying quiet', () => {
    const cases = ruleTests().tests.flatMap((t) => t.alert_rule_test ?? [])
    const alerts = rules().filter((r) => r.alert !== undefined)
    expect(alerts.map((a) => a.alert)).toEqual([
      'GatewayAvailabilityBurnRatePage', 'GatewayAvailabilityBurnRateTicket', 'GatewayLatencyBurnRatePage', 'GatewayLatencyBurnRateTicket',
      'GatewayTargetDown', 'GatewayAllTargetsAbsent', 'GatewayVendorBudgetExhausted', 'GatewayVendorBudgetDepletingSoon',
      'GatewayOutboxLagHigh', 'GatewayDeadLetters', 'GatewayRedisFallbackActive', 'GatewayShedding', 'GatewayEventLoopLagHigh'
    ])
    for (const alert of alerts) {
      const mine = cases.filter((c) => c.alertname === alert.alert)
      expect(mine.filter((c) => c.exp_alerts.length === 0).length, `${alert.alert} quiet`).toBeGreaterThan(0)
      const firing = mine.flatMap((c) => c.exp_alerts)
      expect(firing.length, `${alert.alert} firing`).toBeGreaterThan(0)
      for (const expected of firing) {
        expect(Object.keys(expected.exp_annotations).sort(), alert.alert).toEqual(['description', 'runbook_url', 'summary'])
        expect(expected.exp_labels.severity).toBe(alert.labels?.severity)
      }
    }
  })

  it('give every alert a severity, a summary, a description and a runbook in the README', () => {
    for (const alert of rules().filter((r) => r.alert !== undefined)) {
      expect(['page', 'ticket'], alert.alert).toContain(alert.labels?.severity)
      expect(Object.keys(alert.annotations ?? {}).sort(), alert.alert).toEqual(['description', 'runbook_url', 'summary'])
      expect(alert.annotations?.runbook_url).toBe(`README.md#${(alert.alert as string).toLowerCase()}`)
    }
  })

  it('name only metrics the gateway exports, or rules recorded beside them', () => {
    const recorded = new Set(rules().flatMap((r) => r.record === undefined ? [] : [r.record]))
    const unknown = rules().flatMap((r) => metricNames(r.expr).filter((n) => !exported.has(n) && !recorded.has(n)).map((n) => `${r.record ?? r.alert as string}: ${n}`))
    expect(unknown).toEqual([])
    // Recording rules are named level:metric:operations (Prometheus's naming practice).
    for (const name of recorded) expect(name).toMatch(/^gateway:[a-z_]+:[a-z_0-9]+$/)
  })

  it('use only labels those metrics carry, in selectors and in by and without lists', () => {
    const recorded = new Set(rules().flatMap((r) => r.record === undefined ? [] : [r.record]))
    const unknown = rules().flatMap((r) => unknownLabels(r.expr, labels, recorded).map((u) => `${r.record ?? r.alert as string}: ${u}`))
    expect(unknown).toEqual([])
    // And the lint is not vacuous: it reads the labels in, and knows a counter not yet counted.
    expect(rules().flatMap((r) => labelUses(r.expr)).length).toBeGreaterThan(100)
    expect([...labels.get('gateway_http_deliberate_refusals_total') ?? []].sort()).toEqual(['instance', 'job', 'method', 'route'])
    expect(unknownLabels('sum by (instance, status) (rate(http_request_duration_seconds_count{job="gateway",path="/v1/schedule"}[5m]))', labels, recorded)).toEqual([
      'path on http_request_duration_seconds_count (http_request_duration_seconds_count{job="gateway",path="/v1/schedule"})',
      'status on http_request_duration_seconds_count (by (instance, status))'
    ])
  })

  it('are unit-tested on series the gateway really exports, with its labels', () => {
    const series = ruleTests().tests.flatMap((t) => t.input_series.map((s) => s.series))
    const names = series.map((s) => /^[a-zA-Z_:][a-zA-Z0-9_:]*/.exec(s)?.[0] ?? s)
    expect(names.length).toBeGreaterThan(0)
    expect([...new Set(names)].filter((n) => !exported.has(n))).toEqual([])
    expect(series.flatMap((s) => unknownLabels(s, labels, new Set()))).toEqual([])
  })

  it('evaluate the 1-day and 3-day windows every minute and the 30-day ones every 5 minutes', () => {
    const groups = ruleGroups().map((g) => ({ name: g.name, interval: g.interval, windows: [...new Set(g.rules.flatMap((r) => r.record === undefined ? [] : [/rate(\w+)$/.exec(r.record)?.[1]]))] }))
    expect(groups).toEqual([
      { name: 'gateway-slo-recording', interval: undefined, windows: ['5m', '30m', '1h', '2h', '6h'] },
      { name: 'gateway-slo-recording-long', interval: '1m', windows: ['1d', '3d'] },
      { name: 'gateway-slo-recording-30d', interval: '5m', windows: ['30d'] },
      { name: 'gateway-slo-alerts', interval: undefined, windows: [] },
      { name: 'gateway-operations', interval: undefined, windows: [] }
    ])
  })

  it('match the 1 s bucket as le="1" and as Prometheus 3 writes it, le="1.0"', () => {
    const le = rules().flatMap((r) => [...r.expr.matchAll(/\ble\s*(=~|!~|!=|=)\s*"((?:[^"\\]|\\.)*)"/g)].map((m) => `${m[1] as string}"${m[2] as string}"`))
    expect(le.length).toBeGreaterThan(0)
    expect([...new Set(le)]).toEqual(['=~"1|1\\\\.0"'])
  })

  it('reads metric names out of PromQL, leaving out functions, labels, keywords and numbers', () => {
    expect(metricNames('histogram_quantile(0.99, sum by (le, route) (rate(http_request_duration_seconds_bucket{job=~"gateway",route=~"/v1/.*"}[5m]))) > 1e-3')).toEqual(['http_request_duration_seconds_bucket'])
    expect(metricNames('(sum(rate(a_total{x="y"}[1h])) or vector(0)) / on (instance) group_left b:c:rate5m and bool 2')).toEqual(['a_total', 'b:c:rate5m'])
    expect(metricNames('min(gateway_vendor_budget_depletion_timestamp_seconds) - time() < 7 * 86400')).toEqual(['gateway_vendor_budget_depletion_timestamp_seconds'])
  })

  it('reads label names out of PromQL: selectors on their metric, by and without on what they aggregate', () => {
    expect(labelUses('sum by (le, route) (rate(a_bucket{job="g",route=~"/v1/.*"}[5m])) / ignoring (le) sum(b_total{x!="1,2"}) without (y)')).toEqual([
      { label: 'job', metrics: ['a_bucket'], where: 'a_bucket{job="g",route=~"/v1/.*"}' },
      { label: 'route', metrics: ['a_bucket'], where: 'a_bucket{job="g",route=~"/v1/.*"}' },
      { label: 'x', metrics: ['b_total'], where: 'b_total{x!="1,2"}' },
      { label: 'le', metrics: ['a_bucket'], where: 'by (le, route)' },
      { label: 'route', metrics: ['a_bucket'], where: 'by (le, route)' },
      { label: 'y', metrics: ['b_total'], where: 'without (y)' }
    ])
    expect(labelUses('label_values(c_total{job=~"$job"}, poe)')).toEqual([
      { label: 'job', metrics: ['c_total'], where: 'c_total{job=~"$job"}' },
      { label: 'poe', metrics: ['c_total'], where: 'label_values(c_total{job=~"$job"}, poe)' }
    ])
  })
})
