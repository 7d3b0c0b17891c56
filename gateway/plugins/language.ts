// Picks the language of every message a person reads, from Accept-Language (q-values and
// regional variants such as es-MX or ht-HT honoured), English when nothing matches.
import fp from 'fastify-plugin'
import Negotiator from 'negotiator'
import { DEFAULT_LANGUAGE, LANGUAGES, type Language } from '../errors.js'

declare module 'fastify' {
  interface FastifyRequest {
    /** The negotiated language: one of LANGUAGES. */
    readonly language: Language
  }
}

const supported = [...LANGUAGES]

export function negotiateLanguage (acceptLanguage: string | undefined): Language {
  if (acceptLanguage === undefined || acceptLanguage === '') return DEFAULT_LANGUAGE
  const best = new Negotiator({ headers: { 'accept-language': acceptLanguage } }).language(supported)
  return (best as Language | undefined) ?? DEFAULT_LANGUAGE
}

export default fp(async function language (fastify) {
  fastify.decorateRequest('language', {
    getter () {
      return negotiateLanguage(this.headers['accept-language'])
    }
  })
}, { name: 'language' })
