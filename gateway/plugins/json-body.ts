// The JSON body parser of every route: Fastify's own (prototype and constructor poisoning refused
// with 400), behind a nesting limit. Our bodies nest four levels at most; one nested thousands of
// levels deep is built to overflow the stack of whatever walks it after parsing, a 5xx.
import fp from 'fastify-plugin'
import { GatewayError } from '../errors.js'
import { jsonDeeperThan } from '../lib/json-depth.js'

export interface JsonBodyOptions {
  maxDepth: number
}

export default fp<JsonBodyOptions>(async function jsonBody (fastify, opts) {
  const parse = fastify.getDefaultJsonParser('error', 'error')
  fastify.removeContentTypeParser('application/json')
  fastify.addContentTypeParser('application/json', { parseAs: 'string' }, (request, text, done) => {
    if (jsonDeeperThan(text as string, opts.maxDepth)) {
      done(new GatewayError('GW_ERR_REQUEST_MALFORMED_JSON'), undefined)
      return
    }
    parse(request, text as string, done)
  })
}, { name: 'json-body' })
