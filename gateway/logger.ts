// pino options for the gateway. Personal data never reaches a log line: requests are logged by
// route template only, and every object logged is walked for personal or secret field names,
// whose values are replaced. (pino's path-based `redact` needs one path per depth and costs
// ~50x per line with wildcards; a key walk of small log objects costs almost nothing.)
import { LogController, type FastifyReply, type FastifyRequest } from 'fastify'
import type { DestinationStream, LoggerOptions } from 'pino'

export const REDACTED = '[redacted]'

// Compared lower-cased with - and _ removed, so firstName, first_name and First-Name all match.
const PERSONAL_KEYS = new Set([
  'name', 'firstname', 'lastname', 'middlename', 'fullname', 'surname', 'givenname',
  'dateofbirth', 'dob', 'birthdate', 'birthday',
  'address', 'usaddress', 'line1', 'line2', 'street', 'city', 'zip', 'zipcode', 'postalcode',
  'nationality', 'email', 'phone', 'phonenumber', 'passport', 'documentnumber', 'ssn',
  'photo', 'image', 'selfie', 'picture',
  'location', 'latitude', 'longitude', 'lat', 'lon', 'lng', 'coords', 'coordinates',
  'ip', 'remoteaddress', 'xforwardedfor',
  'token', 'accesstoken', 'idtoken', 'refreshtoken', 'admissiontoken', 'authorization', 'cookie',
  'setcookie', 'password', 'secret', 'apikey', 'confirmationnumber', 'redisurl', 'url'
])

function isPersonal (key: string): boolean {
  return PERSONAL_KEYS.has(key.toLowerCase().replace(/[-_]/g, ''))
}

function isPlain (value: object): boolean {
  const proto = Object.getPrototypeOf(value)
  return proto === Object.prototype || proto === null || Array.isArray(value)
}

/** A copy of `value` with every personal field's value replaced; class instances pass untouched. */
export function censor (value: unknown, depth = 0): unknown {
  if (value === null || typeof value !== 'object' || !isPlain(value) || depth > 8) return value
  if (Array.isArray(value)) return value.map((v) => censor(v, depth + 1))
  const out: Record<string, unknown> = {}
  for (const [key, v] of Object.entries(value)) out[key] = isPersonal(key) ? REDACTED : censor(v, depth + 1)
  return out
}

/** The route's template, never the path a client typed (it can carry ids and tokens). */
export function routeLabel (request: FastifyRequest): string {
  return request.routeOptions.url ?? 'unmatched'
}

/**
 * One access line per completed request instead of Fastify's two, carrying the route template,
 * method, status and duration; and no "Route GET:/raw/path not found" line for 404s.
 */
export class GatewayLogController extends LogController {
  constructor (accessLog: boolean) {
    super({ disableRequestLogging: !accessLog })
  }

  override incomingRequest (): void {}

  override routeNotFound (): void {}

  override requestCompleted (error: Error | null | undefined, request: FastifyRequest, reply: FastifyReply): void {
    const line = {
      method: request.method,
      route: routeLabel(request),
      statusCode: reply.statusCode,
      durationMs: Math.round(reply.elapsedTime * 100) / 100
    }
    if (error == null) request.log.info(line, 'request completed')
    else request.log.error({ ...line, err: error }, 'request errored')
  }
}

export function loggerOptions (level: string, stream?: DestinationStream): LoggerOptions & { stream?: DestinationStream } {
  return {
    level,
    // No hostname: it names the machine, and the orchestrator adds it anyway.
    base: { pid: process.pid },
    formatters: {
      log: (object) => censor(object) as Record<string, unknown>
    },
    serializers: {
      req: (request: FastifyRequest) => ({ method: request.method, route: request.routeOptions?.url ?? 'unmatched' }),
      res: (reply: { statusCode: number }) => ({ statusCode: reply.statusCode })
    },
    ...(stream === undefined ? {} : { stream })
  }
}
