// The rehearsal's load: an open arrival model over undici. Every arrival has a planned time from
// the profile (constant rate, or the surge's stages), is started at that time whatever happened
// to the earlier ones, and each request's latency is measured from the time it was due (its
// arrival's planned time for the first request of a transaction), so queueing in the generator
// or in the connection pool shows in the latency instead of being hidden (coordinated omission).
// The transactions and client behaviours are loadtests/k6/lib.js's, ported to undici.
import { performance } from 'node:perf_hooks'
import { setTimeout as sleep } from 'node:timers/promises'
import { Agent, request } from 'undici'
import { eventId } from '../../gateway/domain/events.js'
import type { PiiNeedles } from '../lib/pii-scan.js'
import { mixPick, type Behaviour, type Profile, type TxType } from '../profiles/index.js'

const now = (): number => performance.timeOrigin + performance.now()

const LANGUAGES = ['en', 'es', 'ht', 'ru']
const NATIONALITIES = ['HTI', 'VEN', 'CUB', 'NIC', 'COL', 'RUS', 'UKR', 'MEX']
const POOL_SIZE = 200
/**
 * Arrivals in flight at most; more wait their turn, late, and the lateness is measured. High,
 * since polite clients spend most of their time asleep (Retry-After, the waiting room); the
 * sockets are bounded by the connection pool, not by this.
 */
export const MAX_IN_FLIGHT = 50_000
/** Registrations remembered for the read-back. */
const MAX_CREATED = 100_000

export type StatusClass = '2xx' | '4xx' | '429' | '503_retry_after' | '5xx' | 'no_answer'
export const STATUS_CLASSES: readonly StatusClass[] = ['2xx', '4xx', '429', '503_retry_after', '5xx', 'no_answer']

/** What the driver tells the recorder. */
export interface Recorder {
  arrival(due: number): void
  request(tx: TxType | 'waiting-room', status: StatusClass, latencyMs: number, at: number): void
  transaction(tx: TxType, at: number): void
  retry(at: number): void
  /** A 429 or 503 that did not say when to come back (the gateway must always say). */
  refusalWithoutRetryAfter(): void
  late(ms: number): void
}

interface User {
  n: number
  token: string
  deviceId: string
  address: string
  language: string
  registrations: number
  registrationId: string | null
  members: number
  nextMember: number
  requestId: string | null
  livenessId: string | null
  admission: string | null
}

export interface Created {
  registrationId: string
  headers: Record<string, string>
}

export interface DriverSettings {
  profile: Profile
  behaviour: Behaviour
  baseUrl: string
  tokens: string[]
  photo: string
  runTag: string
  poes: string[]
  recorder: Recorder
  connections: number
}

function pad (text: string, width: number): string {
  return text.padStart(width, '0')
}

function deviceId (runTag: string, n: number): string {
  return `${runTag}-0000-4000-8000-${pad(n.toString(16), 12).slice(-12)}`
}

function clientAddress (n: number, addresses: number): string {
  const k = (addresses === 0 ? n : n % addresses) % 4194304
  return `100.${64 + Math.floor(k / 65536)}.${Math.floor(k / 256) % 256}.${k % 256}`
}

function person (runTag: string, n: number, k: number): Record<string, unknown> {
  return {
    firstName: 'Test',
    lastName: `Person ${n}-${k} ${runTag}`,
    dateOfBirth: `${1950 + (n % 55)}-${pad(String(1 + (n % 12)), 2)}-${pad(String(1 + (n % 28)), 2)}`,
    nationality: NATIONALITIES[n % NATIONALITIES.length],
    usAddress: { line1: `${100 + (n % 900)} Rehearsal Street`, city: 'Testville', state: 'TX', zip: `7${pad(String(n % 10000), 4)}` }
  }
}

/**
 * What the personal-data scan looks for in a rehearsal's logs: every person person() makes, by the
 * rule it makes them (names carry the run's tag, streets are "<n> Rehearsal Street"), each date of
 * birth it can give, and any bearer token or base64 run as long as a photo's.
 */
export function rehearsalNeedles (): PiiNeedles {
  const datesOfBirth = new Set<string>()
  // person()'s date cycles with n modulo 55, 12 and 28: every one of them within lcm = 4,620.
  for (let n = 0; n < 4_620; n++) datesOfBirth.add(person('', n, 0).dateOfBirth as string)
  return {
    fullNames: [],
    nameParts: [],
    datesOfBirth: [...datesOfBirth],
    streets: [],
    tokens: [],
    photoPieces: [],
    patterns: [
      { kind: 'name', pattern: /Person \d+-\d+ [0-9a-f]{8}/i },
      { kind: 'street', pattern: /\d+ Rehearsal Street/i },
      { kind: 'token', pattern: /eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{16,}/ },
      { kind: 'photo', pattern: /[A-Za-z0-9+/]{200,}/ }
    ]
  }
}

interface Answer {
  status: number
  headers: Record<string, string | string[] | undefined>
  body: unknown
}

function header (res: Answer, name: string): string | null {
  const value = res.headers[name]
  const text = Array.isArray(value) ? value[0] : value
  return text === undefined || text === '' ? null : text
}

function classOf (res: Answer): StatusClass {
  if (res.status === 0) return 'no_answer'
  if (res.status === 429) return '429'
  if (res.status === 503 && header(res, 'retry-after') !== null) return '503_retry_after'
  if (res.status >= 500) return '5xx'
  if (res.status >= 400) return '4xx'
  return '2xx'
}

const retryable = (status: number): boolean => status === 0 || status === 429 || status >= 500
const isWaiting = (res: Answer): boolean => res.status === 200 && header(res, 'x-waiting-room') !== null

export class Driver {
  readonly created: Created[] = []
  readonly #s: DriverSettings
  readonly #agent: Agent
  readonly #pool: User[] = []
  #inFlight = 0
  #started = 0
  #stopped = false
  #queue: Array<{ n: number, due: number }> = []
  #done: Array<() => void> = []

  constructor (settings: DriverSettings) {
    this.#s = settings
    this.#agent = new Agent({ connections: settings.connections, pipelining: 1, keepAliveTimeout: 30_000 })
  }

  async close (): Promise<void> {
    await this.#agent.close()
  }

  /** Runs the arrivals at their planned times (epoch ms, ascending); resolves when all have finished. */
  async run (plan: Float64Array, stopAt: () => boolean): Promise<{ started: number }> {
    let next = 0
    while (next < plan.length && !stopAt()) {
      const t = now()
      while (next < plan.length && (plan[next] as number) <= t) {
        const due = plan[next] as number
        this.#s.recorder.arrival(due)
        this.#launch(next, due)
        next++
      }
      if (next < plan.length) {
        const wait = (plan[next] as number) - now()
        // setTimeout's granularity is ~1 ms; a busy loop would only steal the gateway's CPU.
        await sleep(Math.max(0, Math.min(wait, 50)))
      }
    }
    if (stopAt()) {
      // Interrupted: arrivals still waiting for a place are dropped, not started.
      this.#stopped = true
      this.#queue = []
    }
    while (this.#inFlight > 0 || this.#queue.length > 0) await new Promise<void>((resolve) => this.#done.push(resolve))
    return { started: this.#started }
  }

  #launch (n: number, due: number): void {
    if (this.#stopped) return
    if (this.#inFlight >= MAX_IN_FLIGHT) {
      this.#queue.push({ n, due })
      return
    }
    this.#inFlight++
    this.#started++
    this.#s.recorder.late(Math.max(0, now() - due))
    this.#arrival(n, due).catch((err: unknown) => {
      process.stderr.write(`rehearsal: arrival ${n} failed: ${(err as Error).message}\n`)
    }).finally(() => {
      this.#inFlight--
      const queued = this.#queue.shift()
      if (queued !== undefined) this.#launch(queued.n, queued.due)
      if (this.#inFlight === 0 && this.#queue.length === 0) for (const resolve of this.#done.splice(0)) resolve()
    })
  }

  #applicant (n: number): User {
    const s = this.#s
    return {
      n,
      token: s.tokens[n % s.tokens.length] as string,
      deviceId: deviceId(s.runTag, n),
      address: clientAddress(n, s.profile.network.addresses),
      language: LANGUAGES[n % LANGUAGES.length] as string,
      registrations: 0,
      registrationId: null,
      members: 0,
      nextMember: 0,
      requestId: null,
      livenessId: null,
      admission: null
    }
  }

  #headers (user: User, idempotencyKey: string | null): Record<string, string> {
    const headers: Record<string, string> = {
      authorization: `Bearer ${user.token}`,
      'x-device-id': user.deviceId,
      'x-forwarded-for': user.address,
      'accept-language': user.language
    }
    if (idempotencyKey !== null) headers['idempotency-key'] = idempotencyKey
    if (user.admission !== null) headers['x-admission-token'] = user.admission
    return headers
  }

  async #once (method: 'GET' | 'POST', path: string, headers: Record<string, string>, payload: string | null): Promise<Answer> {
    try {
      const res = await request(`${this.#s.baseUrl}${path}`, {
        method,
        headers: payload === null ? headers : { ...headers, 'content-type': 'application/json' },
        body: payload ?? undefined,
        dispatcher: this.#agent,
        headersTimeout: 60_000,
        bodyTimeout: 60_000
      })
      const text = await res.body.text()
      let body: unknown = null
      try { body = text === '' ? null : JSON.parse(text) } catch { body = null }
      return { status: res.statusCode, headers: res.headers, body }
    } catch {
      return { status: 0, headers: {}, body: null }
    }
  }

  // Polite clients wait in the room as told, asking for their ticket no more than every 10 s.
  async #waitForAdmission (user: User, res: Answer, deadline: number): Promise<boolean> {
    const ticket = res.body as { ticket?: unknown, room?: unknown, estimatedWaitSeconds?: unknown } | null
    if (ticket === null || typeof ticket.ticket !== 'string' || typeof ticket.room !== 'string') return false
    let wait = ticket.estimatedWaitSeconds
    for (;;) {
      const seconds = Math.min(10, Math.max(1, typeof wait === 'number' ? wait : 1))
      if (now() + seconds * 1000 > deadline) return false
      await sleep(seconds * 1000)
      const sent = now()
      const view = await this.#once('GET', `/v1/waiting-rooms/${ticket.room}/tickets/${ticket.ticket}`, this.#headers(user, null), null)
      this.#s.recorder.request('waiting-room', classOf(view), now() - sent, now())
      if ((view.status === 429 || view.status === 503) && header(view, 'retry-after') === null) this.#s.recorder.refusalWithoutRetryAfter()
      const body = view.status === 200 ? view.body as { status?: unknown, admissionToken?: unknown, estimatedWaitSeconds?: unknown } | null : null
      if (body !== null && body.status === 'admitted' && typeof body.admissionToken === 'string') {
        user.admission = body.admissionToken
        return true
      }
      if (view.status === 404) return false
      wait = body !== null ? body.estimatedWaitSeconds : 5
    }
  }

  /** One request of a transaction with the client's behaviour (lib.js send()); `due` is when it should have gone. */
  async #send (user: User, tx: TxType, method: 'GET' | 'POST', path: string, body: unknown, idempotencyKey: string | null, due: number): Promise<Answer> {
    const client = this.#s.profile.client
    const deadline = now() + client.maxWaitSeconds * 1000
    const payload = body === null ? null : JSON.stringify(body)
    let res: Answer
    let sentAt = due
    for (let attempt = 1; ; attempt++) {
      res = await this.#once(method, path, this.#headers(user, idempotencyKey), payload)
      const at = now()
      this.#s.recorder.request(tx, classOf(res), at - sentAt, at)
      if ((res.status === 429 || res.status === 503) && header(res, 'retry-after') === null) this.#s.recorder.refusalWithoutRetryAfter()
      const admission = header(res, 'x-admission-token')
      if (admission !== null) user.admission = admission
      const waiting = isWaiting(res)
      if (!waiting && !retryable(res.status)) break
      if (attempt >= client.maxAttempts) break
      if (this.#s.behaviour === 'polite') {
        if (waiting) {
          if (!await this.#waitForAdmission(user, res, deadline)) break
        } else {
          const retryAfter = Number(header(res, 'retry-after'))
          const seconds = retryAfter > 0 ? retryAfter : Math.min(30, 2 ** (attempt - 1)) * (0.5 + Math.random() / 2)
          if (now() + seconds * 1000 > deadline) break
          await sleep(seconds * 1000)
        }
      }
      this.#s.recorder.retry(now())
      sentAt = now()
    }
    this.#s.recorder.transaction(tx, now())
    return res
  }

  #key (user: User, what: string): string {
    return `rehearsal-${this.#s.runTag}-${user.n}-${what}`
  }

  async #tx (tx: TxType, user: User, due: number): Promise<void> {
    const s = this.#s
    switch (tx) {
      case 'schedule':
        await this.#send(user, tx, 'GET', '/v1/schedule', null, null, due)
        return
      case 'registration': {
        const k = user.registrations++
        const members = [person(s.runTag, user.n, k)]
        const res = await this.#send(user, tx, 'POST', '/v1/registrations', { members, preferredLanguage: user.language }, this.#key(user, `reg-${k}`), due)
        const created = res.status >= 200 && res.status < 300 && !isWaiting(res) ? res.body as { registrationId?: unknown } | null : null
        if (created !== null && typeof created.registrationId === 'string') {
          user.registrationId = created.registrationId
          user.members = members.length
          user.nextMember = 0
          user.requestId = null
          if (this.created.length < MAX_CREATED) this.created.push({ registrationId: created.registrationId, headers: this.#headers(user, null) })
        }
        return
      }
      case 'appointment-request': {
        if (user.registrationId === null) return
        const body = {
          registrationId: user.registrationId,
          poe: s.poes[user.n % s.poes.length],
          location: { latitude: 25.85 + (user.n % 100) / 1000, longitude: -97.55 + (user.n % 97) / 1000, accuracyMeters: 20 }
        }
        const res = await this.#send(user, tx, 'POST', '/v1/appointment-requests', body, this.#key(user, `apr-${user.registrationId}`), due)
        const pooled = res.status >= 200 && res.status < 300 && !isWaiting(res) ? res.body as { requestId?: unknown } | null : null
        if (pooled !== null && typeof pooled.requestId === 'string') user.requestId = pooled.requestId
        return
      }
      case 'status-poll':
        if (user.requestId !== null) await this.#send(user, tx, 'GET', `/v1/appointment-requests/${user.requestId}`, null, null, due)
        else if (user.livenessId !== null) await this.#send(user, tx, 'GET', `/v1/liveness/${user.livenessId}`, null, null, due)
        return
      case 'liveness-upload': {
        if (user.registrationId === null || user.nextMember >= user.members) return
        const member = user.nextMember++
        const res = await this.#send(user, tx, 'POST', '/v1/liveness', { registrationId: user.registrationId, memberIndex: member, photo: s.photo },
          this.#key(user, `liv-${user.registrationId}-${member}`), due)
        const accepted = res.status >= 200 && res.status < 300 ? res.body as { livenessId?: unknown } | null : null
        if (accepted !== null && typeof accepted.livenessId === 'string') user.livenessId = accepted.livenessId
      }
    }
  }

  #find (k: number, test: (u: User) => boolean): User | null {
    for (let i = 0; i < this.#pool.length; i++) {
      const user = this.#pool[(k + i) % this.#pool.length] as User
      if (test(user)) return user
    }
    return null
  }

  #remember (user: User): void {
    if (user.registrationId === null || this.#pool.includes(user)) return
    this.#pool.push(user)
    if (this.#pool.length > POOL_SIZE) this.#pool.shift()
  }

  async #arrival (n: number, due: number): Promise<void> {
    const profile = this.#s.profile
    const journey = profile.journey
    if (journey === undefined) {
      // A mix's follow-up needs an applicant who got that far (lib.js mixArrival()).
      let tx = mixPick(profile.mix ?? {}, n)
      let user: User | null = null
      if (tx === 'appointment-request') user = this.#find(n, (u) => u.requestId === null)
      else if (tx === 'liveness-upload') user = this.#find(n, (u) => u.nextMember < u.members)
      else if (tx === 'status-poll') {
        user = this.#find(n, (u) => u.requestId !== null || u.livenessId !== null)
        if (user === null) {
          user = this.#find(n, (u) => u.requestId === null)
          if (user !== null) tx = 'appointment-request'
        }
      }
      if (user === null && tx !== 'schedule' && tx !== 'registration') tx = 'registration'
      user ??= this.#applicant(n)
      await this.#tx(tx, user, due)
      this.#remember(user)
      return
    }
    const user = this.#applicant(n)
    let stepDue = due
    for (const [i, tx] of journey.steps.entries()) {
      if (i > 0 && journey.thinkSeconds > 0) {
        await sleep(journey.thinkSeconds * 1000)
        stepDue = now()
      }
      await this.#tx(tx, user, stepDue)
    }
  }
}

/** The outbox event each created registration must have reached the backend with. */
export function createdEventIds (created: readonly Created[]): string[] {
  return created.map((c) => eventId('registration.created', c.registrationId))
}
