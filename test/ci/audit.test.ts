// The CI audit step (.ci/audit.mjs, run by .ci/run) against a stand-in `npm` on PATH
// (loadtests/simulators/npm-audit.ts): a high or critical advisory fails the build, a clean or
// moderate report passes, an unreachable endpoint passes with a WARNING on both streams (fails
// under AUDIT_REQUIRED=1), and anything that is not an audit report fails.
import { spawnSync } from 'node:child_process'
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, describe, expect, it } from 'vitest'

const root = fileURLToPath(new URL('../..', import.meta.url))
const simulator = join(root, 'dist/loadtests/simulators/npm-audit.js')
const bin = mkdtempSync(join(tmpdir(), 'gateway-audit-'))
writeFileSync(join(bin, 'npm'), `#!/bin/sh\nexec "${process.execPath}" "${simulator}" "$@"\n`)
chmodSync(join(bin, 'npm'), 0o755)
afterAll(() => { rmSync(bin, { recursive: true, force: true }) })

function audit (scenario: string, env: Record<string, string> = {}) {
  const argsFile = join(bin, `args-${scenario}.json`)
  const run = spawnSync(process.execPath, [join(root, '.ci/audit.mjs')], {
    cwd: root,
    encoding: 'utf8',
    timeout: 30_000,
    env: { PATH: `${bin}:${process.env.PATH ?? ''}`, NPM_AUDIT_SIM_SCENARIO: scenario, NPM_AUDIT_SIM_ARGS_FILE: argsFile, ...env }
  })
  return { status: run.status, stdout: run.stdout, stderr: run.stderr, args: JSON.parse(readFileSync(argsFile, 'utf8')) as string[] }
}

describe('.ci/audit.mjs', () => {
  it('audits what ships only, as JSON', () => {
    expect(audit('clean').args).toEqual(['audit', '--omit=dev', '--json'])
  })

  it('fails on a high advisory, naming the package, the advisory and its link', () => {
    const run = audit('high')
    expect(run.status).toBe(1)
    expect(run.stdout).toContain('ci: npm audit FAILED: 0 critical, 2 high, 0 moderate, 0 low, 0 info in production dependencies')
    expect(run.stdout).toContain('  - deep-dep (high, <2.0.4): Regular expression denial of service https://github.com/advisories/GHSA-sim-1002; fix available: yes')
    expect(run.stdout).toContain('  - parent-dep (high, 1.0.0 - 1.4.2): through deep-dep; fix available: yes')
  })

  it('fails on a critical advisory', () => {
    const run = audit('critical')
    expect(run.status).toBe(1)
    expect(run.stdout).toContain('  - json-thing (critical, <5.0.1): Prototype pollution https://github.com/advisories/GHSA-sim-1003')
  })

  it.each([
    ['clean', 'ci: npm audit: 0 critical, 0 high, 0 moderate, 0 low, 0 info in production dependencies'],
    ['moderate', 'ci: npm audit: 0 critical, 0 high, 1 moderate, 0 low, 0 info in production dependencies']
  ])('passes a %s report, saying what it found', (scenario, line) => {
    const run = audit(scenario)
    expect(run.status).toBe(0)
    expect(run.stdout.trim()).toBe(line)
  })

  it('passes an unreachable endpoint with a WARNING on stdout and stderr, never in silence', () => {
    const run = audit('unreachable')
    const warning = 'ci: WARNING npm audit could not reach the advisory endpoint (HTTP 405); no verdict on known vulnerabilities in this run'
    expect(run.status).toBe(0)
    expect(run.stdout.trim()).toBe(warning)
    expect(run.stderr.trim()).toBe(warning)
  })

  it('fails an unreachable endpoint under AUDIT_REQUIRED=1', () => {
    const run = audit('unreachable', { AUDIT_REQUIRED: '1' })
    expect(run.status).toBe(1)
    expect(run.stdout).toContain('ci: AUDIT_REQUIRED=1: an audit that did not run fails the build')
  })

  it.each([
    ['crash', 'ci: npm audit did not print a JSON report (exit 1); failing the build:', 'ENOLOCK'],
    ['garbage', 'ci: npm audit did not print a JSON report (exit 0); failing the build:', 'found 0 vulnerabilities, probably']
  ])('fails when npm gives no audit report (%s)', (scenario, line, detail) => {
    const run = audit(scenario)
    expect(run.status).toBe(1)
    expect(run.stdout).toContain(line)
    expect(run.stdout).toContain(detail)
  })

  it('is what .ci/run calls for the audit', () => {
    const ci = readFileSync(join(root, '.ci/run'), 'utf8')
    expect(ci).toContain('\nnode .ci/audit.mjs\n')
    expect(ci).not.toContain('npm audit')
  })
})
