// Surge rehearsal with k6 (v0.45 or later), one profile per run:
//
//   k6 run -e PROFILE=steady-480k -e SCALE=0.1 -e BASE_URL=http://127.0.0.1:8080 loadtests/k6/rehearsal.js
//
// PROFILE     a file in loadtests/profiles (steady-240k, steady-360k, steady-480k, surge-9am,
//             bot-farm, vendor-throttle, soak); required
// SCALE       multiplies arrival rates, counts and VUs (0.1 for a small machine); default 1
// BASE_URL    the gateway, on this machine only; default http://127.0.0.1:8080
// TOKENS_FILE JSON array of bearer tokens from prepare-tokens; default .rehearsal/tokens.json
// PHOTO_FILE  base64 photo from prepare-tokens, for liveness uploads; default .rehearsal/photo.b64
// CLIENT      naive or polite: overrides the profile's client behaviour
// OPENS_AT    surge only: an ISO instant or "now", instead of the opening the gateway reports
//
// k6 resolves open() paths against this script's folder, so relative defaults point at the
// repository root; give absolute paths for files elsewhere.
import { SharedArray } from 'k6/data'
import { BEHAVIOURS, parseScale, validateProfile } from '../profiles/model.js'
import { checkBaseUrl, arrival, prepareRun } from './lib.js'
import { optionsFor } from './options.js'

const name = __ENV.PROFILE || ''
if (!/^[a-z][a-z0-9-]{0,31}$/.test(name)) throw new Error('PROFILE must name a file in loadtests/profiles, such as -e PROFILE=steady-240k, got "' + name + '"')

/** The profile file, relative to this script: the same file the Node loader reads. */
export const PROFILE_PATH = '../profiles/' + name + '.json'
const profile = validateProfile(JSON.parse(open(PROFILE_PATH)), name + '.json', name)
const scale = parseScale(__ENV.SCALE)
if (__ENV.CLIENT) {
  if (BEHAVIOURS.indexOf(__ENV.CLIENT) === -1) throw new Error('CLIENT must be naive or polite, got "' + __ENV.CLIENT + '"')
  profile.client.behaviour = __ENV.CLIENT
}

export const options = optionsFor(profile, scale)

const tokensFile = __ENV.TOKENS_FILE || '../../.rehearsal/tokens.json'
const tokens = new SharedArray('tokens', function () {
  const list = JSON.parse(open(tokensFile))
  if (!Array.isArray(list) || list.some(function (t) { return typeof t !== 'string' })) throw new Error('TOKENS_FILE must hold a JSON array of tokens: ' + tokensFile)
  return list
})

const uploads = profile.journey !== undefined ? profile.journey.steps.indexOf('liveness-upload') !== -1 : (profile.mix['liveness-upload'] || 0) > 0
const photoFile = __ENV.PHOTO_FILE || '../../.rehearsal/photo.b64'
const photo = new SharedArray('photo', function () { return uploads ? [open(photoFile).trim()] : [] })

const settings = {
  profile,
  scale,
  baseUrl: checkBaseUrl(__ENV.BASE_URL || 'http://127.0.0.1:8080'),
  tokens,
  photo: function () { return photo[0] },
  members: 1,
  opensAt: __ENV.OPENS_AT || ''
}

export function setup () {
  return prepareRun(settings)
}

export default function (run) {
  arrival(settings, run)
}
