import { describe, expect, it } from 'vitest'
import { negotiateLanguage } from '../../gateway/plugins/language.js'

describe('negotiateLanguage', () => {
  it.each([
    [undefined, 'en'],
    ['', 'en'],
    ['ht', 'ht'],
    ['ht-HT', 'ht'],
    ['es-MX,es;q=0.9,en;q=0.8', 'es'],
    ['ru-RU', 'ru'],
    ['fr-HT, ht;q=0.7, en;q=0.3', 'ht'],
    ['en;q=0.2, ru;q=0.9', 'ru'],
    ['fr, de', 'en'],
    ['*', 'en'],
    [';;;q=abc,,', 'en'],
    ['x'.repeat(5000), 'en']
  ])('Accept-Language %j gives %s', (header, language) => {
    expect(negotiateLanguage(header)).toBe(language)
  })
})
