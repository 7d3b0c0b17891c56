// node dist/loadtests/k6/prepare-tokens.js --profile steady-480k --scale 0.1
// Mints the bearer tokens a rehearsal's arrivals sign in with (one account each, subjects
// rehearsal-<run>-<n>, role applicant, issuer, audience and role claim from the gateway's config),
// as a JSON array for k6's open(); and a synthetic photo (base64) for liveness uploads.
// Signed with an asymmetric key only: --private-key <PEM file> (ES256, ES384, EdDSA, RS256 by its
// type), or a fresh P-256 pair whose public half goes to --public-key-out for the gateway's
// GATEWAY_AUTH_PUBLIC_KEY_FILE. Never a shared secret.
// Options: --profile NAME and --scale S (count = what the profile needs, see tokensNeeded), or
// --count N; --out (.rehearsal/tokens.json); --public-key-out (.rehearsal/jwt-public.pem);
// --photo-out (.rehearsal/photo.b64); --expires-in seconds (10800, within the gateway's maximum).
import { createPrivateKey, generateKeyPairSync, randomBytes, type KeyObject } from 'node:crypto'
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { dirname, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { createSigner } from 'fast-jwt'
import { ConfigError, loadConfig } from '../../config/load.js'
import { PORTRAITS, portraitJpeg } from '../lib/photos.js'
import { loadProfile, parseScale, ProfileError, tokensNeeded } from '../profiles/index.js'

export class PrepareError extends Error {}

const MAX_TOKENS = 2_000_000

/** The JWT algorithm a private key signs with; shared secrets and unknown curves are refused. */
export function algorithmOf (key: KeyObject): 'ES256' | 'ES384' | 'EdDSA' | 'RS256' {
  if (key.type !== 'private') throw new PrepareError('--private-key must be a PEM private key (never a shared secret)')
  const curve = key.asymmetricKeyDetails?.namedCurve
  if (key.asymmetricKeyType === 'ec' && curve === 'prime256v1') return 'ES256'
  if (key.asymmetricKeyType === 'ec' && curve === 'secp384r1') return 'ES384'
  if (key.asymmetricKeyType === 'ed25519') return 'EdDSA'
  if (key.asymmetricKeyType === 'rsa') return 'RS256'
  throw new PrepareError(`--private-key must be a P-256, P-384, Ed25519 or RSA key, got ${key.asymmetricKeyType ?? 'unknown'}${curve === undefined ? '' : ` ${curve}`}`)
}

export interface MintOptions {
  count: number
  privateKeyPem: string
  issuer: string
  audience: string
  roleClaim: string
  expiresInSeconds: number
  /** Distinguishes this preparation's accounts from earlier ones (their limits persist in Redis). */
  runId: string
}

/** `count` applicant tokens, subject rehearsal-<runId>-<n>. */
export function mintTokens (options: MintOptions): string[] {
  const key = createPrivateKey(options.privateKeyPem)
  const sign = createSigner({ key: options.privateKeyPem, algorithm: algorithmOf(key), expiresIn: options.expiresInSeconds * 1000 })
  const tokens: string[] = []
  for (let n = 0; n < options.count; n++) {
    tokens.push(sign({ sub: `rehearsal-${options.runId}-${n}`, [options.roleClaim]: 'applicant', iss: options.issuer, aud: options.audience }))
  }
  return tokens
}

function integer (name: string, raw: string, min: number, max: number): number {
  const n = Number(raw)
  if (raw.trim() === '' || !Number.isInteger(n) || n < min || n > max) throw new PrepareError(`${name} must be an integer from ${min} to ${max}, got "${raw}"`)
  return n
}

function write (file: string, text: string, mode: number): void {
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 })
  writeFileSync(file, text, { mode })
}

async function main (): Promise<void> {
  const { values } = parseArgs({
    options: {
      profile: { type: 'string' },
      scale: { type: 'string' },
      count: { type: 'string' },
      out: { type: 'string', default: '.rehearsal/tokens.json' },
      'private-key': { type: 'string' },
      'public-key-out': { type: 'string', default: '.rehearsal/jwt-public.pem' },
      'photo-out': { type: 'string', default: '.rehearsal/photo.b64' },
      'expires-in': { type: 'string', default: '10800' }
    }
  })
  const config = loadConfig()
  if ((values.profile === undefined) === (values.count === undefined)) throw new PrepareError('give either --profile (with --scale) or --count')
  const count = values.count !== undefined
    ? integer('--count', values.count, 1, MAX_TOKENS)
    : tokensNeeded(loadProfile(values.profile as string), parseScale(values.scale))
  if (count > MAX_TOKENS) throw new PrepareError(`the profile needs ${count} tokens, more than ${MAX_TOKENS}: lower --scale`)
  const expiresIn = integer('--expires-in', values['expires-in'], 60, config.auth.maxTokenLifetimeSeconds)

  let privateKeyPem: string
  if (values['private-key'] !== undefined) {
    privateKeyPem = readFileSync(values['private-key'], 'utf8')
  } else {
    const pair = generateKeyPairSync('ec', { namedCurve: 'P-256' })
    privateKeyPem = pair.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString()
    write(values['public-key-out'], pair.publicKey.export({ type: 'spki', format: 'pem' }).toString(), 0o644)
    process.stderr.write(`prepare-tokens: public key in ${resolve(values['public-key-out'])}: start the gateway with GATEWAY_AUTH_PUBLIC_KEY_FILE set to it\n`)
  }
  const tokens = mintTokens({
    count,
    privateKeyPem,
    issuer: config.auth.issuer,
    audience: config.auth.audience,
    roleClaim: config.auth.roleClaim,
    expiresInSeconds: expiresIn,
    runId: randomBytes(4).toString('hex')
  })
  write(values.out, JSON.stringify(tokens), 0o600)
  // A synthetic head and shoulders in a lit room: passes the pre-check, no real person.
  const photo = await portraitJpeg(PORTRAITS['medium-well-lit'])
  write(values['photo-out'], photo.toString('base64'), 0o644)
  process.stderr.write(`prepare-tokens: ${tokens.length} tokens in ${resolve(values.out)}, valid ${expiresIn} s; photo in ${resolve(values['photo-out'])}\n`)
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((err: unknown) => {
    if (err instanceof PrepareError || err instanceof ProfileError || err instanceof ConfigError) {
      process.stderr.write(`prepare-tokens: ${err.message}\n`)
      process.exit(2)
    }
    throw err
  })
}
