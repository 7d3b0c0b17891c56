// A stand-in for `npm audit` and the registry's advisory endpoint behind it, for testing the CI
// audit step (.ci/audit.mjs) without the network: put a file named `npm` that runs this first on
// PATH. It answers `npm audit --omit=dev --json` the way npm 11 does, for the scenario named in
// NPM_AUDIT_SIM_SCENARIO:
//   clean        a report with no advisory, exit 0
//   moderate     one moderate advisory, exit 1 (npm's default audit level is low)
//   high         one high advisory through a dependency of a dependency, exit 1
//   critical     one critical advisory on a direct dependency, exit 1
//   unreachable  the endpoint refused the request: its answer (405) as the report, npm's error
//                on stderr, exit 1 (as behind this workplace's proxy)
//   crash        no report at all, an unrelated npm error on stderr, exit 1
//   garbage      text that is not JSON on stdout, exit 0
// The arguments it was called with go to NPM_AUDIT_SIM_ARGS_FILE when set, so a test can check them.
import { writeFileSync } from 'node:fs'

type Severity = 'info' | 'low' | 'moderate' | 'high' | 'critical'

function report (vulnerabilities: Record<string, { severity: Severity, isDirect: boolean, via: unknown[], range: string }>) {
  const counts: Record<Severity | 'total', number> = { info: 0, low: 0, moderate: 0, high: 0, critical: 0, total: 0 }
  const out: Record<string, unknown> = {}
  for (const [name, v] of Object.entries(vulnerabilities)) {
    counts[v.severity]++
    counts.total++
    out[name] = { name, severity: v.severity, isDirect: v.isDirect, via: v.via, effects: [], range: v.range, nodes: [`node_modules/${name}`], fixAvailable: true }
  }
  return { auditReportVersion: 2, vulnerabilities: out, metadata: { vulnerabilities: counts, dependencies: { prod: 120, dev: 0, optional: 3, peer: 0, peerOptional: 0, total: 120 } } }
}

const advisory = (source: number, name: string, title: string, severity: Severity, range: string) => ({ source, name, dependency: name, title, url: `https://github.com/advisories/GHSA-sim-${source}`, severity, cwe: ['CWE-400'], cvss: { score: 7.5, vectorString: null }, range })

function main (args: string[]): number {
  if (process.env.NPM_AUDIT_SIM_ARGS_FILE !== undefined) writeFileSync(process.env.NPM_AUDIT_SIM_ARGS_FILE, JSON.stringify(args))
  if (args[0] !== 'audit') {
    process.stderr.write(`npm-audit simulator: only \`npm audit\` is simulated, got ${JSON.stringify(args)}\n`)
    return 2
  }
  const print = (value: unknown) => process.stdout.write(`${JSON.stringify(value, null, 2)}\n`)
  switch (process.env.NPM_AUDIT_SIM_SCENARIO) {
    case 'clean':
      print(report({}))
      return 0
    case 'moderate':
      print(report({ 'left-pad': { severity: 'moderate', isDirect: false, via: [advisory(1001, 'left-pad', 'Inefficient padding', 'moderate', '<1.3.1')], range: '<1.3.1' } }))
      return 1
    case 'high':
      print(report({
        'deep-dep': { severity: 'high', isDirect: false, via: [advisory(1002, 'deep-dep', 'Regular expression denial of service', 'high', '<2.0.4')], range: '<2.0.4' },
        'parent-dep': { severity: 'high', isDirect: true, via: ['deep-dep'], range: '1.0.0 - 1.4.2' }
      }))
      return 1
    case 'critical':
      print(report({ 'json-thing': { severity: 'critical', isDirect: true, via: [advisory(1003, 'json-thing', 'Prototype pollution', 'critical', '<5.0.1')], range: '<5.0.1' } }))
      return 1
    case 'unreachable':
      print({ message: '405 Method Not Allowed - POST https://registry.npmjs.org/-/npm/v1/security/advisories/bulk', method: 'POST', uri: 'https://registry.npmjs.org/-/npm/v1/security/advisories/bulk', headers: { allow: ['GET,HEAD'] }, statusCode: 405, body: '', error: { summary: '', detail: '' } })
      process.stderr.write('npm error audit endpoint returned an error\n')
      return 1
    case 'crash':
      process.stderr.write('npm error code ENOLOCK\nnpm error audit This command requires an existing lockfile.\n')
      return 1
    case 'garbage':
      process.stdout.write('found 0 vulnerabilities, probably\n')
      return 0
    default:
      process.stderr.write(`npm-audit simulator: set NPM_AUDIT_SIM_SCENARIO (got ${JSON.stringify(process.env.NPM_AUDIT_SIM_SCENARIO)})\n`)
      return 2
  }
}

process.exitCode = main(process.argv.slice(2))
