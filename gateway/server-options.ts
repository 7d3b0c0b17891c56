// The Fastify server options, shared by the process entry (server.ts) and the tests, so both
// run the same server: same logger, limits, timeouts and low-level error answers.
import { randomUUID } from 'node:crypto'
import { STATUS_CODES } from 'node:http'
import type { Socket } from 'node:net'
import type { FastifyError, FastifyReply, FastifyRequest, FastifyServerOptions } from 'fastify'
import type { DestinationStream } from 'pino'
import type { Config } from '../config/load.js'
import { ERRORS, type ErrorCode } from './errors.js'
import { appendVary } from './lib/vary.js'
import { GatewayLogController, loggerOptions } from './logger.js'
import { negotiateLanguage } from './plugins/language.js'
import { apiSecurityHeaders } from './plugins/security-headers.js'

export interface ServerOptionsOverrides {
  /** Where logs go (tests capture them); stdout otherwise. */
  logStream?: DestinationStream
}

export function serverOptions (config: Config, overrides: ServerOptionsOverrides = {}): FastifyServerOptions {
  return {
    logger: loggerOptions(config.log.level, overrides.logStream),
    logController: new GatewayLogController(config.log.accessLog),
    genReqId: () => randomUUID(),
    // X-Forwarded-For is believed only from these proxies; otherwise request.ip is the peer.
    trustProxy: config.server.trustedProxies.length > 0 ? [...config.server.trustedProxies] : false,
    bodyLimit: config.server.bodyLimitBytes,
    requestTimeout: config.server.requestTimeoutMs,
    keepAliveTimeout: config.server.keepAliveTimeoutMs,
    // Our draining plugin answers in the error catalogue's shape instead.
    return503OnClosing: false,
    forceCloseConnections: 'idle',
    clientErrorHandler,
    frameworkErrors: frameworkErrorsFor(apiSecurityHeaders(config.server.hstsMaxAgeSeconds)),
    ajv: {
      customOptions: {
        // Reject rather than silently coerce or strip: a client bug should surface as a 400.
        coerceTypes: false,
        removeAdditional: false,
        allErrors: false
      }
    }
  }
}

// Errors the router raises before any route or hook runs: a path segment that does not decode
// (%ZZ, a lone surrogate's bytes) is FST_ERR_BAD_URL, answered by Fastify in its own shape with the
// path echoed back. Ours instead, localized from the header alone and with the security headers
// (no plugin has run). A parameter longer than the router's limit (100) names nothing we hold:
// 404, as without this handler.
function frameworkErrorsFor (securityHeaders: Record<string, string>) {
  return function frameworkErrors (error: FastifyError, request: FastifyRequest, reply: FastifyReply): void {
    const code: ErrorCode = error.code === 'FST_ERR_BAD_URL'
      ? 'GW_ERR_REQUEST_MALFORMED'
      : error.code === 'FST_ERR_MAX_PARAM_LENGTH' ? 'GW_ERR_ROUTE_NOT_FOUND' : 'GW_ERR_SERVER_INTERNAL'
    if (code === 'GW_ERR_SERVER_INTERNAL') request.log.error({ err: error }, 'request failed in the router')
    const language = negotiateLanguage(request.headers['accept-language'])
    appendVary(reply.code(ERRORS[code].status)
      .headers(securityHeaders)
      .header('content-type', 'application/json; charset=utf-8')
      .header('content-language', language), 'Accept-Language')
      .send(JSON.stringify({ code, message: ERRORS[code].messages[language] }))
  }
}

// Errors Node's HTTP parser raises before a request exists (bad framing, oversized headers,
// timeouts): no Accept-Language has been read, so the answer is in English, in our shape.
function clientErrorHandler (err: NodeJS.ErrnoException, socket: Socket): void {
  if (err.code === 'ECONNRESET' || socket.destroyed) return
  const code: ErrorCode = err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
    ? 'GW_ERR_REQUEST_TIMEOUT'
    : err.code === 'HPE_HEADER_OVERFLOW' ? 'GW_ERR_REQUEST_HEADERS_TOO_LARGE' : 'GW_ERR_REQUEST_MALFORMED'
  const { status, messages } = ERRORS[code]
  const body = JSON.stringify({ code, message: messages.en })
  if (socket.writable) {
    socket.write(`HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Bad Request'}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Language: en\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`)
  }
  socket.destroy(err)
}
