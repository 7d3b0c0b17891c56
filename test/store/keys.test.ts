import { describe, expect, it } from 'vitest'
import { hashTagOf, storeKey } from '../../gateway/store/keys.js'

describe('storeKey', () => {
  it('puts the hash tag first, in braces, and joins parts with colons', () => {
    expect(storeKey('device-1', 'regs', '2026-11-23')).toBe('{device-1}:regs:2026-11-23')
    expect(hashTagOf(storeKey('device-1', 'regs'))).toBe('device-1')
  })

  it('escapes braces, colons and % in client-supplied parts so the tag cannot move', () => {
    const k = storeKey('dev{ice}:1', 'a:b', '{x}', '50%')
    expect(k).toBe('{dev%7Bice%7D%3A1}:a%3Ab:%7Bx%7D:50%25')
    expect(hashTagOf(k)).toBe('dev%7Bice%7D%3A1')
  })

  it('refuses an empty tag, which Redis Cluster would ignore', () => {
    expect(() => storeKey('')).toThrow('storeKey needs a non-empty hash tag')
  })
})
