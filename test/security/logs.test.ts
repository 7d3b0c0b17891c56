// What a real gateway process writes while it serves registrations from the synthetic population,
// with the access log on and every log level: no name, date of birth, street line, token, photo,
// key or key file content, in its stdout, its stderr, or any file it writes. The scan
// (loadtests/lib/pii-scan.ts) is shown not to be blind first: it finds a planted name.
import { generateKeyPairSync, randomBytes, randomUUID } from 'node:crypto'
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { defaults } from '../../config/defaults.js'
import { formatHits, needlesFromRegistrations, scanFiles, scanText, type PiiNeedles } from '../../loadtests/lib/pii-scan.js'
import { population, type SynthRegistration } from '../../loadtests/synth/population.js'
import { PORTRAITS, portraitJpeg } from '../fixtures/photos.js'
import { startGateway, stopGateway, type GatewayProcess } from '../helpers/process.js'
import { privateKeyPem, publicKeyPem, token } from '../helpers/tokens.js'
import { uniquePrefix } from '../helpers/app.js'

const REGISTRATIONS = 60
const hhmm = (at: number): string => new Date(at).toISOString().slice(11, 16)

/** Every file under `dir`, recursively. */
async function filesUnder (dir: string): Promise<string[]> {
  const out: string[] = []
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name)
    if (entry.isDirectory()) out.push(...await filesUnder(path))
    else out.push(path)
  }
  return out
}

describe('a real gateway\'s logs, after a burst of synthetic registrations', () => {
  let dir: string
  let cwd: string
  let gateway: GatewayProcess | undefined
  let base: string
  const sent: SynthRegistration[] = []
  const tokens: string[] = []
  const photos: string[] = []
  const statuses = new Map<number, number>()
  let requests = 0
  const identityKey = randomBytes(32)
  const signingKeyPem = generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }).toString()
  let needles: PiiNeedles
  let logs: { stdout: string, stderr: string, files: string[] }

  async function call (method: string, path: string, options: { token?: string, device?: string, body?: string | object, headers?: Record<string, string> } = {}): Promise<{ status: number, json: () => unknown }> {
    const headers: Record<string, string> = { ...options.headers }
    if (options.token !== undefined) headers.authorization = `Bearer ${options.token}`
    if (options.device !== undefined) headers['x-device-id'] = options.device
    if (options.body !== undefined) headers['content-type'] ??= 'application/json'
    if (method !== 'GET') headers['idempotency-key'] ??= randomUUID()
    const res = await fetch(`${base}${path}`, { method, headers, ...(options.body === undefined ? {} : { body: typeof options.body === 'string' ? options.body : JSON.stringify(options.body) }) })
    const text = await res.text()
    requests++
    statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1)
    return { status: res.status, json: () => JSON.parse(text) as unknown }
  }

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'gateway-logs-keys-'))
    cwd = await mkdtemp(join(tmpdir(), 'gateway-logs-cwd-'))
    await writeFile(join(dir, 'jwt-public.pem'), publicKeyPem)
    await writeFile(join(dir, 'identity.key'), identityKey)
    await writeFile(join(dir, 'admission.pem'), signingKeyPem)
    const now = Date.now()
    gateway = startGateway({
      GATEWAY_HOST: '127.0.0.1',
      GATEWAY_PORT: '0',
      REDIS_URL: inject('redisUrl'),
      GATEWAY_REDIS_KEY_PREFIX: uniquePrefix(),
      GATEWAY_AUTH_PUBLIC_KEY_FILE: join(dir, 'jwt-public.pem'),
      GATEWAY_IDENTITY_KEY_FILE: join(dir, 'identity.key'),
      GATEWAY_WAITING_ROOM_SIGNING_KEY_FILE: join(dir, 'admission.pem'),
      // Everything a log can say: every level, one access line per request.
      GATEWAY_LOG_LEVEL: 'trace',
      GATEWAY_ACCESS_LOG: 'true',
      GATEWAY_RATE_LIMIT_RULES: '[]',
      GATEWAY_REGISTRATION_MIN_INTERVAL_SECONDS: '0',
      GATEWAY_REGISTRATION_PER_DEVICE_MAX: '1000',
      GATEWAY_REGISTRATION_PER_SUBJECT_MAX: '1000',
      GATEWAY_ALLOCATION_AUTO_DRAW: 'false',
      GATEWAY_TIMEZONE: 'UTC',
      GATEWAY_REQUEST_WINDOW_OPENS_AT: hhmm(now - 3_600_000),
      GATEWAY_REQUEST_WINDOW_CLOSES_AT: hhmm(now - 2 * 3_600_000),
      GATEWAY_ALLOCATION_AT: hhmm(now - 2 * 3_600_000)
    }, { cwd })
    base = await gateway.listening

    // One small shared address (a cluster of 12 claimants, 6 families), so the officers' report has a row to show.
    const pop = population({ registrants: REGISTRATIONS, seed: 'pii-scan', days: 1, poes: defaults.poes.map((p) => p.slug), clusters: [{ claimants: 12, distinctLastNames: 6, poes: 2 }] })
    const officer = token({ role: 'officer', sub: 'officer-1' })
    const partner = token({ role: 'partner', sub: 'partner-1' })
    tokens.push(officer, partner)
    const photo = (await portraitJpeg({ ...PORTRAITS['light-well-lit'], width: 480, height: 640 })).toString('base64')
    photos.push(photo)
    let first: { id: string, applicant: string, device: string } | undefined
    for (const r of pop.registrations()) {
      if (sent.length === REGISTRATIONS) break
      sent.push(r)
      const applicant = token({ sub: r.account })
      tokens.push(applicant)
      const created = await call('POST', '/v1/registrations', { token: applicant, device: r.device, body: { members: r.members, preferredLanguage: r.preferredLanguage } })
      if (created.status !== 201) continue
      const { registrationId } = created.json() as { registrationId: string }
      if (first === undefined) {
        first = { id: registrationId, applicant, device: r.device }
        // A photo, accepted, then a bad one (before the officer below releases these people).
        const upload = await call('POST', '/v1/liveness', { token: applicant, device: r.device, body: { registrationId, memberIndex: 0, photo } })
        expect(upload.status).toBe(202)
        await call('POST', '/v1/liveness', { token: applicant, device: r.device, body: { registrationId, memberIndex: 0, photo: photo.slice(0, 4000) } })
      }
      await call('GET', `/v1/registrations/${registrationId}`, { token: applicant, device: r.device })
      await call('POST', '/v1/appointment-requests', { token: applicant, device: r.device, body: { registrationId, poe: r.poe, location: { latitude: 27.5, longitude: -99.5, accuracyMeters: 10 } } })
      // The same people again: a duplicate-identity refusal.
      await call('POST', '/v1/registrations', { token: applicant, device: r.device, body: { members: r.members, preferredLanguage: r.preferredLanguage } })
      const m = r.members[0]
      if (m === undefined) continue
      // Refusals that carry personal data in what was sent: a bad field, broken JSON, too large, a bad path.
      await call('POST', '/v1/registrations', { token: applicant, device: r.device, body: { members: [{ ...m, nationality: 'X' }], preferredLanguage: r.preferredLanguage } })
      await call('POST', '/v1/registrations', { token: applicant, device: r.device, body: `{"members":[{"firstName":"${m.firstName}","lastName":"${m.lastName}","dateOfBirth":"${m.dateOfBirth}"` })
      await call('POST', '/v1/registrations', { token: applicant, device: r.device, body: { members: Array(400).fill(m), preferredLanguage: r.preferredLanguage } })
      await call('GET', `/v1/registrations/${encodeURIComponent(`${m.firstName} ${m.lastName} ${m.dateOfBirth}`)}`, { token: applicant, device: r.device })
      await call('GET', `/v1/schedule?name=${encodeURIComponent(m.lastName)}&dob=${m.dateOfBirth}&street=${encodeURIComponent(m.usAddress.line1)}&token=${applicant}`, { token: applicant, device: r.device })
      // An officer and a partner asking about them.
      await call('POST', '/v1/ops/identities/release', { token: officer, body: { firstName: m.firstName, lastName: m.lastName, dateOfBirth: m.dateOfBirth } })
      await call('POST', '/v1/partner/validations', { token: partner, body: { confirmationNumber: '0123456789ABCDEF', dateOfBirth: m.dateOfBirth } })
    }
    expect(first, JSON.stringify(Object.fromEntries(statuses))).toBeDefined()
    await call('GET', '/v1/ops/trends/shared-addresses?minClaimants=2&minDistinctLastNames=2', { token: officer })
    await call('GET', '/v1/ops/trends/shared-addresses?minClaimants=2&minDistinctLastNames=2', { token: officer, headers: { accept: 'text/csv' } })
    // Tokens that fail: expired, signed by another key, cut short, in the wrong scheme.
    const expired = token({ expiresInSeconds: -60 })
    const foreign = token({ key: generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString() })
    tokens.push(expired, foreign)
    for (const bad of [`Bearer ${expired}`, `Bearer ${foreign}`, `Bearer ${foreign.slice(0, -5)}`, `Basic ${foreign}`]) {
      await call('GET', '/v1/schedule', { headers: { authorization: bad, 'x-device-id': randomUUID() } })
    }

    gateway.child.kill('SIGTERM')
    expect(await gateway.exited).toBe(0)
    logs = { stdout: gateway.stdout(), stderr: gateway.stderr(), files: await filesUnder(cwd) }
    needles = needlesFromRegistrations(sent, { tokens, photos })
  }, 180_000)

  afterAll(async () => {
    stopGateway(gateway)
    await rm(dir, { recursive: true, force: true })
    await rm(cwd, { recursive: true, force: true })
  })

  it('made a burst worth scanning: registrations created and refused, an access line for each request', () => {
    expect(statuses.get(201) ?? 0).toBeGreaterThan(REGISTRATIONS / 2)
    for (const status of [202, 400, 401, 409, 413]) expect(statuses.get(status) ?? 0, `status ${status}: ${JSON.stringify(Object.fromEntries(statuses))}`).toBeGreaterThan(0)
    const access = logs.stdout.split('\n').filter((l) => l.includes('"msg":"request completed"'))
    expect(access.length).toBe(requests)
    expect(needles.fullNames.length).toBeGreaterThan(REGISTRATIONS)
    expect(needles.datesOfBirth.length).toBeGreaterThan(REGISTRATIONS / 2)
    expect(needles.streets.length).toBeGreaterThan(10)
  })

  it('is not blind: the same scan finds a name, a date of birth, a street and a token planted in a copy of the log', () => {
    const m = sent[0]?.members[0]
    expect(m).toBeDefined()
    if (m === undefined) return
    const lines = logs.stdout.split('\n')
    const planted = [...lines, `{"msg":"x","who":"${m.firstName} ${m.lastName}"}`, `{"msg":"y","dob":"${m.dateOfBirth}","street":"${m.usAddress.line1}"}`, `Bearer ${tokens[2] ?? ''}`].join('\n')
    const hits = scanText('planted', planted, needles)
    expect(hits.map((h) => [h.line - lines.length, h.kind, h.field])).toEqual([
      [1, 'name', 'who'],
      [2, 'date-of-birth', 'dob'],
      [2, 'street', 'street'],
      [3, 'token', undefined]
    ])
  })

  it('finds no personal data in its stdout, its stderr or any file it wrote', async () => {
    const hits = [
      ...scanText('gateway stdout', logs.stdout, needles),
      ...scanText('gateway stderr', logs.stderr, needles),
      ...await scanFiles(logs.files, needles)
    ]
    expect(hits, formatHits(hits)).toEqual([])
  })

  it('never logs a token, the identity key, or the contents of a key file', () => {
    const text = `${logs.stdout}\n${logs.stderr}`
    const pemBody = (pem: string) => pem.split('\n').filter((l) => l !== '' && !l.startsWith('-----'))
    const secrets = [
      ...tokens,
      ...tokens.map((t) => t.split('.')[2] as string),
      identityKey.toString('hex'),
      identityKey.toString('base64'),
      identityKey.toString('base64url'),
      identityKey.toString('latin1'),
      ...pemBody(signingKeyPem),
      ...pemBody(privateKeyPem),
      ...pemBody(publicKeyPem)
    ]
    const found = secrets.map((s, i) => ({ i, found: text.includes(s) })).filter((s) => s.found).map((s) => `secret #${s.i}`)
    expect(found).toEqual([])
    // Where the keys come from may be said; what they hold may not.
    expect(text).not.toContain('BEGIN')
  })
})
