// k6 options from a profile: scenario, thresholds and timeouts. Pure (no k6 module), so the tests
// evaluate it in Node and compare it with what the Node-side loader computes from the same file.
import { constantRate, surgeStages, TX_TYPES, vusFor } from '../profiles/model.js'

/** Requests answered 5xx or not at all (status 0), share of all requests. */
export const SERVER_ERRORS = 'server_errors'
/** Requests answered 5xx other than a deliberate 503 with Retry-After, or not at all. */
export const UNEXPECTED_SERVER_ERRORS = 'unexpected_server_errors'
/** 429 and 503 answers without Retry-After: every refusal must say when to come back. */
export const BARE_REFUSALS = 'refusals_without_retry_after'

/** The threshold expressions of a profile's SLOs, keyed by metric (with its tx sub-metric). */
export function thresholdsFor (profile) {
  const slo = profile.slo
  const thresholds = {}
  if (slo.serverErrorRate !== undefined) thresholds[SERVER_ERRORS] = ['rate<=' + slo.serverErrorRate]
  thresholds[UNEXPECTED_SERVER_ERRORS] = ['rate<=' + slo.unexpectedServerErrorRate]
  thresholds[BARE_REFUSALS] = ['count<=0']
  thresholds.dropped_iterations = ['count<=' + slo.droppedIterations]
  TX_TYPES.forEach(function (tx) {
    const limits = slo.latencyMs[tx]
    if (limits === undefined) return
    thresholds['http_req_duration{tx:' + tx + '}'] = ['p(95)<' + limits.p95, 'p(99)<' + limits.p99]
  })
  return thresholds
}

/** The one scenario a profile runs, named after it, at a scale. */
export function scenarioFor (profile, scale) {
  const vus = vusFor(profile, scale)
  let scenario
  if (profile.arrival.kind === 'constant') {
    scenario = {
      executor: 'constant-arrival-rate',
      rate: constantRate(profile, scale),
      timeUnit: profile.arrival.timeUnit,
      duration: profile.arrival.durationSeconds + 's',
      preAllocatedVUs: vus.preAllocatedVUs,
      maxVUs: vus.maxVUs
    }
  } else {
    const plan = surgeStages(profile, scale)
    scenario = {
      executor: 'ramping-arrival-rate',
      startRate: plan.startRate,
      timeUnit: plan.timeUnit,
      stages: plan.stages.map(function (stage) { return { duration: stage.durationSeconds + 's', target: stage.target } }),
      preAllocatedVUs: vus.preAllocatedVUs,
      maxVUs: vus.maxVUs
    }
  }
  // Iterations still running at the end get the client's whole retry budget to finish.
  scenario.gracefulStop = (profile.client.maxWaitSeconds + 30) + 's'
  scenario.tags = { profile: profile.name }
  return scenario
}

/** Seconds setup() may take: finding the opening and waiting for it, when the profile has one. */
export function setupTimeoutSeconds (profile) {
  return profile.arrival.kind === 'surge' ? profile.arrival.opening.maxWaitSeconds + 60 : 60
}

/** Everything `export const options` holds for a profile at a scale. */
export function optionsFor (profile, scale) {
  const scenarios = {}
  scenarios[profile.name] = scenarioFor(profile, scale)
  return {
    scenarios,
    thresholds: thresholdsFor(profile),
    setupTimeout: setupTimeoutSeconds(profile) + 's',
    summaryTrendStats: ['avg', 'med', 'p(95)', 'p(99)', 'max'],
    tags: { profile: profile.name, scale: String(scale) },
    // Every answer is the gateway's own; a redirect would be a misconfigured target.
    maxRedirects: 0
  }
}
