import { readFileSync } from 'node:fs'

// package.json sits two levels above both gateway/ (tests) and dist/gateway/ (built).
function findVersion (): string {
  for (const up of ['../package.json', '../../package.json']) {
    try {
      const pkg = JSON.parse(readFileSync(new URL(up, import.meta.url), 'utf8')) as { name?: string, version?: string }
      if (pkg.name === 'appointment-gateway' && typeof pkg.version === 'string') return pkg.version
    } catch {}
  }
  return '0.0.0'
}

export const version = findVersion()
