// Grafana provisioning (grafana/provisioning/): Grafana expands environment variables in these
// files with Go's os.ExpandEnv, which knows no ${VAR:-default}, so a default written that way
// reads as an empty URL or path. The files carry literal values, parse as YAML and say what the
// README's steps rely on.
import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { parse } from 'yaml'
import { GRAFANA_DIR } from './promql.js'

const read = (path: string) => readFileSync(`${GRAFANA_DIR}provisioning/${path}`, 'utf8')
const FILES = ['datasources/prometheus.yml', 'dashboards/gateway.yml']

describe('Grafana provisioning', () => {
  it('writes values out: no environment variable, so no default Grafana cannot read', () => {
    for (const file of FILES) {
      const lines = read(file).split('\n').filter((l) => !l.trimStart().startsWith('#'))
      expect(lines.filter((l) => l.includes(':-') || l.includes('$')), file).toEqual([])
    }
  })

  it('provisions the Prometheus data source the dashboards expect, not as Grafana\'s default', () => {
    expect(parse(read('datasources/prometheus.yml'))).toEqual({
      apiVersion: 1,
      datasources: [{ name: 'Prometheus', uid: 'gateway-prometheus', type: 'prometheus', access: 'proxy', url: 'http://127.0.0.1:9090', isDefault: false, jsonData: { timeInterval: '15s' } }]
    })
  })

  it('loads the dashboards from the directory the README copies them to', () => {
    expect(parse(read('dashboards/gateway.yml'))).toEqual({
      apiVersion: 1,
      providers: [{
        name: 'appointment-gateway',
        folder: 'Appointment gateway',
        type: 'file',
        disableDeletion: true,
        allowUiUpdates: false,
        updateIntervalSeconds: 60,
        options: { path: '/var/lib/grafana/dashboards/appointment-gateway', foldersFromFilesStructure: false }
      }]
    })
    const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8')
    expect(readme).toContain('sudo mkdir -p /var/lib/grafana/dashboards/appointment-gateway && sudo cp grafana/dashboards/*.json /var/lib/grafana/dashboards/appointment-gateway/')
  })
})
