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
  'ip', 'remoteaddress', 'xforwardedfor', 'deviceid', 'xdeviceid',
  'token', 'accesstoken', 'idtoken', 'refreshtoken', 'admissiontoken', 'authorization', 'cookie',
  'setcookie', 'password', 'secret', 'apikey', 'confirmationnumber', 'redisurl', 'url'
])

function isPersonal (key: string): boolean {
  return PERSONAL_KEYS.has(key.toLowerCase().replace(/[-_]/g, ''))
}

// Logged under these keys, objects go through their own serializers below (or pino's err one).
const SERIALIZED_KEYS = new Set(['req', 'res', 'err', 'error'])

// Whatever JSON.stringify would walk, except what has its own serialization.
function isWalkable (value: object): boolean {
  return !(value instanceof Error) && !(value instanceof Date) && !ArrayBuffer.isView(value) &&
    !(value instanceof ArrayBuffer) && typeof (value as { toJSON?: unknown }).toJSON !== 'function'
}

/** A copy of `value` with every personal field's value replaced; the caller's object is untouched. */
export function censor (value: unknown, depth = 0, seen = new WeakSet<object>()): unknown {
  if (value === null || typeof value !== 'object' || !isWalkable(value)) return value
  if (depth > 8 || seen.has(value)) return '[elided]'
  seen.add(value)
  if (Array.isArray(value)) return value.map((v) => censor(v, depth + 1, seen))
  const out: Record<string, unknown> = {}
  for (const [key, v] of Object.entries(value)) {
    out[key] = isPersonal(key) ? REDACTED : depth === 0 && SERIALIZED_KEYS.has(key) ? v : censor(v, depth + 1, seen)
  }
  return out
}

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
    if (this.isLogDisabled(request)) return
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
      // Type, code, message and stack only: libraries hang more on their errors (ioredis puts the
      // command and its keys, which name devices and client IPs, on every reply error).
      err: (err: Error & { code?: unknown }) => ({
        type: err.name,
        ...(typeof err.code === 'string' ? { code: err.code } : {}),
        message: err.message,
        ...(err.stack === undefined ? {} : { stack: err.stack }),
        ...(err.cause instanceof Error ? { cause: { type: err.cause.name, message: err.cause.message } } : {})
      }),
      req: (request: FastifyRequest) => ({ method: request.method, route: request.routeOptions?.url ?? 'unmatched' }),
      res: (reply: { statusCode: number }) => ({ statusCode: reply.statusCode })
    },
    ...(stream === undefined ? {} : { stream })
  }
}
