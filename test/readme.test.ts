// The README is for users: its quick start and configuration table must stay true.
import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { defaults } from '../config/defaults.js'
import { settings } from '../config/load.js'
import { dashboards, rules } from './grafana/promql.js'

const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8')

function defaultOf (path: string): unknown {
  return path.split('.').reduce<unknown>((node, key) => (node as Record<string, unknown>)[key], defaults)
}

describe('README', () => {
  it('starts with a quick start of exactly the two commands', () => {
    expect(readme).toMatch(/## Quick start\n\n```sh\nnpm start\nnpm test\n```\n/)
  })

  it('has a configuration row for every setting, with its key and default', () => {
    for (const setting of settings()) {
      const row = readme.split('\n').find((line) => line.startsWith(`| \`${setting.env}\` |`))
      expect(row, setting.env).toBeDefined()
      expect(row).toContain(`| \`${setting.path}\` |`)
      const value = defaultOf(setting.path)
      if (typeof value === 'string' && value !== '') expect(row).toContain(`\`${value}\``)
      if (typeof value === 'number' || typeof value === 'boolean') expect(row).toContain(`\`${String(value)}\``)
    }
  })

  it('says how to load the dashboards and rules in three steps, and lists every dashboard', () => {
    const section = readme.slice(readme.indexOf('### Dashboards and alerts'))
    expect(readme.indexOf('### Dashboards and alerts')).toBeGreaterThan(readme.indexOf('## Operations'))
    expect(section).toMatch(/\n1\. List every gateway instance[^]*\n2\. Give Grafana[^]*\n3\. Restart Grafana/)
    // Debian's package runs prometheus.service on :9090 already: configure that one, do not start a second.
    const step1 = section.slice(section.indexOf('\n1. '), section.indexOf('\n2. '))
    for (const command of [
      'sudo cp grafana/prometheus/prometheus.yml grafana/prometheus/alerts.yml /etc/prometheus/',
      'promtool check config /etc/prometheus/prometheus.yml',
      'sudo sed -i \'s/^ARGS=.*/ARGS="--storage.tsdb.retention.time=35d"/\' /etc/default/prometheus',
      'sudo systemctl restart prometheus'
    ]) expect(step1).toContain(`\n   ${command}\n`)
    expect(step1).not.toContain('--config.file')
    // The SLO dashboard's 30-day panels need more than 30 days of samples.
    expect(Number(/retention\.time=(\d+)d/.exec(step1)?.[1])).toBeGreaterThan(30)
    expect(section).toContain('sudo systemctl restart grafana-server')
    expect(section).toContain('Grafana is\nnot in Debian: install it from Grafana\'s own APT repository')
    for (const { dashboard } of dashboards()) expect(section).toContain(`| ${dashboard.title} | \`${dashboard.uid}\` |`)
  })

  it('has a runbook for every alert: what it means, what to check, what to do', () => {
    for (const alert of rules().flatMap((r) => r.alert === undefined ? [] : [r.alert])) {
      const start = readme.indexOf(`\n#### ${alert}\n`)
      expect(start, alert).toBeGreaterThan(0)
      const next = readme.indexOf('\n#', start + 1)
      const runbook = readme.slice(start, next)
      for (const part of ['- **Means**:', '- **Check**:', '- **Do**:']) expect(runbook, `${alert} ${part}`).toContain(part)
    }
  })

  it('lists each default port of entry', () => {
    for (const poe of defaults.poes) expect(readme).toContain(`| \`${poe.slug}\` | ${poe.name}, ${poe.state} | ${poe.dailyCapacity} |`)
  })
})
