// What the fault tests share: a scratch dir per test, gateway processes whose stdout and stderr
// end up in files there, applicants with their own account, device and client address (so the
// registration windows and buckets never refuse them: the faults are what is under test), bodies
// with personal data a log must never hold, one bounded HTTP call that never throws, and the check
// that the logs hold none of what was sent (exactly as sent, and by the shared PII scanner). A test
// that fails keeps its scratch dir, logs saved, and prints its path.
import { randomUUID } from 'node:crypto'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createSigner } from 'fast-jwt'
import { Agent, request } from 'undici'
import { onTestFailed } from 'vitest'
import { defaults } from '../../config/defaults.js'
import { gatewayKeys, type GatewayKeys } from '../../loadtests/lib/gateway-env.js'
import { formatHits, needlesFromRegistrations, scanFiles, scanText, type PersonLike } from '../../loadtests/lib/pii-scan.js'
import { startGateway, type GatewayProcess } from '../helpers/process.js'

export interface Scratch {
  dir: string
  keys: GatewayKeys
  /** Env every gateway of the test starts from: keys, loopback, the window open now, no auto draw. */
  env: Record<string, string>
  /** Every personal value the test sent (names, dates of birth, address lines, locations, tokens). */
  sent: Set<string>
  /** The people registered and the bearer tokens used, for the shared scanner (loadtests/lib/pii-scan.ts). */
  people: PersonLike[]
  tokens: string[]
  /** Removes the dir; keeps it, and prints where, when the test failed (its logs are there). */
  remove: () => Promise<void>
}

/**
 * The request window open for the next two hours whatever the time of day (it closes 2 h from
 * now, in UTC, for an hour), so appointment requests are taken; the draw never starts by itself.
 */
function openWindow (): Record<string, string> {
  const hour = new Date().getUTCHours()
  const at = (h: number): string => `${String(h % 24).padStart(2, '0')}:00`
  return {
    GATEWAY_TIMEZONE: 'UTC',
    GATEWAY_REQUEST_WINDOW_CLOSES_AT: at(hour + 2),
    GATEWAY_ALLOCATION_AT: at(hour + 2),
    GATEWAY_REQUEST_WINDOW_OPENS_AT: at(hour + 3),
    GATEWAY_ALLOCATION_AUTO_DRAW: 'false'
  }
}

/** Called inside the test, so that a failure keeps the dir. */
export async function scratch (name: string): Promise<Scratch> {
  let failed = false
  onTestFailed(() => { failed = true })
  const dir = await mkdtemp(join(tmpdir(), `gateway-fault-${name}-`))
  const keys = await gatewayKeys(dir)
  return {
    dir,
    keys,
    env: {
      ...keys.env,
      ...openWindow(),
      // Each applicant comes from its own address (X-Forwarded-For from 127.0.0.1).
      GATEWAY_TRUSTED_PROXIES: '["127.0.0.1"]'
    },
    sent: new Set(),
    people: [],
    tokens: [],
    remove: async () => {
      if (!failed) return rm(dir, { recursive: true, force: true })
      process.stdout.write(`fault ${name}: the test failed; its logs and data are kept in ${dir}\n`)
    }
  }
}

/** A gateway process whose output is written to <dir>/<name>.stdout.log and .stderr.log by saveLogs. */
export interface NamedGateway {
  name: string
  process: GatewayProcess
  url: string
  pid: number
}

export async function gateway (s: Scratch, name: string, env: Record<string, string>, entry?: string): Promise<NamedGateway> {
  const process = startGateway({ ...s.env, ...env }, entry === undefined ? {} : { entry })
  const url = await process.listening
  return { name, process, url, pid: process.child.pid as number }
}

/**
 * Writes each gateway's stdout and stderr so far into the scratch dir; returns the files. The
 * tests call it in afterAll, before they kill anything, so a failed test keeps its logs too.
 */
export async function saveLogs (s: Scratch, gateways: ReadonlyArray<NamedGateway | undefined>): Promise<string[]> {
  const files: string[] = []
  for (const g of gateways) {
    if (g === undefined) continue
    for (const [stream, text] of [['stdout', g.process.stdout()], ['stderr', g.process.stderr()]] as const) {
      const file = join(s.dir, `${g.name}.${stream}.log`)
      await writeFile(file, text)
      files.push(file)
    }
  }
  return files
}

/**
 * The personal data found in the gateways' logs, two ways: every value the test sent, searched
 * for exactly as it was sent (locations and photo pieces included), and the shared scanner
 * (loadtests/lib/pii-scan.ts: names, dates of birth and streets case- and accent-folded, and
 * tokens), whose hits say where and what kind. `control`: how many sent values the exact search
 * finds in a copy of the largest real log with every value planted in it as a log line's field
 * (JSON-encoded, as pino writes it), each on its own line, and the scanner must find each
 * person's name there too: proof that both find a value where a log would hold it.
 */
export async function personalDataInLogs (s: Scratch, gateways: readonly NamedGateway[]): Promise<{ lines: number, found: string[], control: number }> {
  const files = await saveLogs(s, gateways)
  let lines = 0
  const found = new Set<string>()
  let largest = ''
  for (const file of files) {
    const text = await readFile(file, 'utf8')
    lines += text.split('\n').length - 1
    for (const value of personalValuesIn(text, s.sent)) found.add(value)
    if (text.length > largest.length) largest = text
  }
  const real = largest.split('\n')
  const planted = [...s.sent].map((value, i) => JSON.stringify({ level: 40, time: i, msg: 'control', value }))
  const copy = real.flatMap((line, i) => (i % Math.max(1, Math.floor(real.length / planted.length)) === 0 && planted.length > 0 ? [line, planted.shift() as string] : [line]))
  const controlFile = join(s.dir, 'planted-log.control')
  await writeFile(controlFile, [...copy, ...planted].join('\n'))
  const control = await readFile(controlFile, 'utf8')
  const needles = needlesFromRegistrations(s.people.map((member) => ({ members: [member] })), { tokens: s.tokens })
  const hits = await scanFiles(files, needles)
  const scannerControl = new Set(scanText('control', control, needles).filter((h) => h.kind === 'name').map((h) => h.line))
  if (s.people.length > 0 && scannerControl.size < s.people.length) throw new Error(`pii-scan found ${scannerControl.size} of ${s.people.length} planted names: the scan is blind`)
  return { lines, found: [...found, ...(hits.length === 0 ? [] : [formatHits(hits)])], control: personalValuesIn(control, s.sent).length }
}

function personalValuesIn (text: string, values: ReadonlySet<string>): string[] {
  return [...values].filter((value) => text.includes(value))
}

/**
 * A fault test's clean-up, in its order: the gateways' logs saved first (a failed test keeps its
 * scratch dir with them), then the gateways killed by PID, then the rest of what it started
 * (its redis-server, simulators, connection pools), then the scratch dir removed unless it failed.
 */
export async function tearDown (s: Scratch | undefined, gateways: ReadonlyArray<NamedGateway | undefined>, ...rest: Array<(() => unknown) | undefined>): Promise<void> {
  if (s !== undefined) await saveLogs(s, gateways)
  for (const g of gateways) await kill(g)
  for (const stop of rest) await stop?.()
  await s?.remove()
}

/** Stops a gateway this test started, by its PID, and waits for it to end. */
export async function kill (g: NamedGateway | undefined, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
  if (g === undefined || g.process.child.exitCode !== null || g.process.child.signalCode !== null) return
  g.process.child.kill(signal)
  await g.process.exited
}

export interface Applicant {
  headers: Record<string, string>
  /** The person registered: unique values, all recorded in Scratch.sent. */
  body: { members: Array<Record<string, unknown>>, preferredLanguage: string }
  location: { latitude: number, longitude: number, accuracyMeters: number }
}

/**
 * An applicant with their own account, device and address, and a one-member registration whose
 * values are unique to them (letters only in the names, so no folding makes two alike).
 */
export function applicants (s: Scratch, count: number, tag: string): Applicant[] {
  const sign = createSigner({ key: s.keys.privateKeyPem, algorithm: 'ES256', expiresIn: 3_600_000 })
  const letters = (n: number): string => {
    let out = ''
    for (let k = n + 26 * 26; k > 0; k = Math.floor(k / 26)) out += String.fromCharCode(97 + (k % 26))
    return out
  }
  return Array.from({ length: count }, (_, i) => {
    const token = sign({ sub: `${tag}-${i}-${randomUUID()}`, role: 'applicant', iss: defaults.auth.issuer, aud: defaults.auth.audience })
    const first = `Faultfirst${letters(i)}`
    const last = `Faultlast${tag.replace(/[^a-z]/gi, '')}${letters(i)}`
    const dob = `19${String(40 + (i % 50)).padStart(2, '0')}-${String(1 + (i % 12)).padStart(2, '0')}-${String(1 + (i % 28)).padStart(2, '0')}`
    const line1 = `${1000 + i} Faultline Avenue ${letters(i)}`
    const location = { latitude: Number(`25.9${String(i).padStart(5, '0')}1`), longitude: -97.49, accuracyMeters: 12 }
    for (const value of [first, last, dob, line1, token, token.split('.')[2] as string, String(location.latitude)]) s.sent.add(value)
    s.people.push({ firstName: first, lastName: last, dateOfBirth: dob, usAddress: { line1 } })
    s.tokens.push(token)
    return {
      headers: {
        authorization: `Bearer ${token}`,
        'x-device-id': randomUUID(),
        'x-forwarded-for': `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`
      },
      body: {
        members: [{ firstName: first, lastName: last, dateOfBirth: dob, nationality: 'HTI', usAddress: { line1, city: 'Brockton', state: 'MA', zip: '02301' } }],
        preferredLanguage: 'ht'
      },
      location
    }
  })
}

export interface Answer {
  /** 0: no answer (refused, reset, or over the bound). */
  status: number
  headers: Record<string, string | string[] | undefined>
  text: string
  /** Why there was no answer. */
  error?: string
  ms: number
}

/** One HTTP call, bounded (headers and body each within boundMs); never throws. */
export async function call (agent: Agent, url: string, method: 'GET' | 'POST' | 'DELETE', headers: Record<string, string>, body?: unknown, boundMs = 10_000): Promise<Answer> {
  const started = performance.now()
  try {
    const res = await request(url, {
      method,
      dispatcher: agent,
      headers: { ...headers, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
      headersTimeout: boundMs,
      bodyTimeout: boundMs
    })
    const text = await res.body.text()
    return { status: res.statusCode, headers: res.headers, text, ms: performance.now() - started }
  } catch (err) {
    return { status: 0, headers: {}, text: '', error: (err as { code?: string }).code ?? (err as Error).name, ms: performance.now() - started }
  }
}

/** Counts by key, for the printed summaries. */
export function tally (keys: Iterable<string>): Record<string, number> {
  const out: Record<string, number> = {}
  for (const key of keys) out[key] = (out[key] ?? 0) + 1
  return out
}

/** Status and error code of an answer, e.g. "503 GW_ERR_STORE_UNAVAILABLE", "201", "no answer (ECONNREFUSED)". */
export function outcome (a: Answer): string {
  if (a.status === 0) return `no answer (${a.error ?? 'unknown'})`
  if (a.status < 400) return String(a.status)
  try {
    return `${a.status} ${(JSON.parse(a.text) as { code?: string }).code ?? '?'}`
  } catch {
    return `${a.status} (not JSON)`
  }
}

/** Sum of every series of a metric in one /metrics text. */
export function metric (text: string, name: string): number | undefined {
  let sum: number | undefined
  for (const line of text.split('\n')) {
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{[^}]*\})? (\S+)$/.exec(line)
    if (match?.[1] === name) sum = (sum ?? 0) + Number(match[2])
  }
  return sum
}

export const sleep = async (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

/** Waits until check() is true, polling; false when boundMs passed first. */
export async function until (check: () => Promise<boolean> | boolean, boundMs: number, everyMs = 200): Promise<boolean> {
  const deadline = Date.now() + boundMs
  while (Date.now() < deadline) {
    if (await check()) return true
    await sleep(everyMs)
  }
  return check()
}
