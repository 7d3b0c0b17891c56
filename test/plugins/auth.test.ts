import { generateKeyPairSync, randomUUID } from 'node:crypto'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createSigner } from 'fast-jwt'
import Fastify from 'fastify'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { FastifyInstance } from 'fastify'
import app from '../../gateway/app.js'
import { loadVerificationKeys } from '../../gateway/auth/keys.js'
import { ERRORS, type ErrorCode } from '../../gateway/errors.js'
import { serverOptions } from '../../gateway/server-options.js'
import { createMemoryStores } from '../../gateway/store/memory/index.js'
import { ManualClock } from '../../gateway/store/clock.js'
import { buildApp, testConfig } from '../helpers/app.js'
import { privateKeyPem, publicKeyPem, token } from '../helpers/tokens.js'

const device = randomUUID()

function b64 (value: object): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url')
}

describe('authentication', () => {
  let gateway: FastifyInstance

  beforeAll(async () => {
    gateway = await buildApp({
      config: testConfig({ GATEWAY_RATE_LIMIT_RULES: '[]' }),
      routes: (f) => {
        f.get('/v1/test/ops-only', { config: { roles: ['ops'] } }, async (request) => ({ principal: request.principal }))
      }
    })
  })
  afterAll(async () => { await gateway.close() })

  async function expectError (headers: Record<string, string>, status: number, code: ErrorCode, url = '/v1/schedule') {
    const res = await gateway.inject({ url, headers: { 'accept-language': 'es', ...headers } })
    expect(res.statusCode).toBe(status)
    expect(res.json()).toEqual({ code, message: ERRORS[code].messages.es })
    return res
  }

  it('serves a valid applicant token with a device id', async () => {
    const res = await gateway.inject({ url: '/v1/schedule', headers: { authorization: `Bearer ${token()}`, 'x-device-id': device } })
    expect(res.statusCode).toBe(200)
  })

  it('answers no token with 401 GW_ERR_AUTH_TOKEN_MISSING and a Bearer challenge', async () => {
    const res = await expectError({ 'x-device-id': device }, 401, 'GW_ERR_AUTH_TOKEN_MISSING')
    expect(res.headers['www-authenticate']).toBe('Bearer')
  })

  it('answers an expired token with 401 GW_ERR_AUTH_TOKEN_EXPIRED', async () => {
    const res = await expectError({ authorization: `Bearer ${token({ expiresInSeconds: -120 })}`, 'x-device-id': device }, 401, 'GW_ERR_AUTH_TOKEN_EXPIRED')
    expect(res.headers['www-authenticate']).toBe('Bearer error="invalid_token"')
  })

  it.each([
    ['another audience', () => token({ aud: 'someone-else' })],
    ['another issuer', () => token({ iss: 'https://evil.example' })],
    ['another signing key', () => token({ key: generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString() })],
    ['an unknown role', () => token({ role: 'admin' })],
    ['no subject', () => token({ sub: '' })],
    ['alg none (unsigned)', () => `${b64({ alg: 'none', typ: 'JWT' })}.${b64({ sub: 'x', role: 'applicant', iss: 'appointment-gateway', aud: 'appointment-gateway-api', exp: Math.floor(Date.now() / 1000) + 600 })}.`],
    ['HS256 keyed with the public key (algorithm confusion)', () => createSigner({ key: publicKeyPem, algorithm: 'HS256' })({ sub: 'x', role: 'applicant', iss: 'appointment-gateway', aud: 'appointment-gateway-api' })],
    ['a tampered payload', () => { const [h, , s] = token().split('.'); return `${h}.${b64({ sub: 'x', role: 'ops', iss: 'appointment-gateway', aud: 'appointment-gateway-api', exp: 9999999999 })}.${s}` }],
    ['garbage', () => 'not-a-token'],
    ['an exp further ahead than the longest lifetime allowed', () => token({ expiresInSeconds: 2 * 24 * 3600 })],
    ['no exp', () => createSigner({ key: privateKeyPem, algorithm: 'ES256', noTimestamp: true })({ sub: 'x', role: 'applicant', iss: 'appointment-gateway', aud: 'appointment-gateway-api' })],
    ['no iss', () => createSigner({ key: privateKeyPem, algorithm: 'ES256', expiresIn: 60_000 })({ sub: 'x', role: 'applicant', aud: 'appointment-gateway-api' })],
    ['no aud', () => createSigner({ key: privateKeyPem, algorithm: 'ES256', expiresIn: 60_000 })({ sub: 'x', role: 'applicant', iss: 'appointment-gateway' })]
  ])('answers a token with %s with 401 GW_ERR_AUTH_TOKEN_INVALID', async (_name, make) => {
    await expectError({ authorization: `Bearer ${make()}`, 'x-device-id': device }, 401, 'GW_ERR_AUTH_TOKEN_INVALID')
  })

  it('answers a role the route does not allow with 403 GW_ERR_AUTH_FORBIDDEN', async () => {
    await expectError({ authorization: `Bearer ${token({ role: 'partner' })}`, 'x-device-id': device }, 403, 'GW_ERR_AUTH_FORBIDDEN')
    await expectError({ authorization: `Bearer ${token({ role: 'applicant' })}`, 'x-device-id': device }, 403, 'GW_ERR_AUTH_FORBIDDEN', '/v1/test/ops-only')
    const ops = await gateway.inject({ url: '/v1/test/ops-only', headers: { authorization: `Bearer ${token({ role: 'ops', sub: 'ops-1' })}` } })
    expect(ops.json()).toEqual({ principal: { subject: 'ops-1', role: 'ops' } })
  })

  it.each([
    ['missing', undefined],
    ['not a UUID', 'my-phone'],
    ['a UUID without dashes', device.replace(/-/g, '')],
    ['a UUID in braces', `{${device}}`]
  ])('answers an applicant whose X-Device-Id is %s with 400 GW_ERR_DEVICE_ID_INVALID', async (_name, deviceId) => {
    await expectError({ authorization: `Bearer ${token()}`, ...(deviceId === undefined ? {} : { 'x-device-id': deviceId }) }, 400, 'GW_ERR_DEVICE_ID_INVALID')
  })

  it('accepts an upper-case device UUID', async () => {
    const res = await gateway.inject({ url: '/v1/schedule', headers: { authorization: `Bearer ${token()}`, 'x-device-id': device.toUpperCase() } })
    expect(res.statusCode).toBe(200)
  })

  it('leaves health and metrics open', async () => {
    expect((await gateway.inject('/healthz')).statusCode).toBe(200)
    expect((await gateway.inject('/metrics')).statusCode).toBe(200)
  })
})

describe('forged-token floods', () => {
  it('refuse a network that sends too many rejected tokens before checking more signatures, and let it back after', async () => {
    const clock = new ManualClock(Date.now())
    const gateway = await buildApp({
      clock,
      config: testConfig({ GATEWAY_RATE_LIMIT_RULES: '[]', GATEWAY_AUTH_FAILURES_PER_IP_PER_SECOND: '1', GATEWAY_AUTH_FAILURE_BURST_PER_IP: '3' })
    })
    try {
      const forged = `${token().split('.').slice(0, 2).join('.')}.${Buffer.from('forged').toString('base64url')}`
      const from = (ip: string, bearer: string) => ({ url: '/v1/schedule', remoteAddress: ip, headers: { authorization: `Bearer ${bearer}`, 'x-device-id': device } })
      const codes: string[] = []
      for (let i = 0; i < 5; i++) codes.push((await gateway.inject(from('198.51.100.9', forged))).json().code)
      expect(codes).toEqual(['GW_ERR_AUTH_TOKEN_INVALID', 'GW_ERR_AUTH_TOKEN_INVALID', 'GW_ERR_AUTH_TOKEN_INVALID', 'GW_ERR_AUTH_TOKEN_INVALID', 'GW_ERR_RATE_LIMITED'])
      // Even a valid token from that network waits, and says for how long.
      const held = await gateway.inject(from('198.51.100.9', token()))
      expect(held.statusCode).toBe(429)
      expect(held.headers['retry-after']).toBe('1')
      // Other networks are untouched; the blocked one is back once its bucket refills.
      expect((await gateway.inject(from('198.51.100.10', token()))).statusCode).toBe(200)
      clock.advance(1000)
      expect((await gateway.inject(from('198.51.100.9', token()))).statusCode).toBe(200)
    } finally {
      await gateway.close()
    }
  })
})

describe('verification keys', () => {
  const dir = mkdtempSync(join(tmpdir(), 'gateway-keys-'))

  it('verifies by kid from a JWKS file', async () => {
    const pair = generateKeyPairSync('ec', { namedCurve: 'P-256' })
    const jwk = { ...pair.publicKey.export({ format: 'jwk' }), kid: 'k-2026', use: 'sig', alg: 'ES256' }
    const jwksFile = join(dir, 'jwks.json')
    writeFileSync(jwksFile, JSON.stringify({ keys: [jwk] }))
    const config = testConfig({ GATEWAY_AUTH_JWKS_FILE: jwksFile })
    const gateway = await buildApp({ config, keys: loadVerificationKeys(config.auth).keys })
    try {
      const key = pair.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString()
      const good = await gateway.inject({ url: '/v1/schedule', headers: { authorization: `Bearer ${token({ key, kid: 'k-2026' })}`, 'x-device-id': device } })
      expect(good.statusCode).toBe(200)
      const unknownKid = await gateway.inject({ url: '/v1/schedule', headers: { authorization: `Bearer ${token({ key, kid: 'k-1999' })}`, 'x-device-id': device } })
      expect(unknownKid.json().code).toBe('GW_ERR_AUTH_TOKEN_INVALID')
    } finally {
      await gateway.close()
    }
  })

  it('refuses a JWKS that holds a private key, and an unreadable PEM, with exact messages', () => {
    const pair = generateKeyPairSync('ec', { namedCurve: 'P-256' })
    const privateJwks = join(dir, 'private.json')
    writeFileSync(privateJwks, JSON.stringify({ keys: [{ ...pair.privateKey.export({ format: 'jwk' }), kid: 'k' }] }))
    expect(() => loadVerificationKeys(testConfig({ GATEWAY_AUTH_JWKS_FILE: privateJwks }).auth)).toThrow(`auth.jwksFile (GATEWAY_AUTH_JWKS_FILE) must hold public keys, each with a kid: ${privateJwks}`)
    const secret = join(dir, 'oct.json')
    writeFileSync(secret, JSON.stringify({ keys: [{ kty: 'oct', kid: 'hmac', k: 'c2VjcmV0' }] }))
    expect(() => loadVerificationKeys(testConfig({ GATEWAY_AUTH_JWKS_FILE: secret }).auth)).toThrow(`auth.jwksFile (GATEWAY_AUTH_JWKS_FILE) must hold public keys, each with a kid: ${secret}`)
    const shapeless = join(dir, 'shapeless.json')
    writeFileSync(shapeless, JSON.stringify({ keys: {} }))
    expect(() => loadVerificationKeys(testConfig({ GATEWAY_AUTH_JWKS_FILE: shapeless }).auth)).toThrow(`auth.jwksFile (GATEWAY_AUTH_JWKS_FILE) must hold {"keys": [...]}: ${shapeless}`)
    const missing = join(dir, 'nope.pem')
    expect(() => loadVerificationKeys(testConfig({ GATEWAY_AUTH_PUBLIC_KEY_FILE: missing }).auth)).toThrow(`auth.publicKeyFile (GATEWAY_AUTH_PUBLIC_KEY_FILE) must name a readable PEM public key: ${missing}`)
  })

  it('refuses at boot a /v1 route that does not name its roles', async () => {
    const config = testConfig()
    const fastify = Fastify(serverOptions(config))
    await fastify.register(app, { config, stores: createMemoryStores(), keys: { kind: 'pem', pem: publicKeyPem }, identityKey: Buffer.alloc(32) })
    expect(() => fastify.get('/v1/test/open-by-mistake', async () => ({}))).toThrow('route GET /v1/test/open-by-mistake must name the roles it allows (config.roles)')
    await fastify.close()
  })
})
