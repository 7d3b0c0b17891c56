// Admission tokens of the waiting room: short-lived JWTs signed with an Ed25519 key (EdDSA, by
// fast-jwt), bound to the room and to a hash of the device they were issued to. Every instance
// holds the same private key (GATEWAY_WAITING_ROOM_SIGNING_KEY_FILE) and checks the others'
// tokens; without a file, a key is made at boot and only that instance accepts its tokens.
import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { createDecoder, createSigner, createVerifier } from 'fast-jwt'
import type { Config } from '../../config/load.js'
import type { AdmissionTokens } from '../domain/waiting-room.js'
import { KeyLoadError } from './keys.js'
import { cachedVerify, type Verify } from './token-cache.js'

const ISSUER = 'gateway-waiting-room'

/** The signing key from the configuration; `created` when none was configured and one was made. */
export function loadAdmissionKey (waitingRoom: Config['waitingRoom']): { key: KeyObject, created: boolean } {
  if (waitingRoom.signingKeyFile === '') return { key: generateKeyPairSync('ed25519').privateKey, created: true }
  try {
    const key = createPrivateKey(readFileSync(waitingRoom.signingKeyFile, 'utf8'))
    if (key.asymmetricKeyType !== 'ed25519') throw new Error(`a ${key.asymmetricKeyType ?? 'symmetric'} key`)
    return { key, created: false }
  } catch (err) {
    throw new KeyLoadError(`waitingRoom.signingKeyFile (GATEWAY_WAITING_ROOM_SIGNING_KEY_FILE) must name a readable PEM Ed25519 private key (${(err as Error).message})`)
  }
}

export function admissionTokens (key: KeyObject, options: { cacheSize?: number, now?: () => number } = {}): AdmissionTokens {
  const now = options.now ?? Date.now
  const privatePem = key.export({ type: 'pkcs8', format: 'pem' }).toString()
  const publicPem = createPublicKey(key).export({ type: 'spki', format: 'pem' }).toString()
  const sign = createSigner({ key: privatePem, algorithm: 'EdDSA', iss: ISSUER })
  // The clock is injected (tests move it); exp is checked against it below, not fast-jwt's own.
  const verify = cachedVerify(createVerifier({ key: publicPem, algorithms: ['EdDSA'], allowedIss: ISSUER, requiredClaims: ['sub', 'aud', 'dev', 'exp'], ignoreExpiration: true }) as Verify, options.cacheSize ?? 10_000, 0, now)
  const decode = createDecoder()
  return {
    sign: ({ room, ticket, device, expiresAt }) => sign({ sub: ticket, aud: `waiting-room:${room}`, dev: device, exp: Math.floor(expiresAt / 1000) }),
    verify: (token, room, device) => {
      let claims: Record<string, unknown>
      try {
        // The cheap checks first: a token for another room or device, or expired, is refused
        // before the signature is (an Ed25519 verification is ~150 µs a forged token would cost).
        const unverified = decode(token) as Record<string, unknown>
        if (unverified.aud !== `waiting-room:${room}` || unverified.dev !== device || typeof unverified.exp !== 'number' || unverified.exp * 1000 <= now()) return undefined
        claims = verify(token)
      } catch {
        return undefined
      }
      if (claims.aud !== `waiting-room:${room}` || claims.dev !== device || (claims.exp as number) * 1000 <= now()) return undefined
      return claims.sub as string
    }
  }
}
