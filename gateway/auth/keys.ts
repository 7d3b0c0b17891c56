// The public keys bearer tokens are verified with: a PEM key, a JWKS file (keys by `kid`), or,
// for a laptop on the embedded store only, a development key pair made once and kept in a
// git-ignored file.
import { createPublicKey, generateKeyPairSync, randomUUID } from 'node:crypto'
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { dirname } from 'node:path'
import type { Config } from '../../config/load.js'

export type VerificationKeys =
  | { kind: 'pem', pem: string }
  | { kind: 'jwks', byKid: ReadonlyMap<string, string> }

export interface DevKeyPair {
  algorithm: 'ES256'
  kid: string
  privateKeyPem: string
  publicKeyPem: string
}

export class KeyLoadError extends Error {}

/** Keys from the configuration; `created` tells whether a development key pair was just made. */
export function loadVerificationKeys (auth: Config['auth']): { keys: VerificationKeys, created: boolean } {
  if (auth.publicKeyFile !== '') return { keys: { kind: 'pem', pem: readPublicPem(auth.publicKeyFile) }, created: false }
  if (auth.jwksFile !== '') return { keys: { kind: 'jwks', byKid: readJwks(auth.jwksFile) }, created: false }
  const { pair, created } = devKeyPair(auth.devKeyFile)
  return { keys: { kind: 'pem', pem: pair.publicKeyPem }, created }
}

function readPublicPem (file: string): string {
  try {
    const pem = readFileSync(file, 'utf8')
    createPublicKey(pem)
    return pem
  } catch (err) {
    throw new KeyLoadError(`auth.publicKeyFile (GATEWAY_AUTH_PUBLIC_KEY_FILE) must name a readable PEM public key: ${file} (${(err as Error).message})`)
  }
}

function readJwks (file: string): Map<string, string> {
  let parsed: { keys?: unknown } | null
  try {
    parsed = JSON.parse(readFileSync(file, 'utf8')) as typeof parsed
  } catch (err) {
    throw new KeyLoadError(`auth.jwksFile (GATEWAY_AUTH_JWKS_FILE) must name a readable JSON Web Key Set: ${file} (${(err as Error).message})`)
  }
  const byKid = new Map<string, string>()
  const keys: unknown = parsed?.keys
  if (!Array.isArray(keys)) throw new KeyLoadError(`auth.jwksFile (GATEWAY_AUTH_JWKS_FILE) must hold {"keys": [...]}: ${file}`)
  for (const jwk of keys as Array<Record<string, unknown> | null>) {
    if (jwk === null || typeof jwk !== 'object' || typeof jwk.kid !== 'string' || 'd' in jwk || 'k' in jwk) {
      throw new KeyLoadError(`auth.jwksFile (GATEWAY_AUTH_JWKS_FILE) must hold public keys, each with a kid: ${file}`)
    }
    try {
      byKid.set(jwk.kid, createPublicKey({ key: jwk as never, format: 'jwk' }).export({ type: 'spki', format: 'pem' }).toString())
    } catch (err) {
      throw new KeyLoadError(`auth.jwksFile (GATEWAY_AUTH_JWKS_FILE) has a key that cannot be read (kid ${jwk.kid}): ${file} (${(err as Error).message})`)
    }
  }
  if (byKid.size === 0) throw new KeyLoadError(`auth.jwksFile (GATEWAY_AUTH_JWKS_FILE) holds no keys: ${file}`)
  return byKid
}

/** Reads the development key pair, making it on first use (mode 0600, in a git-ignored folder). */
export function devKeyPair (file: string): { pair: DevKeyPair, created: boolean } {
  try {
    return { pair: JSON.parse(readFileSync(file, 'utf8')) as DevKeyPair, created: false }
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw new KeyLoadError(`auth.devKeyFile (GATEWAY_AUTH_DEV_KEY_FILE) cannot be read: ${file} (${(err as Error).message})`)
  }
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' })
  const pair: DevKeyPair = {
    algorithm: 'ES256',
    kid: `dev-${randomUUID()}`,
    privateKeyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }).toString()
  }
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 })
  writeFileSync(file, JSON.stringify(pair, null, 2), { mode: 0o600, flag: 'wx' })
  return { pair, created: true }
}
