// Cross-origin reads from browsers: closed unless GATEWAY_CORS_ORIGINS lists origins. Closed, no
// Access-Control-* header is ever sent and a preflight finds no route (404). Open, only the listed
// origins get Access-Control-Allow-Origin, on answers and on errors alike (the hook runs before
// authentication, so a 401 or 429 is readable by the app that caused it). Bearer tokens, not
// cookies: credentials are never allowed.
import fastifyCors from '@fastify/cors'
import fp from 'fastify-plugin'
import type { Config } from '../../config/load.js'
import { GatewayError } from '../errors.js'

/** Request headers a browser app may send. */
export const CORS_ALLOWED_HEADERS = ['authorization', 'content-type', 'accept-language', 'idempotency-key', 'x-device-id', 'x-admission-token']
/** Response headers a browser app may read. */
export const CORS_EXPOSED_HEADERS = ['retry-after', 'ratelimit', 'ratelimit-policy', 'x-request-id', 'content-language', 'idempotent-replayed', 'x-admission-token', 'x-waiting-room']

export default fp<Config['cors']>(async function cors (fastify, opts) {
  if (opts.origins.length === 0) return
  // An OPTIONS request that is not a preflight (no Origin or no Access-Control-Request-Method)
  // is refused in the catalogue's shape; @fastify/cors's strict mode would answer it in
  // text/plain (found by the route fuzzer).
  fastify.addHook('onRequest', function (request, _reply, done) {
    if (request.method !== 'OPTIONS' || request.routeOptions.url !== '*') return done()
    const origin = request.headers.origin
    const method = request.headers['access-control-request-method']
    if (typeof origin !== 'string' || origin === '' || typeof method !== 'string' || method === '') return done(new GatewayError('GW_ERR_REQUEST_MALFORMED'))
    done()
  })
  await fastify.register(fastifyCors, {
    origin: [...opts.origins],
    methods: ['GET', 'HEAD', 'POST', 'PUT', 'DELETE'],
    allowedHeaders: CORS_ALLOWED_HEADERS,
    exposedHeaders: CORS_EXPOSED_HEADERS,
    credentials: false,
    maxAge: opts.maxAgeSeconds,
    strictPreflight: false,
    hideOptionsRoute: true
  })
}, { name: 'cors' })
