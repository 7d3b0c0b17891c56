// The rehearsal client for k6: synthetic applicants (account, device, address, people), the five
// transactions against the real API, and the two client behaviours. Plain JavaScript that k6
// accepts (ES2017, k6 modules only); the entry script is rehearsal.js.
import http from 'k6/http'
import { sleep } from 'k6'
import exec from 'k6/execution'
import { Counter, Rate } from 'k6/metrics'
import { mixPick } from '../profiles/model.js'
import { BARE_REFUSALS, SERVER_ERRORS, UNEXPECTED_SERVER_ERRORS } from './options.js'

const serverErrors = new Rate(SERVER_ERRORS)
const unexpectedServerErrors = new Rate(UNEXPECTED_SERVER_ERRORS)
const bareRefusals = new Counter(BARE_REFUSALS)
/** Requests sent again by the client behaviour (not transactions). */
const retries = new Counter('retries')
/** Answers that were a waiting-room ticket instead of the route. */
const waitingAnswers = new Counter('waiting_room_answers')
/** Transactions by `tx` and `outcome`: ok (2xx), refused (4xx), waiting, failed (5xx or none), skipped. */
const transactions = new Counter('transactions')

const LANGUAGES = ['en', 'es', 'ht', 'ru']
const NATIONALITIES = ['HTI', 'VEN', 'CUB', 'NIC', 'COL', 'RUS', 'UKR', 'MEX']
const LOOPBACK = /^http:\/\/(127\.0\.0\.1|localhost|\[::1\])(:\d+)?\/?$/
// Follow-ups of a mix (requests, polls, uploads) are made by applicants this VU registered.
const POOL_SIZE = 200

function pad (text, width) {
  while (text.length < width) text = '0' + text
  return text
}

/** A canonical UUID unique to the run (its 8-hex tag) and the arrival number. */
export function deviceId (runTag, n) {
  const hex = pad(n.toString(16), 12)
  return runTag + '-0000-4000-8000-' + hex.slice(-12)
}

/** A synthetic client address in 100.64.0.0/10 (shared address space, RFC 6598): one per arrival, or `addresses` in turn. */
export function clientAddress (n, addresses) {
  const k = (addresses === 0 ? n : n % addresses) % 4194304
  return '100.' + (64 + Math.floor(k / 65536)) + '.' + (Math.floor(k / 256) % 256) + '.' + (k % 256)
}

/** A synthetic person: "Test Person <n>-<k>", a valid date of birth, a synthetic US address. */
export function person (runTag, n, k) {
  const year = 1950 + (n % 55)
  const month = 1 + (n % 12)
  const day = 1 + (n % 28)
  return {
    firstName: 'Test',
    lastName: 'Person ' + n + '-' + k + ' ' + runTag,
    dateOfBirth: year + '-' + pad(String(month), 2) + '-' + pad(String(day), 2),
    nationality: NATIONALITIES[n % NATIONALITIES.length],
    usAddress: { line1: (100 + (n % 900)) + ' Rehearsal Street', city: 'Testville', state: 'TX', zip: '7' + pad(String(n % 10000), 4) }
  }
}

/** Checks BASE_URL: rehearsals target this machine only. */
export function checkBaseUrl (url) {
  if (!LOOPBACK.test(url)) throw new Error('BASE_URL must be http://127.0.0.1, http://localhost or http://[::1] with an optional port (rehearsals stay on this machine), got ' + url)
  return url.replace(/\/$/, '')
}

/** The applicant behind arrival n: its own account (token), device and address. */
export function applicant (settings, runTag, n) {
  return {
    n,
    token: settings.tokens[n % settings.tokens.length],
    deviceId: deviceId(runTag, n),
    address: clientAddress(n, settings.profile.network.addresses),
    language: LANGUAGES[n % LANGUAGES.length],
    registrations: 0,
    registrationId: null,
    members: 0,
    nextMember: 0,
    requestId: null,
    livenessId: null,
    admission: null
  }
}

function header (res, name) {
  const value = res.headers[name]
  return value === undefined || value === '' ? null : value
}

function record (res) {
  const noAnswer = res.status === 0
  const server = noAnswer || res.status >= 500
  const deliberate = res.status === 503 && header(res, 'Retry-After') !== null
  serverErrors.add(server ? 1 : 0)
  unexpectedServerErrors.add(server && !deliberate ? 1 : 0)
  // Adding 0 as well gives the threshold data even when every refusal is right.
  bareRefusals.add((res.status === 429 || res.status === 503) && header(res, 'Retry-After') === null ? 1 : 0)
}

function retryable (status) {
  return status === 0 || status === 429 || status >= 500
}

function isWaiting (res) {
  return res.status === 200 && header(res, 'X-Waiting-Room') !== null
}

function bodyOf (res) {
  try {
    return res.json()
  } catch (err) {
    return null
  }
}

// Polite clients wait in the room as told, asking for their ticket no more than every 10 s.
function waitForAdmission (settings, user, res, deadline) {
  const ticket = bodyOf(res)
  if (ticket === null || typeof ticket.ticket !== 'string' || typeof ticket.room !== 'string') return false
  let wait = ticket.estimatedWaitSeconds
  for (;;) {
    const seconds = Math.min(10, Math.max(1, typeof wait === 'number' ? wait : 1))
    if (Date.now() + seconds * 1000 > deadline) return false
    sleep(seconds)
    const view = http.get(settings.baseUrl + '/v1/waiting-rooms/' + ticket.room + '/tickets/' + ticket.ticket, {
      headers: headersFor(user, null),
      tags: { tx: 'waiting-room', name: 'GET /v1/waiting-rooms/:room/tickets/:ticket' }
    })
    record(view)
    const body = view.status === 200 ? bodyOf(view) : null
    if (body !== null && body.status === 'admitted' && typeof body.admissionToken === 'string') {
      user.admission = body.admissionToken
      return true
    }
    if (view.status === 404) return false
    wait = body !== null ? body.estimatedWaitSeconds : 5
  }
}

function headersFor (user, idempotencyKey) {
  const headers = {
    Authorization: 'Bearer ' + user.token,
    'X-Device-Id': user.deviceId,
    'X-Forwarded-For': user.address,
    'Accept-Language': user.language
  }
  if (idempotencyKey !== null) headers['Idempotency-Key'] = idempotencyKey
  if (user.admission !== null) headers['X-Admission-Token'] = user.admission
  return headers
}

/**
 * One request of a transaction with the client's behaviour: naive sends it again at once on no
 * answer, 429, 5xx or a waiting-room ticket; polite sleeps for Retry-After (or backs off 1, 2,
 * 4… s), waits in the room for its admission, and gives up past maxWaitSeconds.
 */
export function send (settings, user, tx, method, path, name, body, idempotencyKey) {
  const client = settings.profile.client
  const deadline = Date.now() + client.maxWaitSeconds * 1000
  const payload = body === null ? null : JSON.stringify(body)
  let res
  for (let attempt = 1; ; attempt++) {
    const headers = headersFor(user, idempotencyKey)
    if (payload !== null) headers['Content-Type'] = 'application/json'
    res = http.request(method, settings.baseUrl + path, payload, { headers, tags: { tx, name } })
    record(res)
    const admission = header(res, 'X-Admission-Token')
    if (admission !== null) user.admission = admission
    const waiting = isWaiting(res)
    if (waiting) waitingAnswers.add(1, { tx })
    if (!waiting && !retryable(res.status)) break
    if (attempt >= client.maxAttempts) break
    if (client.behaviour === 'polite') {
      if (waiting) {
        if (!waitForAdmission(settings, user, res, deadline)) break
      } else {
        const retryAfter = Number(header(res, 'Retry-After'))
        const seconds = retryAfter > 0 ? retryAfter : Math.min(30, Math.pow(2, attempt - 1)) * (0.5 + Math.random() / 2)
        if (Date.now() + seconds * 1000 > deadline) break
        sleep(seconds)
      }
    }
    retries.add(1, { tx })
  }
  return res
}

function outcome (tx, res) {
  const result = res.status === 0 || res.status >= 500 ? 'failed' : isWaiting(res) ? 'waiting' : res.status >= 400 ? 'refused' : 'ok'
  transactions.add(1, { tx, outcome: result })
  return result === 'ok' ? bodyOf(res) : null
}

function skipped (tx) {
  transactions.add(1, { tx, outcome: 'skipped' })
}

function key (run, user, what) {
  return 'rehearsal-' + run.runTag + '-' + user.n + '-' + what
}

const TRANSACTIONS = {
  schedule: function (settings, run, user) {
    outcome('schedule', send(settings, user, 'schedule', 'GET', '/v1/schedule', 'GET /v1/schedule', null, null))
  },
  registration: function (settings, run, user) {
    const k = user.registrations++
    const members = []
    for (let m = 0; m < settings.members; m++) members.push(person(run.runTag, user.n, k * settings.members + m))
    const created = outcome('registration', send(settings, user, 'registration', 'POST', '/v1/registrations', 'POST /v1/registrations',
      { members, preferredLanguage: user.language }, key(run, user, 'reg-' + k)))
    if (created !== null && typeof created.registrationId === 'string') {
      user.registrationId = created.registrationId
      user.members = members.length
      user.nextMember = 0
      user.requestId = null
    }
  },
  'appointment-request': function (settings, run, user) {
    if (user.registrationId === null) return skipped('appointment-request')
    const body = {
      registrationId: user.registrationId,
      poe: run.poes[user.n % run.poes.length],
      // Around Matamoros, inside the default geofence; a fix from a phone with good reception.
      location: { latitude: 25.85 + (user.n % 100) / 1000, longitude: -97.55 + (user.n % 97) / 1000, accuracyMeters: 20 }
    }
    const pooled = outcome('appointment-request', send(settings, user, 'appointment-request', 'POST', '/v1/appointment-requests', 'POST /v1/appointment-requests',
      body, key(run, user, 'apr-' + user.registrationId)))
    if (pooled !== null && typeof pooled.requestId === 'string') user.requestId = pooled.requestId
  },
  'status-poll': function (settings, run, user) {
    if (user.requestId !== null) {
      outcome('status-poll', send(settings, user, 'status-poll', 'GET', '/v1/appointment-requests/' + user.requestId, 'GET /v1/appointment-requests/:id', null, null))
    } else if (user.livenessId !== null) {
      outcome('status-poll', send(settings, user, 'status-poll', 'GET', '/v1/liveness/' + user.livenessId, 'GET /v1/liveness/:id', null, null))
    } else {
      skipped('status-poll')
    }
  },
  'liveness-upload': function (settings, run, user) {
    if (user.registrationId === null || user.nextMember >= user.members) return skipped('liveness-upload')
    const member = user.nextMember++
    const accepted = outcome('liveness-upload', send(settings, user, 'liveness-upload', 'POST', '/v1/liveness', 'POST /v1/liveness',
      { registrationId: user.registrationId, memberIndex: member, photo: settings.photo() }, key(run, user, 'liv-' + user.registrationId + '-' + member)))
    if (accepted !== null && typeof accepted.livenessId === 'string') user.livenessId = accepted.livenessId
  }
}

// This VU's applicants with a registration, for the follow-ups of a mix (module state is per VU).
const pool = []

function remember (user) {
  if (user.registrationId === null) return
  if (pool.indexOf(user) !== -1) return
  pool.push(user)
  if (pool.length > POOL_SIZE) pool.shift()
}

function find (k, test) {
  for (let i = 0; i < pool.length; i++) {
    const user = pool[(k + i) % pool.length]
    if (test(user)) return user
  }
  return null
}

// A mix's follow-up needs an applicant who got that far; until this VU has one, the arrival
// runs the missing step instead (so early in a run registrations stand in for uploads).
function mixArrival (settings, run, n) {
  let tx = mixPick(settings.profile.mix, n)
  let user = null
  if (tx === 'appointment-request') user = find(n, function (u) { return u.requestId === null })
  else if (tx === 'liveness-upload') user = find(n, function (u) { return u.nextMember < u.members })
  else if (tx === 'status-poll') {
    user = find(n, function (u) { return u.requestId !== null || u.livenessId !== null })
    if (user === null) {
      user = find(n, function (u) { return u.requestId === null })
      if (user !== null) tx = 'appointment-request'
    }
  }
  if (user === null && tx !== 'schedule' && tx !== 'registration') tx = 'registration'
  if (user === null) user = applicant(settings, run.runTag, n)
  TRANSACTIONS[tx](settings, run, user)
  remember(user)
}

/** One arrival: a transaction of the mix, or a new device going through the journey. */
export function arrival (settings, run) {
  const n = exec.scenario.iterationInTest
  const journey = settings.profile.journey
  if (journey === undefined) return mixArrival(settings, run, n)
  const user = applicant(settings, run.runTag, n)
  journey.steps.forEach(function (tx, i) {
    if (i > 0 && journey.thinkSeconds > 0) sleep(journey.thinkSeconds)
    TRANSACTIONS[tx](settings, run, user)
  })
}

function randomTag () {
  let tag = ''
  for (let i = 0; i < 8; i++) tag += Math.floor(Math.random() * 16).toString(16)
  return tag
}

// When the surge's first arrival starts: `leadSeconds` before the opening the profile aims at
// (OPENS_AT overrides it: an ISO instant, or "now" to start at once).
function surgeStart (settings, schedule, user) {
  const arrival = settings.profile.arrival
  const leadMs = arrival.leadSeconds * 1000
  const opensAt = settings.opensAt
  const source = opensAt !== '' ? 'OPENS_AT' : arrival.opening.source
  if (opensAt === 'now' || (opensAt === '' && source === 'now')) return Date.now()
  let at
  if (opensAt !== '') {
    at = Date.parse(opensAt)
    if (isNaN(at)) throw new Error('OPENS_AT must be an ISO 8601 instant or now, got ' + opensAt)
  } else if (source === 'request-window') {
    if (schedule.requestWindow.open) throw new Error('the request window is open now, so its next opening is a day away: start the gateway with GATEWAY_REQUEST_WINDOW_OPENS_AT a few minutes ahead (GATEWAY_TIMEZONE=UTC makes that easy), or run with -e OPENS_AT=now')
    at = Date.parse(schedule.requestWindow.nextChangeAt)
  } else {
    const room = arrival.opening.room
    const res = http.get(settings.baseUrl + '/v1/waiting-rooms/' + room, { headers: headersFor(user, null), tags: { tx: 'setup', name: 'GET /v1/waiting-rooms/:room' } })
    const overview = res.status === 200 ? bodyOf(res) : null
    if (overview === null || typeof overview.opensAt !== 'string') throw new Error('waiting room ' + room + ' has no opening ahead (GET /v1/waiting-rooms/' + room + ' answered ' + res.status + '): configure it in GATEWAY_WAITING_ROOMS or run with -e OPENS_AT=now')
    at = Date.parse(overview.opensAt)
  }
  const waitMs = at - leadMs - Date.now()
  if (waitMs > arrival.opening.maxWaitSeconds * 1000) throw new Error('the opening at ' + new Date(at).toISOString() + ' is more than ' + arrival.opening.maxWaitSeconds + ' s away: move it closer or set OPENS_AT')
  return at - leadMs
}

/** setup(): checks the gateway takes our tokens, reads its ports of entry, waits for a surge's opening. */
export function prepareRun (settings) {
  if (settings.tokens.length === 0) throw new Error('TOKENS_FILE holds no tokens: run prepare-tokens first')
  const runTag = randomTag()
  const user = applicant(settings, runTag, 0)
  const res = http.get(settings.baseUrl + '/v1/schedule', { headers: headersFor(user, null), tags: { tx: 'setup', name: 'GET /v1/schedule' } })
  if (res.status !== 200) throw new Error('GET ' + settings.baseUrl + '/v1/schedule answered ' + res.status + ': is the gateway up, and started with GATEWAY_AUTH_PUBLIC_KEY_FILE set to the key prepare-tokens wrote?')
  const schedule = bodyOf(res)
  const run = { runTag, poes: schedule.poes.map(function (p) { return p.slug }), startsAt: Date.now() }
  if (settings.profile.arrival.kind === 'surge') {
    run.startsAt = surgeStart(settings, schedule, user)
    const waitMs = run.startsAt - Date.now()
    if (waitMs > 0) sleep(waitMs / 1000)
  }
  return run
}
