import { describe, expect, it } from 'vitest'
import { cachedVerify } from '../../gateway/auth/token-cache.js'

describe('cachedVerify', () => {
  function setup (size = 2) {
    const checked: string[] = []
    let now = 1_000_000
    const verify = cachedVerify((token) => {
      checked.push(token)
      if (token.startsWith('forged')) throw new Error('bad signature')
      return { sub: token, exp: 2_000 }
    }, size, 5_000, () => now)
    return { verify, checked, setNow: (t: number) => { now = t } }
  }

  it('verifies a token once, then answers from the cache', () => {
    const { verify, checked } = setup()
    expect(verify('good')).toEqual({ sub: 'good', exp: 2_000 })
    expect(verify('good')).toEqual({ sub: 'good', exp: 2_000 })
    expect(checked).toEqual(['good'])
  })

  it('keeps no failures, so forged tokens cannot push a verified one out', () => {
    const { verify, checked } = setup(2)
    verify('good')
    for (let i = 0; i < 10; i++) expect(() => verify(`forged-${i}`)).toThrow('bad signature')
    verify('good')
    expect(checked.filter((t) => t === 'good')).toHaveLength(1)
  })

  it('never serves a token past its exp plus the tolerance', () => {
    const { verify, checked, setNow } = setup()
    verify('good')
    setNow(2_000 * 1000 + 5_000 - 1)
    verify('good')
    expect(checked).toHaveLength(1)
    setNow(2_000 * 1000 + 5_000)
    verify('good')
    expect(checked).toHaveLength(2)
  })
})
