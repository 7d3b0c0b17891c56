// Every error leaves in one shape, { code, message, retryAfterSeconds?, fields? }, in the
// client's language: ours, Fastify's own (bad JSON, body too large, validation) and 404s.
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import { GatewayError } from '../errors.js'
import { appendVary } from '../lib/vary.js'
import { StoreNotReplicatedError, StoreUnavailableError } from '../store/errors.js'

declare module 'fastify' {
  interface FastifyReply {
    /** Sends a catalogue error in the request's language, with its status and headers. */
    sendError(error: GatewayError): FastifyReply
  }
}

export interface ErrorHandlerOptions {
  storeRetryAfterSeconds: number
}

export default fp<ErrorHandlerOptions>(async function errorHandler (fastify, opts) {
  fastify.decorateReply('sendError', function (this: FastifyReply, error: GatewayError) {
    const language = this.request.language
    appendVary(this.code(error.statusCode).header('content-language', language), 'Accept-Language')
    if (error.retryAfterSeconds !== undefined) this.header('retry-after', String(error.retryAfterSeconds))
    return this.send(error.toBody(language))
  })

  fastify.setErrorHandler(function (error: FastifyError, request, reply) {
    const gatewayError = toGatewayError(error, opts)
    if (gatewayError.statusCode >= 500 && !(error instanceof GatewayError)) {
      request.log.error({ err: error }, 'request failed')
    } else {
      // Client mistakes are routine: log the code only. Fastify's parse errors quote the body they
      // failed on, and the body may hold personal data.
      request.log.debug({ code: gatewayError.code }, 'request refused')
    }
    return reply.sendError(gatewayError)
  })

  fastify.setNotFoundHandler(function (_request: FastifyRequest, reply: FastifyReply) {
    return reply.sendError(new GatewayError('GW_ERR_ROUTE_NOT_FOUND'))
  })
}, { name: 'error-handler', dependencies: ['language'] })

function toGatewayError (error: FastifyError, opts: ErrorHandlerOptions): GatewayError {
  if (error instanceof GatewayError) return error
  // Written on the Redis master, not on enough replicas in time (GATEWAY_REDIS_WAIT_REPLICAS):
  // not acknowledged, since a failover could lose it; unlike GW_ERR_STORE_UNAVAILABLE it may exist.
  if (error instanceof StoreNotReplicatedError) {
    return new GatewayError('GW_ERR_STORE_NOT_REPLICATED', { retryAfterSeconds: opts.storeRetryAfterSeconds, cause: error })
  }
  if (error instanceof StoreUnavailableError) {
    return new GatewayError('GW_ERR_STORE_UNAVAILABLE', { retryAfterSeconds: opts.storeRetryAfterSeconds, cause: error })
  }
  if (error.validation !== undefined) {
    return new GatewayError('GW_ERR_REQUEST_INVALID', { fields: invalidFields(error) })
  }
  switch (error.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE': return new GatewayError('GW_ERR_REQUEST_BODY_TOO_LARGE')
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE': return new GatewayError('GW_ERR_REQUEST_UNSUPPORTED_MEDIA_TYPE')
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
    case 'FST_ERR_CTP_INVALID_JSON_BODY': return new GatewayError('GW_ERR_REQUEST_MALFORMED_JSON')
  }
  const status = error.statusCode ?? 500
  // JSON.parse and secure-json-parse (prototype poisoning) throw SyntaxError, tagged 400 by Fastify.
  if (status === 400 && error instanceof SyntaxError) return new GatewayError('GW_ERR_REQUEST_MALFORMED_JSON')
  if (status === 408) return new GatewayError('GW_ERR_REQUEST_TIMEOUT')
  if (status === 413) return new GatewayError('GW_ERR_REQUEST_BODY_TOO_LARGE')
  if (status === 415) return new GatewayError('GW_ERR_REQUEST_UNSUPPORTED_MEDIA_TYPE')
  if (status === 431) return new GatewayError('GW_ERR_REQUEST_HEADERS_TOO_LARGE')
  if (status >= 400 && status < 500) return new GatewayError('GW_ERR_REQUEST_MALFORMED')
  return new GatewayError('GW_ERR_SERVER_INTERNAL', { cause: error })
}

// JSON pointers such as /body/members/0/dateOfBirth: where the problem is, never what was sent.
function invalidFields (error: FastifyError): string[] {
  const context = error.validationContext ?? 'body'
  const fields = new Set<string>()
  for (const issue of error.validation ?? []) {
    const params = issue.params as { missingProperty?: unknown, additionalProperty?: unknown }
    // Name the missing or unknown field itself, not the object that holds it.
    const named = params.missingProperty ?? params.additionalProperty
    const path = typeof named === 'string' ? `${issue.instancePath}/${named}` : issue.instancePath
    fields.add(`/${context}${path}`)
  }
  return [...fields]
}
