// Walks the error catalogue (fastify test/internals/errors.test.js keeps the same watch).
import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { ERRORS, GatewayError, LANGUAGES, type ErrorCode } from '../gateway/errors.js'

const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8')
const codes = Object.keys(ERRORS) as ErrorCode[]

describe('error catalogue', () => {
  it('names every code GW_ERR_<AREA>_<WHAT>, each once', () => {
    for (const code of codes) expect(code).toMatch(/^GW_ERR_[A-Z]+_[A-Z_]+$/)
    expect(new Set(codes.map((c) => c.toLowerCase())).size).toBe(codes.length)
  })

  it('gives every code a 4xx or 5xx status', () => {
    for (const code of codes) {
      expect(ERRORS[code].status, code).toBeGreaterThanOrEqual(400)
      expect(ERRORS[code].status, code).toBeLessThan(600)
    }
  })

  it('has a real message in every language: non-empty, translated, and saying what to do', () => {
    expect(LANGUAGES).toEqual(['en', 'es', 'ht', 'ru'])
    for (const code of codes) {
      const messages = ERRORS[code].messages
      expect(Object.keys(messages).sort(), code).toEqual([...LANGUAGES].sort())
      for (const language of LANGUAGES) {
        expect(messages[language].trim().length, `${code} ${language}`).toBeGreaterThan(20)
        expect(messages[language], `${code} ${language}`).toMatch(/[.!?]$/)
        if (language !== 'en') expect(messages[language], `${code} ${language}`).not.toBe(messages.en)
      }
      // Russian is written in Cyrillic, not transliterated.
      expect(messages.ru, code).toMatch(/[а-яё]/i)
    }
  })

  it('lists every code in the README error table with its status', () => {
    for (const code of codes) {
      expect(readme, code).toMatch(new RegExp(`^\\| \`${code}\` \\| ${ERRORS[code].status} \\|`, 'm'))
    }
  })

  it('builds bodies with the status and language chosen', () => {
    const error = new GatewayError('GW_ERR_STORE_UNAVAILABLE', { retryAfterSeconds: 3 })
    expect(error.statusCode).toBe(503)
    expect(error.toBody('ht')).toEqual({ code: 'GW_ERR_STORE_UNAVAILABLE', message: ERRORS.GW_ERR_STORE_UNAVAILABLE.messages.ht, retryAfterSeconds: 3 })
  })
})
