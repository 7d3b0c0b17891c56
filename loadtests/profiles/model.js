// Rehearsal profiles: their validation and arithmetic, in one plain JavaScript module with no
// imports, so that k6 (which runs JavaScript, not TypeScript, and has no Node APIs) and the Node
// side (index.ts, the future Node runner, the tests) share exactly one copy of every rule and
// number. Written in the ES2017 subset k6's JavaScript engine accepts: no object spread, no
// optional chaining, no class fields. Types are in model.d.ts.

/** Transaction types: one business step each, the `tx` tag of every request they make. */
export const TX_TYPES = ['schedule', 'status-poll', 'registration', 'appointment-request', 'liveness-upload']

/** Client behaviours: `naive` retries at once on an error (the 2023 app); `polite` honours Retry-After and waiting-room tickets. */
export const BEHAVIOURS = ['naive', 'polite']

const TIME_UNITS = { '1s': 1, '1m': 60, '1h': 3600 }
const OPENING_SOURCES = ['request-window', 'waiting-room', 'now']
const NAME = /^[a-z][a-z0-9-]{0,31}$/
const MAX_SCALE = 10

/** A profile or a scale that breaks a rule; the message names the file, the field and the rule. */
export class ProfileError extends Error {
  constructor (message) {
    super(message)
    this.name = 'ProfileError'
  }
}

function isObject (value) {
  return value !== null && typeof value === 'object' && !Array.isArray(value)
}

function fail (source, message) {
  throw new ProfileError(source + ': ' + message)
}

function only (source, path, value, allowed) {
  Object.keys(value).forEach(function (key) {
    if (allowed.indexOf(key) === -1) fail(source, (path === '' ? '' : path + '.') + key + ' is not a known field')
  })
}

function positiveInteger (source, path, value, max) {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > max) fail(source, path + ' must be an integer from 1 to ' + max)
}

function positiveNumber (source, path, value, max) {
  if (typeof value !== 'number' || !isFinite(value) || value <= 0 || value > max) fail(source, path + ' must be a number greater than 0 and at most ' + max)
}

function share (source, path, value) {
  if (typeof value !== 'number' || !isFinite(value) || value < 0 || value > 1) fail(source, path + ' must be a number from 0 to 1')
}

function timeUnit (source, path, value) {
  if (!Object.prototype.hasOwnProperty.call(TIME_UNITS, value)) fail(source, path + ' must be one of 1s, 1m, 1h')
}

function validateArrival (source, arrival) {
  if (!isObject(arrival)) fail(source, 'arrival must be an object')
  if (arrival.model !== 'open') fail(source, 'arrival.model must be open (arrivals per unit time, whatever the answers)')
  if (arrival.kind === 'constant') {
    only(source, 'arrival', arrival, ['model', 'kind', 'rate', 'timeUnit', 'durationSeconds'])
    positiveInteger(source, 'arrival.rate', arrival.rate, 100000000)
    timeUnit(source, 'arrival.timeUnit', arrival.timeUnit)
    positiveInteger(source, 'arrival.durationSeconds', arrival.durationSeconds, 7 * 86400)
  } else if (arrival.kind === 'surge') {
    only(source, 'arrival', arrival, ['model', 'kind', 'devices', 'timeUnit', 'opening', 'leadSeconds', 'shape'])
    positiveInteger(source, 'arrival.devices', arrival.devices, 100000000)
    timeUnit(source, 'arrival.timeUnit', arrival.timeUnit)
    if (!isObject(arrival.opening)) fail(source, 'arrival.opening must be an object')
    only(source, 'arrival.opening', arrival.opening, ['source', 'room', 'maxWaitSeconds'])
    if (OPENING_SOURCES.indexOf(arrival.opening.source) === -1) fail(source, 'arrival.opening.source must be one of ' + OPENING_SOURCES.join(', '))
    if (arrival.opening.source === 'waiting-room' && (typeof arrival.opening.room !== 'string' || !NAME.test(arrival.opening.room))) fail(source, 'arrival.opening.room must name the waiting room (a lower-case slug) when the source is waiting-room')
    positiveInteger(source, 'arrival.opening.maxWaitSeconds', arrival.opening.maxWaitSeconds, 86400)
    if (typeof arrival.leadSeconds !== 'number' || !Number.isInteger(arrival.leadSeconds) || arrival.leadSeconds < 0) fail(source, 'arrival.leadSeconds must be a non-negative integer')
    if (!Array.isArray(arrival.shape) || arrival.shape.length === 0) fail(source, 'arrival.shape must be a non-empty array of {durationSeconds, share}')
    let sum = 0
    let lead = 0
    arrival.shape.forEach(function (segment, i) {
      const path = 'arrival.shape[' + i + ']'
      if (!isObject(segment)) fail(source, path + ' must be an object')
      only(source, path, segment, ['durationSeconds', 'share'])
      positiveInteger(source, path + '.durationSeconds', segment.durationSeconds, 86400)
      share(source, path + '.share', segment.share)
      sum += segment.share
      if (lead < arrival.leadSeconds) lead += segment.durationSeconds
    })
    if (Math.abs(sum - 1) > 1e-9) fail(source, 'arrival.shape shares must add up to 1, got ' + sum)
    if (lead !== arrival.leadSeconds) fail(source, 'arrival.leadSeconds must end where a shape segment ends (the opening starts a segment)')
  } else {
    fail(source, 'arrival.kind must be constant or surge')
  }
}

function validateWork (source, profile) {
  const hasMix = profile.mix !== undefined
  const hasJourney = profile.journey !== undefined
  if (hasMix === hasJourney) fail(source, 'exactly one of mix and journey must be given')
  if (hasMix) {
    if (!isObject(profile.mix)) fail(source, 'mix must be an object of transaction type to share')
    let sum = 0
    Object.keys(profile.mix).forEach(function (tx) {
      if (TX_TYPES.indexOf(tx) === -1) fail(source, 'mix.' + tx + ' is not a transaction type (' + TX_TYPES.join(', ') + ')')
      share(source, 'mix.' + tx, profile.mix[tx])
      sum += profile.mix[tx]
    })
    if (Math.abs(sum - 1) > 1e-9) fail(source, 'mix shares must add up to 1, got ' + sum)
  } else {
    const journey = profile.journey
    if (!isObject(journey)) fail(source, 'journey must be an object {steps, thinkSeconds}')
    only(source, 'journey', journey, ['steps', 'thinkSeconds'])
    if (!Array.isArray(journey.steps) || journey.steps.length === 0 || journey.steps.length > 100) fail(source, 'journey.steps must be an array of 1 to 100 transaction types')
    journey.steps.forEach(function (tx, i) {
      if (TX_TYPES.indexOf(tx) === -1) fail(source, 'journey.steps[' + i + '] is not a transaction type (' + TX_TYPES.join(', ') + ')')
    })
    if (typeof journey.thinkSeconds !== 'number' || !isFinite(journey.thinkSeconds) || journey.thinkSeconds < 0 || journey.thinkSeconds > 3600) fail(source, 'journey.thinkSeconds must be a number from 0 to 3600')
  }
}

function validateClient (source, client) {
  if (!isObject(client)) fail(source, 'client must be an object')
  only(source, 'client', client, ['behaviour', 'maxAttempts', 'maxWaitSeconds'])
  if (BEHAVIOURS.indexOf(client.behaviour) === -1) fail(source, 'client.behaviour must be naive or polite')
  positiveInteger(source, 'client.maxAttempts', client.maxAttempts, 1000)
  positiveInteger(source, 'client.maxWaitSeconds', client.maxWaitSeconds, 3600)
}

function validateSlo (source, slo) {
  if (!isObject(slo)) fail(source, 'slo must be an object')
  only(source, 'slo', slo, ['serverErrorRate', 'unexpectedServerErrorRate', 'droppedIterations', 'latencyMs'])
  if (slo.serverErrorRate !== undefined) share(source, 'slo.serverErrorRate', slo.serverErrorRate)
  share(source, 'slo.unexpectedServerErrorRate', slo.unexpectedServerErrorRate)
  if (typeof slo.droppedIterations !== 'number' || !Number.isInteger(slo.droppedIterations) || slo.droppedIterations < 0) fail(source, 'slo.droppedIterations must be a non-negative integer')
  if (!isObject(slo.latencyMs)) fail(source, 'slo.latencyMs must be an object of transaction type to {p95, p99}')
  Object.keys(slo.latencyMs).forEach(function (tx) {
    const path = 'slo.latencyMs.' + tx
    if (TX_TYPES.indexOf(tx) === -1) fail(source, path + ' is not a transaction type (' + TX_TYPES.join(', ') + ')')
    const limits = slo.latencyMs[tx]
    if (!isObject(limits)) fail(source, path + ' must be an object {p95, p99}')
    only(source, path, limits, ['p95', 'p99'])
    positiveNumber(source, path + '.p95', limits.p95, 600000)
    positiveNumber(source, path + '.p99', limits.p99, 600000)
    if (limits.p99 < limits.p95) fail(source, path + '.p99 must be at least its p95')
  })
}

/**
 * Checks a parsed profile and returns it; throws ProfileError with `<source>: <field> <rule>`.
 * `source` names where it came from (a file name), `expectedName` the name it must carry.
 */
export function validateProfile (value, source, expectedName) {
  if (!isObject(value)) fail(source, 'a profile must be a JSON object')
  only(source, '', value, ['name', 'description', 'arrival', 'mix', 'journey', 'client', 'network', 'accounts', 'vus', 'slo'])
  if (typeof value.name !== 'string' || !NAME.test(value.name)) fail(source, 'name must be a lower-case slug of letters, digits and dashes')
  if (expectedName !== undefined && value.name !== expectedName) fail(source, 'name must be ' + expectedName + ' (the file name), got ' + value.name)
  if (typeof value.description !== 'string' || value.description.length === 0) fail(source, 'description must be a non-empty string')
  validateArrival(source, value.arrival)
  validateWork(source, value)
  validateClient(source, value.client)
  if (!isObject(value.network)) fail(source, 'network must be an object {addresses}')
  only(source, 'network', value.network, ['addresses'])
  if (typeof value.network.addresses !== 'number' || !Number.isInteger(value.network.addresses) || value.network.addresses < 0 || value.network.addresses > 4194304) fail(source, 'network.addresses must be an integer from 0 (one per arrival) to 4194304')
  if (value.accounts !== undefined) positiveInteger(source, 'accounts', value.accounts, 10000000)
  if (!isObject(value.vus)) fail(source, 'vus must be an object {preAllocated, max}')
  only(source, 'vus', value.vus, ['preAllocated', 'max'])
  positiveInteger(source, 'vus.preAllocated', value.vus.preAllocated, 1000000)
  positiveInteger(source, 'vus.max', value.vus.max, 1000000)
  if (value.vus.max < value.vus.preAllocated) fail(source, 'vus.max must be at least vus.preAllocated')
  validateSlo(source, value.slo)
  return value
}

/** Checks a scale factor (arrival rates and counts are multiplied by it). */
export function checkScale (scale) {
  if (typeof scale !== 'number' || !isFinite(scale) || scale <= 0 || scale > MAX_SCALE) throw new ProfileError('scale must be a number greater than 0 and at most ' + MAX_SCALE + ', got ' + String(scale))
  return scale
}

/** Parses SCALE / --scale text; absent means 1. */
export function parseScale (text) {
  if (text === undefined || text === null || text === '') return 1
  const scale = Number(text)
  if (String(text).trim() === '' || !isFinite(scale) || scale <= 0 || scale > MAX_SCALE) throw new ProfileError('scale must be a number greater than 0 and at most ' + MAX_SCALE + ', got "' + String(text) + '"')
  return scale
}

/** Seconds in a k6 time unit ('1s', '1m', '1h'). */
export function timeUnitSeconds (unit) {
  const seconds = TIME_UNITS[unit]
  if (seconds === undefined) throw new ProfileError('time unit must be one of 1s, 1m, 1h, got ' + String(unit))
  return seconds
}

// k6 takes whole arrivals per time unit: scaled rates are rounded, and never below 1 (a scaled
// profile still sends something).
function scaledRate (rate, scale) {
  return Math.max(1, Math.round(rate * checkScale(scale)))
}

/**
 * Arrivals per second: exactly rate × scale / unit for a constant profile (480,000/h → 133.33…/s),
 * the busiest segment's rate for a surge.
 */
export function perSecond (profile, scale) {
  const arrival = profile.arrival
  if (arrival.kind === 'constant') return arrival.rate * checkScale(scale) / timeUnitSeconds(arrival.timeUnit)
  let peak = 0
  surgeStages(profile, scale).stages.forEach(function (stage) { peak = Math.max(peak, stage.target) })
  return peak / timeUnitSeconds(arrival.timeUnit)
}

/**
 * A surge as k6 ramping-arrival-rate stages: piecewise constant, one level per shape segment
 * (a zero-length stage jumps to the level, a second holds it), in arrivals per `timeUnit`, each
 * level the segment's share of `devices × scale` spread evenly over the segment.
 */
export function surgeStages (profile, scale) {
  const arrival = profile.arrival
  if (arrival.kind !== 'surge') throw new ProfileError(profile.name + ': surgeStages needs a surge profile')
  const unit = timeUnitSeconds(arrival.timeUnit)
  const devices = arrival.devices * checkScale(scale)
  const stages = []
  let startRate = 0
  arrival.shape.forEach(function (segment, i) {
    const level = Math.round(devices * segment.share * unit / segment.durationSeconds)
    if (i === 0) startRate = level
    else stages.push({ durationSeconds: 0, target: level })
    stages.push({ durationSeconds: segment.durationSeconds, target: level })
  })
  return { timeUnit: arrival.timeUnit, startRate, stages }
}

/** Seconds a profile's arrivals last. */
export function durationSeconds (profile) {
  const arrival = profile.arrival
  if (arrival.kind === 'constant') return arrival.durationSeconds
  return arrival.shape.reduce(function (sum, segment) { return sum + segment.durationSeconds }, 0)
}

/** The constant rate k6 is given: rate × scale, rounded, in arrivals per the profile's time unit. */
export function constantRate (profile, scale) {
  if (profile.arrival.kind !== 'constant') throw new ProfileError(profile.name + ': constantRate needs a constant profile')
  return scaledRate(profile.arrival.rate, scale)
}

/** Arrivals the profile starts in all, at a scale: the integral of the rate k6 is given. */
export function totalArrivals (profile, scale) {
  const arrival = profile.arrival
  const unit = timeUnitSeconds(arrival.timeUnit)
  if (arrival.kind === 'constant') return constantRate(profile, scale) * arrival.durationSeconds / unit
  const plan = surgeStages(profile, scale)
  let rate = plan.startRate
  let total = 0
  plan.stages.forEach(function (stage) {
    total += (rate + stage.target) / 2 * stage.durationSeconds / unit
    rate = stage.target
  })
  return total
}

/** Arrivals in [fromSecond, toSecond) of a surge, counted from the start of its first segment. */
export function surgeArrivalsBetween (profile, scale, fromSecond, toSecond) {
  const plan = surgeStages(profile, scale)
  const unit = timeUnitSeconds(plan.timeUnit)
  let at = 0
  let total = 0
  plan.stages.forEach(function (stage) {
    const end = at + stage.durationSeconds
    // Levels are constant within a stage of positive length (zero-length stages only jump).
    const overlap = Math.max(0, Math.min(end, toSecond) - Math.max(at, fromSecond))
    total += stage.target * overlap / unit
    at = end
  })
  return total
}

/** VUs k6 pre-allocates and may grow to, scaled (never below 1). */
export function vusFor (profile, scale) {
  checkScale(scale)
  const preAllocated = Math.max(1, Math.ceil(profile.vus.preAllocated * scale))
  const max = Math.max(preAllocated, Math.ceil(profile.vus.max * scale))
  return { preAllocatedVUs: preAllocated, maxVUs: max }
}

/**
 * Bearer tokens (accounts) a run needs: one per arrival, or the profile's `accounts` × scale when
 * it caps them (accounts are then reused in turn).
 */
export function tokensNeeded (profile, scale) {
  const arrivals = Math.ceil(totalArrivals(profile, scale))
  if (profile.accounts === undefined) return arrivals
  return Math.min(arrivals, Math.max(1, Math.ceil(profile.accounts * scale)))
}

/** Transactions per arrival: 1 for a mix, the journey's length for a journey. */
export function transactionsPerArrival (profile) {
  return profile.journey === undefined ? 1 : profile.journey.steps.length
}

/**
 * The transaction type the k-th arrival of a mix runs: deterministic and exact in the long run
 * (the k-th arrival takes the type whose cumulative share first exceeds (k × φ) mod 1, a
 * low-discrepancy sequence, so every window of arrivals holds close to the mix).
 */
export function mixPick (mix, k) {
  const u = (k * 0.6180339887498949) % 1
  let cumulative = 0
  let last
  for (let i = 0; i < TX_TYPES.length; i++) {
    const tx = TX_TYPES[i]
    if (mix[tx] === undefined || mix[tx] === 0) continue
    cumulative += mix[tx]
    last = tx
    if (u < cumulative) return tx
  }
  return last
}
