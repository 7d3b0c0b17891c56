// No secret lives in the repository: no private key block, no token, no cloud or chat credential
// in any tracked file. Keys the tests need are generated at run time (test/helpers/tokens.ts);
// the development keys `npm start` makes are written under .dev-keys/, which git ignores.
import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { defaults } from '../../config/defaults.js'

const root = fileURLToPath(new URL('../..', import.meta.url))
const git = (...args: string[]): string => execFileSync('git', args, { cwd: root, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 })

// Assembled, so this file does not match itself.
const BEGIN = '-----' + 'BEGIN'
const PATTERNS: Array<[string, RegExp]> = [
  ['a private key block', new RegExp(`${BEGIN} (?:[A-Z0-9]+ )*PRIVATE KEY-----`)],
  ['a JSON Web Token', /eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{16,}/],
  ['a JSON Web Key with its private part', /"d"\s*:\s*"[A-Za-z0-9_-]{32,}"/],
  ['an AWS access key id', /\b(?:AKIA|ASIA)[0-9A-Z]{16}\b/],
  ['a GitHub token', /\bgh[pousr]_[A-Za-z0-9]{36,}\b/],
  ['a Slack token', /\bxox[abposr]-[A-Za-z0-9-]{10,}/],
  ['an npm token', /\bnpm_[A-Za-z0-9]{36}\b/],
  ['a password in a URL', /\b(?:redis|rediss|https?|postgres(?:ql)?|amqp):\/\/[^\s:/@'"`]*:[^\s@/'"`$]{3,}@/]
]

// Known look-alikes, each with why it is not a secret.
const ALLOWED: Array<{ file: string, text: string, why: string }> = [
  // Texts assembled from parts, so this file does not hold them whole.
  { file: 'test/config/load.test.ts', text: 'http://user:' + 'hunter2@', why: 'a made-up URL for the test that config errors never echo a secret; it names no real host' },
  { file: 'test/plugins/logging.test.ts', text: ['eyJhbGciOiJIUzI1NiJ9', 'eyJzdWIiOiJhcHBsaWNhbnQtNzcifQ', 'c2lnbmF0dXJlLXNlY3JldA'].join('.'), why: 'made up for the redaction test: its signature is the text "signature-secret", no key signs it and no verifier accepts HS256' }
]

describe('secrets in the repository', () => {
  const files = git('ls-files', '-z').split('\0').filter((f) => f !== '')

  it('scans every tracked file', () => {
    expect(files.length).toBeGreaterThan(200)
    expect(files).toContain('gateway/app.ts')
  })

  it('holds no private key, token or credential in a tracked file', () => {
    const found: string[] = []
    for (const file of files) {
      let text: string
      try {
        text = readFileSync(join(root, file), 'utf8')
      } catch {
        continue
      }
      for (const [what, pattern] of PATTERNS) {
        const global = new RegExp(pattern.source, 'g')
        for (const match of text.matchAll(global)) {
          if (ALLOWED.some((a) => a.file === file && a.text === match[0])) continue
          // Where and what kind, never the match itself.
          found.push(`${file}:${text.slice(0, match.index).split('\n').length} ${what}`)
        }
      }
    }
    expect(found).toEqual([])
  })

  it('allows only look-alikes that are still there, and says why', () => {
    for (const a of ALLOWED) {
      expect(readFileSync(join(root, a.file), 'utf8'), a.file).toContain(a.text)
      expect(a.why.length).toBeGreaterThan(20)
    }
    // The allowed token really is unsigned text: its third part decodes to words.
    expect(Buffer.from((ALLOWED[1]?.text ?? '').split('.')[2] ?? '', 'base64url').toString()).toBe('signature-secret')
  })

  it('keeps the development keys `npm start` writes out of git', () => {
    for (const file of [defaults.auth.devKeyFile, defaults.registrations.devIdentityKeyFile]) {
      expect(git('check-ignore', '--no-index', file).trim(), file).toBe(file)
    }
  })

  it('finds what it looks for (a private key block and a token made here)', () => {
    const jwt = ['eyJhbGciOiJFUzI1NiJ9', 'eyJzdWIiOiJ1MSJ9', 'MEUCIQDx2F3y8p1Vq0aXo9rQw7Lk'].join('.')
    const planted = `${BEGIN} EC PRIVATE KEY-----\nMHcCAQEE\n-----END EC PRIVATE KEY-----\nBearer ${jwt}\nredis://:hunter22${'@'}10.0.0.1:6379`
    const kinds = PATTERNS.filter(([, pattern]) => pattern.test(planted)).map(([what]) => what)
    expect(kinds).toEqual(['a private key block', 'a JSON Web Token', 'a password in a URL'])
  })
})
