// Bearer JWT on every /v1 route: signature, iss, aud and exp checked; the role claim must be one
// the route allows; applicant routes also need a canonical X-Device-Id. A /v1 route that does not
// say which roles it allows is refused at boot: secure by default.
import { createVerifier } from 'fast-jwt'
import type { FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import type { Config } from '../../config/load.js'
import type { VerificationKeys } from '../auth/keys.js'
import { cachedVerify, type Verify } from '../auth/token-cache.js'
import { clientNetwork } from '../domain/rate-limit-rules.js'
import type { Clock } from '../store/clock.js'
import { storeKey } from '../store/keys.js'
import { Keyspace } from '../store/memory/keyspace.js'
import { MemoryRateLimitStore } from '../store/memory/rate-limit-store.js'
import { GatewayError } from '../errors.js'

export const ROLES = ['applicant', 'partner', 'officer', 'ops'] as const
export type Role = typeof ROLES[number]

export interface Principal {
  subject: string
  role: Role
}

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Roles allowed on the route; every /v1 route must name them. */
    roles?: readonly Role[]
    /** false exempts the route from load shedding (health, metrics). */
    shed?: boolean
  }
  interface FastifyRequest {
    principal: Principal | null
    /** Canonical lower-case X-Device-Id, on applicant routes. */
    deviceId: string | undefined
  }
}

export interface AuthOptions {
  auth: Config['auth']
  keys: VerificationKeys
  clock: Clock
}

// RFC 9562 text form: 8-4-4-4-12 hex digits. Either case on input, lower case from here on.
const DEVICE_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

export default fp<AuthOptions>(async function auth (fastify, opts) {
  const verify = verifierFor(opts)
  const roleClaim = opts.auth.roleClaim
  const maxLifetimeMs = opts.auth.maxTokenLifetimeSeconds * 1000

  fastify.decorateRequest('principal', null)
  fastify.decorateRequest('deviceId', undefined)

  fastify.addHook('onRoute', (route) => {
    if (route.url.startsWith('/v1/') && (route.config?.roles === undefined || route.config.roles.length === 0)) {
      throw new Error(`route ${route.method.toString()} ${route.url} must name the roles it allows (config.roles)`)
    }
  })

  // Rejected tokens are counted per client network in this process: past the burst, that
  // network is refused before any signature is checked, until its bucket refills. Valid tokens
  // never touch this, so it costs the happy path nothing.
  const failures = new Keyspace(opts.clock, 10_000)
  const local = new MemoryRateLimitStore(failures)
  const blockedUntil = new Map<string, number>()
  fastify.addHook('onClose', async () => { failures.close() })

  // Synchronous work (verification is cached and sync), so a callback hook: no promise per request.
  fastify.addHook('onRequest', function (request, reply, done) {
    const roles = request.routeOptions.config.roles
    if (roles === undefined) return done()
    const network = clientNetwork(request.ip)
    const blocked = blockedUntil.get(network)
    if (blocked !== undefined) {
      const wait = blocked - opts.clock.now()
      if (wait > 0) return done(new GatewayError('GW_ERR_RATE_LIMITED', { retryAfterSeconds: Math.ceil(wait / 1000) }))
      blockedUntil.delete(network)
    }
    const refusal = authenticate(request, roles)
    if (refusal === undefined) return done()
    if (refusal.statusCode === 401) {
      const [decision] = local.decideNow([{ key: storeKey(`authfail.${network}`), ratePerSecond: opts.auth.failuresPerIpPerSecond, burst: opts.auth.failureBurstPerIp }])
      if (decision !== undefined && !decision.allowed) {
        if (blockedUntil.size >= 100_000) blockedUntil.clear()
        blockedUntil.set(network, opts.clock.now() + decision.retryAfterMs)
      }
    }
    if (refusal.statusCode === 401) {
      reply.header('www-authenticate', refusal.code === 'GW_ERR_AUTH_TOKEN_MISSING' ? 'Bearer' : 'Bearer error="invalid_token"')
    }
    done(refusal)
  })

  // Sets request.principal and request.deviceId, or returns why the request is refused.
  function authenticate (request: FastifyRequest, roles: readonly Role[]): GatewayError | undefined {
    const header = request.headers.authorization
    if (header === undefined || header === '') return new GatewayError('GW_ERR_AUTH_TOKEN_MISSING')
    const match = /^Bearer +([A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+)$/i.exec(header)
    if (match === null) return new GatewayError('GW_ERR_AUTH_TOKEN_INVALID')
    let claims: Record<string, unknown>
    try {
      claims = verify(match[1] as string)
    } catch (err) {
      return new GatewayError((err as { code?: string }).code === 'FAST_JWT_EXPIRED' ? 'GW_ERR_AUTH_TOKEN_EXPIRED' : 'GW_ERR_AUTH_TOKEN_INVALID')
    }
    // An exp far ahead would make a leaked token good for ever.
    if ((claims.exp as number) * 1000 - opts.clock.now() > maxLifetimeMs) return new GatewayError('GW_ERR_AUTH_TOKEN_INVALID')
    const role = claims[roleClaim]
    if (typeof claims.sub !== 'string' || claims.sub === '' || !ROLES.includes(role as Role)) return new GatewayError('GW_ERR_AUTH_TOKEN_INVALID')
    if (!roles.includes(role as Role)) return new GatewayError('GW_ERR_AUTH_FORBIDDEN')
    request.principal = { subject: claims.sub, role: role as Role }

    if (role === 'applicant') {
      const deviceId = request.headers['x-device-id']
      if (typeof deviceId !== 'string' || !DEVICE_ID.test(deviceId)) return new GatewayError('GW_ERR_DEVICE_ID_INVALID')
      request.deviceId = deviceId.toLowerCase()
    }
    return undefined
  }
}, { name: 'auth', dependencies: ['error-handler'] })

function verifierFor ({ auth, keys }: AuthOptions): Verify {
  const options = {
    algorithms: [...auth.algorithms],
    allowedIss: auth.issuer,
    allowedAud: auth.audience,
    requiredClaims: ['exp', 'sub', 'iss', 'aud'],
    clockTolerance: auth.clockToleranceSeconds * 1000
  }
  let verify: Verify
  if (keys.kind === 'pem') {
    verify = createVerifier({ ...options, key: keys.pem }) as Verify
  } else {
    // One synchronous verifier per key id: fast-jwt's key callback would make every check async.
    const byKid = new Map([...keys.byKid].map(([kid, pem]) => [kid, createVerifier({ ...options, key: pem }) as Verify]))
    verify = (token) => {
      const verifier = byKid.get(kidOf(token))
      if (verifier === undefined) throw new Error('unknown kid')
      return verifier(token)
    }
  }
  return auth.cacheSize === 0 ? verify : cachedVerify(verify, auth.cacheSize, auth.clockToleranceSeconds * 1000)
}

function kidOf (token: string): string {
  try {
    const header = JSON.parse(Buffer.from(token.slice(0, token.indexOf('.')), 'base64url').toString('utf8')) as { kid?: unknown }
    return typeof header.kid === 'string' ? header.kid : ''
  } catch {
    return ''
  }
}
