// A signing key for tests and tokens made with it, as an identity provider would issue them.
import { generateKeyPairSync, randomUUID } from 'node:crypto'
import { createSigner } from 'fast-jwt'
import type { VerificationKeys } from '../../gateway/auth/keys.js'

const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' })
export const privateKeyPem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString()
export const publicKeyPem = publicKey.export({ type: 'spki', format: 'pem' }).toString()
export const testKeys: VerificationKeys = { kind: 'pem', pem: publicKeyPem }

export interface TokenOptions {
  role?: string
  sub?: string
  iss?: string
  aud?: string
  /** Seconds from now; negative for an expired token. */
  expiresInSeconds?: number
  key?: string
  kid?: string
}

export function token (options: TokenOptions = {}): string {
  const now = Math.floor(Date.now() / 1000)
  const sign = createSigner({ key: options.key ?? privateKeyPem, algorithm: 'ES256', ...(options.kid === undefined ? {} : { kid: options.kid }) })
  return sign({
    sub: options.sub ?? 'subject-1',
    role: options.role ?? 'applicant',
    iss: options.iss ?? 'appointment-gateway',
    aud: options.aud ?? 'appointment-gateway-api',
    iat: now,
    exp: now + (options.expiresInSeconds ?? 600)
  })
}

/** Headers of a signed-in applicant on a given device. */
export function applicant (deviceId: string = randomUUID(), options: TokenOptions = {}): Record<string, string> {
  return { authorization: `Bearer ${token(options)}`, 'x-device-id': deviceId }
}
