// Admission tokens: bound to room, device and time, signed with Ed25519; a token signed with any
// other key, or changed in any claim, lets nobody through.
import { generateKeyPairSync } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { admissionTokens } from '../../gateway/auth/admission-tokens.js'

describe('admission tokens', () => {
  let now = Date.parse('2026-11-24T17:00:00Z')
  const tokens = admissionTokens(generateKeyPairSync('ed25519').privateKey, { now: () => now })
  const claims = { room: 'requests', ticket: 'wrt_aaaaaaaaaaaaaaaaaaaaaa', device: 'dev-hash', expiresAt: now + 600_000 }

  it('lets the device it was issued to through its room until it expires, and nothing else', () => {
    const token = tokens.sign(claims)
    expect(tokens.verify(token, 'requests', 'dev-hash')).toBe(claims.ticket)
    expect(tokens.verify(token, 'other-room', 'dev-hash')).toBeUndefined()
    expect(tokens.verify(token, 'requests', 'another-device')).toBeUndefined()
    now += 600_000
    expect(tokens.verify(token, 'requests', 'dev-hash')).toBeUndefined()
    now -= 600_000
  })

  it('refuses a token signed with another key, with its claims changed, or not a token at all', () => {
    const forger = admissionTokens(generateKeyPairSync('ed25519').privateKey, { now: () => now })
    expect(tokens.verify(forger.sign(claims), 'requests', 'dev-hash')).toBeUndefined()
    const [header, , signature] = tokens.sign(claims).split('.') as [string, string, string]
    const changed = Buffer.from(JSON.stringify({ sub: 'wrt_bbbbbbbbbbbbbbbbbbbbbb', aud: 'waiting-room:requests', dev: 'dev-hash', exp: Math.floor(claims.expiresAt / 1000), iss: 'gateway-waiting-room' })).toString('base64url')
    expect(tokens.verify(`${header}.${changed}.${signature}`, 'requests', 'dev-hash')).toBeUndefined()
    for (const junk of ['', 'a.b.c', 'not a token', `${header}..${signature}`]) expect(tokens.verify(junk, 'requests', 'dev-hash')).toBeUndefined()
  })
})
