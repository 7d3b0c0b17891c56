// prepare-tokens: applicant tokens the gateway's verifier accepts, signed with an asymmetric key
// only; the CLI writes tokens, the public key and a photo the k6 script reads.
import { execFile } from 'node:child_process'
import { createSecretKey, createPrivateKey, generateKeyPairSync } from 'node:crypto'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { createVerifier } from 'fast-jwt'
import { afterAll, describe, expect, it } from 'vitest'
import { defaults } from '../../config/defaults.js'
import { algorithmOf, mintTokens, PrepareError } from '../../loadtests/k6/prepare-tokens.js'
import { loadProfile, tokensNeeded } from '../../loadtests/profiles/index.js'

const CLI = fileURLToPath(new URL('../../dist/loadtests/k6/prepare-tokens.js', import.meta.url))
const run = promisify(execFile)

describe('prepare-tokens', () => {
  const dir = mkdtempSync(join(tmpdir(), 'prepare-tokens-'))
  afterAll(() => { rmSync(dir, { recursive: true, force: true }) })

  it('mints applicant tokens, one subject each, that the gateway\'s verifier accepts', () => {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' })
    const tokens = mintTokens({
      count: 3,
      privateKeyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
      issuer: defaults.auth.issuer,
      audience: defaults.auth.audience,
      roleClaim: defaults.auth.roleClaim,
      expiresInSeconds: 600,
      runId: 'abcd1234'
    })
    const verify = createVerifier({ key: publicKey.export({ type: 'spki', format: 'pem' }).toString(), algorithms: ['ES256'], allowedIss: defaults.auth.issuer, allowedAud: defaults.auth.audience })
    expect(tokens.map((t) => verify(t).sub)).toEqual(['rehearsal-abcd1234-0', 'rehearsal-abcd1234-1', 'rehearsal-abcd1234-2'])
    expect(verify(tokens[0] as string).role).toBe('applicant')
    const header = JSON.parse(Buffer.from((tokens[0] as string).split('.')[0] as string, 'base64url').toString()) as { alg: string }
    expect(header.alg).toBe('ES256')
  })

  it('signs by the key\'s type, and never with a shared secret', () => {
    const pem = (type: 'ed25519' | 'rsa') => (type === 'rsa' ? generateKeyPairSync('rsa', { modulusLength: 2048 }) : generateKeyPairSync('ed25519')).privateKey
    expect(algorithmOf(pem('ed25519'))).toBe('EdDSA')
    expect(algorithmOf(pem('rsa'))).toBe('RS256')
    expect(algorithmOf(createPrivateKey(generateKeyPairSync('ec', { namedCurve: 'P-384' }).privateKey.export({ type: 'pkcs8', format: 'pem' })))).toBe('ES384')
    expect(() => algorithmOf(createSecretKey(Buffer.alloc(32, 1)))).toThrow(new PrepareError('--private-key must be a PEM private key (never a shared secret)'))
    expect(() => algorithmOf(generateKeyPairSync('ec', { namedCurve: 'secp256k1' }).privateKey)).toThrow(new PrepareError('--private-key must be a P-256, P-384, Ed25519 or RSA key, got ec secp256k1'))
  })

  it('writes as many tokens as the profile needs at the scale, the public key and a photo', async () => {
    const out = join(dir, 'tokens.json')
    const { stderr } = await run(process.execPath, [CLI, '--profile', 'bot-farm', '--scale', '0.1', '--out', out, '--public-key-out', join(dir, 'pub.pem'), '--photo-out', join(dir, 'photo.b64')], { env: { ...process.env, GATEWAY_LOG_LEVEL: 'silent' } })
    const tokens = JSON.parse(readFileSync(out, 'utf8')) as string[]
    expect(tokens).toHaveLength(tokensNeeded(loadProfile('bot-farm'), 0.1))
    const verify = createVerifier({ key: readFileSync(join(dir, 'pub.pem'), 'utf8'), algorithms: ['ES256'], allowedIss: defaults.auth.issuer, allowedAud: defaults.auth.audience })
    expect(verify(tokens[59] as string).sub).toMatch(/^rehearsal-[0-9a-f]{8}-59$/)
    const photo = Buffer.from(readFileSync(join(dir, 'photo.b64'), 'utf8'), 'base64')
    expect(photo.subarray(0, 3)).toEqual(Buffer.from([0xff, 0xd8, 0xff]))
    expect(stderr).toContain('start the gateway with GATEWAY_AUTH_PUBLIC_KEY_FILE set to it')
  })

  it('refuses to run without a count or a profile, with an exact message', async () => {
    await expect(run(process.execPath, [CLI, '--out', join(dir, 'x.json')])).rejects.toMatchObject({ code: 2, stderr: 'prepare-tokens: give either --profile (with --scale) or --count\n' })
  })
})
