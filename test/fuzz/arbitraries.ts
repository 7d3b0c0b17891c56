// What the fuzzer sends: requests built from a route's own schemas (so most reach the handler
// and the stores), then bent out of shape, plus input no client should ever send.
import fc from 'fast-check'
import { token } from '../helpers/tokens.js'

/** One route as the fuzzer knows it: what Fastify was given (onRoute), reduced to plain data. */
export interface FuzzRoute {
  method: string
  url: string
  roles: readonly string[] | undefined
  /** The statuses its response schema lists. */
  statuses: number[]
  schema: {
    body?: JsonSchema
    querystring?: JsonSchema
    params?: JsonSchema
    headers?: JsonSchema
  }
}

export interface JsonSchema {
  type?: string | string[]
  properties?: Record<string, JsonSchema>
  required?: string[]
  items?: JsonSchema
  anyOf?: JsonSchema[]
  oneOf?: JsonSchema[]
  enum?: unknown[]
  const?: unknown
  pattern?: string
  format?: string
  minLength?: number
  maxLength?: number
  minimum?: number
  maximum?: number
  exclusiveMinimum?: number
  exclusiveMaximum?: number
  minItems?: number
  maxItems?: number
  $ref?: string
}

export interface FuzzRequest {
  method: string
  url: string
  headers: Record<string, string>
  payload?: string | Buffer
  /** What the case is, for the failure message (never the payload itself: it can be megabytes). */
  label: string
}

// ---------------------------------------------------------------------------------------------
// Values that a schema accepts (or nearly): the fuzzer's way past validation into the handlers.

/** An arbitrary of values that satisfy `schema`, as far as this reading of JSON Schema goes. */
export function fromSchema (schema: JsonSchema | undefined, depth = 0): fc.Arbitrary<unknown> {
  if (schema === undefined || depth > 6) return fc.jsonValue({ maxDepth: 2 })
  if (schema.const !== undefined) return fc.constant(schema.const)
  if (schema.enum !== undefined && schema.enum.length > 0) return fc.constantFrom(...schema.enum)
  const union = schema.anyOf ?? schema.oneOf
  if (union !== undefined && union.length > 0) return fc.oneof(...union.map((s) => fromSchema(s, depth + 1)))
  const type = Array.isArray(schema.type) ? schema.type[0] : schema.type
  switch (type) {
    case 'object': {
      const props = schema.properties ?? {}
      const shape: Record<string, fc.Arbitrary<unknown>> = {}
      for (const [key, child] of Object.entries(props)) shape[key] = fromSchema(child, depth + 1)
      return fc.record(shape, { requiredKeys: (schema.required ?? []).filter((k) => k in props) })
    }
    case 'array':
      return fc.array(fromSchema(schema.items, depth + 1), { minLength: schema.minItems ?? 0, maxLength: Math.max(schema.minItems ?? 0, Math.min(schema.maxItems ?? 3, 3)) })
    case 'string':
      return stringFor(schema)
    case 'integer':
      return fc.integer({ min: Math.ceil(schema.minimum ?? -1e6), max: Math.floor(schema.maximum ?? 1e6) })
    case 'number':
      return fc.double({ min: schema.minimum ?? schema.exclusiveMinimum ?? -1e6, max: schema.maximum ?? schema.exclusiveMaximum ?? 1e6, noNaN: true, noDefaultInfinity: true })
        .filter((n) => (schema.exclusiveMinimum === undefined || n > schema.exclusiveMinimum) && (schema.exclusiveMaximum === undefined || n < schema.exclusiveMaximum))
    case 'boolean':
      return fc.boolean()
    case 'null':
      return fc.constant(null)
    default:
      return fc.jsonValue({ maxDepth: 2 })
  }
}

// Mostly past (dates of birth), some ahead (draw dates, filters).
const isoDate = fc.date({ min: new Date('1920-01-01T00:00:00Z'), max: new Date('2030-12-31T00:00:00Z'), noInvalidDate: true })

function stringFor (schema: JsonSchema): fc.Arbitrary<string> {
  const min = schema.minLength ?? 0
  const max = schema.maxLength ?? 64
  const fits = (s: string): boolean => s.length >= min && s.length <= max
  if (schema.format === 'date') return isoDate.map((d) => d.toISOString().slice(0, 10))
  if (schema.format === 'date-time') return isoDate.map((d) => d.toISOString())
  if (schema.pattern !== undefined) {
    const pattern = new RegExp(schema.pattern, 'u')
    try {
      return fc.stringMatching(pattern).filter(fits)
    } catch {
      // A pattern fast-check cannot generate from (\p{...} classes): text of the right length that matches.
      return fc.string({ unit: 'grapheme', minLength: min, maxLength: Math.min(max, 64) }).filter((s) => fits(s) && pattern.test(s))
    }
  }
  return fc.string({ minLength: min, maxLength: Math.min(max, 64) })
}

// ---------------------------------------------------------------------------------------------
// Values that break naive code.

/** Strings that trip up parsers, regexes, loggers and Unicode handling. */
export const evilString = fc.oneof(
  fc.string({ unit: 'grapheme', maxLength: 80 }),
  fc.string({ unit: 'binary', maxLength: 80 }),
  fc.constantFrom(
    '', ' ', '\u0000', 'a\u0000b', '\uD800', '\uDC00x', 'x\uDBFF', // NUL and lone surrogates
    '\u202Egnp.exe', '\u200F\u200Eabc', '\u2066x\u2069', // bidi overrides and isolates
    'e\u0301\u0301\u0301\u0301', 'Z\u0351\u036B\u0343\u036A\u0302\u036B', // combining marks
    '\uFEFF', '\u200B', '\uFFFF', '\uFFFE', '𝕳𝖊𝖑𝖑𝖔', '👨‍👩‍👧‍👦',
    '__proto__', 'constructor', 'prototype', 'hasOwnProperty', 'toString', 'valueOf',
    '../../etc/passwd', '%00', '%', '%ZZ', '%E0%A4%A', '$' + '{7*7}', '{{7*7}}', '<script>alert(1)</script>',
    "' OR 1=1 --", '\r\nSet-Cookie: a=b', 'NaN', 'Infinity', '-0', '1e999', '0x10',
    'a'.repeat(1000), '9'.repeat(400)
  )
)

/** Keys that pollute prototypes when code copies them naively. */
const protoKey = fc.constantFrom('__proto__', 'constructor', 'prototype')

const pollutingObject = fc.oneof(
  fc.constantFrom(
    '{"__proto__":{"polluted":"yes"}}',
    '{"constructor":{"prototype":{"polluted":"yes"}}}',
    '{"a":{"__proto__":{"polluted":"yes"}}}',
    '[{"__proto__":{"polluted":"yes"}}]',
    '{"\\u005f\\u005fproto__":{"polluted":"yes"}}',
    '{"members":[{"__proto__":{"polluted":"yes"},"firstName":"A"}]}'
  ),
  fc.tuple(protoKey, fc.jsonValue({ maxDepth: 2 })).map(([key, value]) => `{"${key}":${JSON.stringify(value)}}`)
)

/** Deeply nested JSON of `depth` levels: arrays, objects, or the two mixed. */
export function nested (depth: number, kind: 'array' | 'object' | 'mixed'): string {
  if (kind === 'array') return '['.repeat(depth) + ']'.repeat(depth)
  if (kind === 'object') return '{"a":'.repeat(depth) + '1' + '}'.repeat(depth)
  const half = Math.floor(depth / 2)
  return '{"a":['.repeat(half) + 'null' + ']}'.repeat(half)
}

const deep = fc.tuple(fc.constantFrom(100, 1_000, 10_000, 100_000), fc.constantFrom<'array' | 'object' | 'mixed'>('array', 'object', 'mixed'))
  .map(([depth, kind]) => nested(depth, kind))

/** A string that is not small: the body limit's side of things. */
const huge = fc.tuple(fc.constantFrom(64 * 1024, 1024 * 1024 - 16, 1024 * 1024 + 1, 3 * 1024 * 1024), fc.constantFrom('a', 'é', '€', '𝄞'))
  .map(([bytes, ch]) => `{"photo":"${ch.repeat(Math.ceil(bytes / Buffer.byteLength(ch)))}"}`)

/** Bytes that are not UTF-8 at all, or JSON with invalid bytes inside a string. */
const invalidUtf8 = fc.oneof(
  fc.uint8Array({ minLength: 1, maxLength: 200 }).map((bytes) => Buffer.from(bytes)),
  fc.constantFrom(
    Buffer.from([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xff, 0xfe, 0x22, 0x7d]), // {"a":"\xff\xfe"}
    Buffer.from([0x7b, 0x22, 0xc0, 0xaf, 0x22, 0x3a, 0x31, 0x7d]), // overlong '/' as a key
    Buffer.from([0xef, 0xbb, 0xbf, 0x7b, 0x7d]), // a BOM before {}
    Buffer.from([0xed, 0xa0, 0x80]), // an encoded surrogate
    Buffer.from([0xfe, 0xff, 0x00, 0x7b, 0x00, 0x7d]) // UTF-16 with its BOM
  )
)

/** A JSON value in place of what the route wants: wrong types, proto keys, evil strings. */
const wrongJson = fc.oneof(
  fc.jsonValue({ maxDepth: 4 }),
  fc.dictionary(fc.oneof(evilString, protoKey), fc.oneof(evilString, fc.jsonValue({ maxDepth: 2 }), fc.constantFrom(1e308, -1, 0.5, Number.MAX_SAFE_INTEGER + 2, -0)), { maxKeys: 6 }),
  fc.array(evilString, { maxLength: 5 })
).map((v) => JSON.stringify(v))

/** Mutations of a valid body: one field replaced, dropped, or an extra (maybe polluting) one added. */
function mutate (valid: fc.Arbitrary<unknown>): fc.Arbitrary<string> {
  return fc.tuple(valid, fc.nat(), fc.oneof(evilString, fc.jsonValue({ maxDepth: 2 }), fc.constantFrom(null, [], {}, 1e308, -1, true)), fc.oneof(evilString, protoKey), fc.constantFrom('replace', 'drop', 'add', 'wrap'))
    .map(([body, pick, value, key, how]) => {
      if (body === null || typeof body !== 'object' || Array.isArray(body)) return JSON.stringify(how === 'wrap' ? [body] : value)
      const keys = Object.keys(body)
      const target = keys.length === 0 ? key : keys[pick % keys.length] as string
      const copy: Record<string, unknown> = { ...(body as Record<string, unknown>) }
      if (how === 'replace') copy[target] = value
      else if (how === 'drop') delete copy[target]
      else if (how === 'wrap') copy[target] = [copy[target]]
      else {
        // A literal own key named __proto__ survives JSON.stringify only this way.
        Object.defineProperty(copy, key, { value, enumerable: true, configurable: true, writable: true })
      }
      return JSON.stringify(copy)
    })
}

/** The body of one case: usually what the route's schema wants, often bent, sometimes hostile. */
export function bodyFor (route: FuzzRoute): fc.Arbitrary<{ payload?: string | Buffer, kind: string }> {
  const valid = fromSchema(route.schema.body)
  return fc.oneof(
    { weight: 4, arbitrary: valid.map((v) => ({ payload: JSON.stringify(v), kind: 'schema-valid' })) },
    { weight: 4, arbitrary: mutate(valid).map((payload) => ({ payload, kind: 'mutated' })) },
    { weight: 2, arbitrary: wrongJson.map((payload) => ({ payload, kind: 'wrong-json' })) },
    { weight: 1, arbitrary: pollutingObject.map((payload) => ({ payload, kind: 'proto-pollution' })) },
    { weight: 1, arbitrary: deep.map((payload) => ({ payload, kind: 'deep' })) },
    { weight: 1, arbitrary: huge.map((payload) => ({ payload, kind: 'huge' })) },
    { weight: 1, arbitrary: invalidUtf8.map((payload) => ({ payload, kind: 'invalid-utf8' })) },
    { weight: 1, arbitrary: fc.constantFrom('', ' ', 'null', '"', '{', '[1,]', '{"a":1,}', 'undefined', '\u0000').map((payload) => ({ payload, kind: 'broken-json' })) },
    { weight: 1, arbitrary: fc.constant({ kind: 'none' }) }
  )
}

// ---------------------------------------------------------------------------------------------
// Headers, queries and paths.

/** encodeURIComponent that does not throw on a lone surrogate: it goes out as its three bytes (not UTF-8). */
export function encode (text: string): string {
  try {
    return encodeURIComponent(text)
  } catch {
    return [...text].map((c) => {
      const unit = c.charCodeAt(0)
      if (c.length !== 1 || unit < 0xd800 || unit > 0xdfff) return encodeURIComponent(c)
      return [0xe0 | (unit >> 12), 0x80 | ((unit >> 6) & 0x3f), 0x80 | (unit & 0x3f)].map((b) => `%${b.toString(16).toUpperCase()}`).join('')
    }).join('')
  }
}

/** Header values a real client could put on the wire: Latin-1, no CR, LF or NUL. */
const headerText = fc.oneof(
  fc.string({ maxLength: 60 }).map((s) => s.replace(/[\r\n\0]/g, '')),
  fc.string({ unit: 'binary', maxLength: 60 }).map((s) => [...s].map((c) => String.fromCharCode(c.charCodeAt(0) % 256)).join('').replace(/[\r\n\0]/g, '')),
  fc.constantFrom('', ' ', '\t', ',', ';', '*', 'a'.repeat(8 * 1024), '__proto__', 'constructor')
)

const contentType = fc.oneof(
  { weight: 6, arbitrary: fc.constant('application/json') },
  { weight: 3, arbitrary: fc.constantFrom('application/json; charset=utf-8', 'application/json; charset=utf-16', 'application/JSON', 'application/json;', 'application/json; charset="', 'application/problem+json', 'application/vnd.api+json', 'text/plain', 'text/plain; charset=utf-8', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/octet-stream', 'image/jpeg', 'text/html', '*/*', 'application', '/', ';', 'application/json\t', 'application/json, text/plain') },
  { weight: 1, arbitrary: headerText }
)

const acceptLanguage = fc.oneof(
  fc.constantFrom('en', 'es', 'ht', 'ru', 'ht-HT,fr;q=0.8', 'ru;q=0.1, es;q=0.9', '*', 'xx', 'es;q=abc', ';q=1', 'en;q=-1', 'en;q=1e9', 'zh-Hant-TW-x-private', ',,,,', 'es-'.repeat(500)),
  headerText
)

const accept = fc.oneof(
  fc.constantFrom('application/json', 'text/csv', 'text/html', '*/*', 'text/csv;q=0', 'application/json;q=0, */*;q=0', 'image/*', 'application/*;q=0.5', 'a/b;q=x', ''),
  headerText
)

const idempotencyKey = fc.oneof(
  { weight: 10, arbitrary: fc.uuid() },
  { weight: 2, arbitrary: headerText },
  { weight: 1, arbitrary: fc.constantFrom('', '__proto__', 'a'.repeat(1000), '00000000-0000-0000-0000-000000000000') }
)

const deviceId = fc.oneof(
  { weight: 10, arbitrary: fc.uuid() },
  { weight: 1, arbitrary: headerText }
)

const b64url = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url')

/** An Authorization header that is not a valid token: malformed, unsigned, expired, foreign. */
const badAuthorization = fc.oneof(
  headerText.map((t) => `Bearer ${t}`),
  headerText,
  fc.constantFrom(
    'Bearer', 'Bearer ', 'bearer x.y.z', 'Basic YWRtaW46YWRtaW4=', 'Bearer a.b', 'Bearer ...', 'Bearer a.b.c.d',
    `Bearer ${b64url({ alg: 'none', typ: 'JWT' })}.${b64url({ sub: 's', role: 'ops', iss: 'appointment-gateway', aud: 'appointment-gateway-api', exp: 9999999999 })}.`,
    `Bearer ${b64url({ alg: 'HS256', typ: 'JWT' })}.${b64url({ sub: 's', role: 'ops' })}.c2ln`,
    `Bearer ${b64url({ alg: 'ES256', typ: 'JWT', kid: '__proto__' })}.${b64url({ sub: { __proto__: 1 }, role: ['ops'] })}.c2ln`,
    `Bearer ${'A'.repeat(16 * 1024)}.${'B'.repeat(16 * 1024)}.${'C'.repeat(100)}`
  ),
  fc.constant(null).map(() => `Bearer ${token({ role: 'ops', expiresInSeconds: -3600 })}`),
  fc.constant(null).map(() => `Bearer ${token({ role: 'ops', aud: 'someone-else' })}`),
  fc.constant(null).map(() => `Bearer ${token({ role: 'admin' })}`),
  fc.constant(null).map(() => `Bearer ${token({ role: 'ops', expiresInSeconds: 10 * 365 * 86400 })}`)
)

export type AuthMode = 'right-role' | 'wrong-role' | 'none' | 'garbage'

/** Headers of one case: the auth mode decides the token; the rest is bent at random. */
export function headersFor (route: FuzzRoute): fc.Arbitrary<{ headers: Record<string, string>, auth: AuthMode }> {
  const roles = route.roles ?? []
  const other = ['applicant', 'partner', 'officer', 'ops'].filter((r) => !roles.includes(r))
  const modes: AuthMode[] = roles.length > 0 ? ['right-role', 'right-role', 'right-role', 'none', 'garbage', ...(other.length > 0 ? ['wrong-role' as const] : [])] : ['none', 'garbage']
  return fc.record({
    auth: fc.constantFrom(...modes),
    role: fc.constantFrom(...(roles.length > 0 ? roles : ['applicant'])),
    wrong: fc.constantFrom(...(other.length > 0 ? other : ['applicant'])),
    sub: fc.oneof(fc.constantFrom('fuzz-1', 'fuzz-2'), evilString.filter((s) => s.length > 0)),
    garbage: badAuthorization,
    device: deviceId,
    contentType: fc.option(contentType, { nil: undefined, freq: 8 }),
    accept: fc.option(accept, { nil: undefined }),
    language: fc.option(acceptLanguage, { nil: undefined }),
    idempotencyKey: fc.option(idempotencyKey, { nil: undefined, freq: 10 }),
    extra: fc.array(fc.tuple(fc.constantFrom('x-forwarded-for', 'x-request-id', 'origin', 'access-control-request-method', 'access-control-request-headers', 'cookie', 'x-http-method-override', 'transfer-encoding', 'content-encoding', 'if-none-match', 'range', 'x-huge'), headerText), { maxLength: 3 })
  }).map((h) => {
    const headers: Record<string, string> = {}
    for (const [name, value] of h.extra) headers[name] = name === 'x-huge' ? value.repeat(4) : value
    // Transfer-Encoding would make the injected body unparseable on purpose in every case: drop it.
    delete headers['transfer-encoding']
    if (h.auth === 'right-role') headers.authorization = `Bearer ${token({ role: h.role, sub: h.sub })}`
    if (h.auth === 'wrong-role') headers.authorization = `Bearer ${token({ role: h.wrong, sub: h.sub })}`
    if (h.auth === 'garbage') headers.authorization = h.garbage
    headers['x-device-id'] = h.device
    if (h.contentType !== undefined) headers['content-type'] = h.contentType
    if (h.accept !== undefined) headers.accept = h.accept
    if (h.language !== undefined) headers['accept-language'] = h.language
    if (h.idempotencyKey !== undefined) headers['idempotency-key'] = h.idempotencyKey
    return { headers, auth: h.auth }
  })
}

/** A query string: the route's own keys with valid or hostile values, repeated, as arrays, or garbage. */
export function queryFor (route: FuzzRoute): fc.Arbitrary<string> {
  const keys = Object.keys(route.schema.querystring?.properties ?? {})
  const key = fc.oneof(...(keys.length > 0 ? [{ weight: 4, arbitrary: fc.constantFrom(...keys) }] : []), { weight: 1, arbitrary: evilString.map(encode) }, { weight: 1, arbitrary: fc.constantFrom('__proto__', 'constructor[prototype][polluted]', '__proto__[polluted]', 'a[]', 'a[0]', 'a[b][c]', '') })
  const validQuery = fromSchema(route.schema.querystring).map((q) => {
    if (q === null || typeof q !== 'object') return ''
    return Object.entries(q).map(([k, v]) => `${encode(k)}=${encode(typeof v === 'string' ? v : JSON.stringify(v))}`).join('&')
  })
  const pair = fc.tuple(key, fc.oneof(evilString.map(encode), fc.constantFrom('%', '%ZZ', '%00', '%C0%AF', '%ED%A0%80', '%uD800', '+', '=', '&', '1', '-1', '1e999', 'true', ''))).map(([k, v]) => `${k}=${v}`)
  return fc.oneof(
    { weight: 3, arbitrary: fc.constant('') },
    { weight: 3, arbitrary: validQuery },
    { weight: 3, arbitrary: fc.array(pair, { minLength: 1, maxLength: 6 }).map((pairs) => pairs.join('&')) },
    // The same key many times: arrays where the schema wants one value.
    { weight: 1, arbitrary: fc.tuple(key, fc.integer({ min: 2, max: 2_000 })).map(([k, n]) => Array.from({ length: n }, (_, i) => `${k}=${i}`).join('&')) },
    { weight: 1, arbitrary: fc.constantFrom('&&&', '=', '==', '?', '#', 'a'.repeat(10_000), '%'.repeat(100)) }
  )
}

/** The URL of one case: the route's path with its parameters filled, valid or not. */
export function pathFor (route: FuzzRoute): fc.Arbitrary<string> {
  const names = [...route.url.matchAll(/:([A-Za-z0-9_]+)/g)].map((m) => m[1] as string)
  const wildcard = route.url.endsWith('*')
  if (names.length === 0 && !wildcard) return fc.constant(route.url)
  const paramSchema = route.schema.params?.properties ?? {}
  const value = (name: string): fc.Arbitrary<string> => fc.oneof(
    { weight: 4, arbitrary: fromSchema(paramSchema[name] ?? { type: 'string' }).map((v) => encode(String(v))) },
    { weight: 2, arbitrary: evilString.map(encode) },
    { weight: 1, arbitrary: fc.constantFrom('%', '%ZZ', '%00', '..', '%2e%2e%2f', '%2F', 'a'.repeat(101), 'a'.repeat(5000), '__proto__', 'constructor', '%E0%A4%A', '%C0%AF', '%ED%A0%80', ';x', 'x%3Bjsessionid=1') }
  )
  return fc.tuple(...names.map(value), value('*')).map((values) => {
    let url = route.url
    names.forEach((name, i) => { url = url.replace(`:${name}`, values[i] as string) })
    if (wildcard) url = url.slice(0, -1) + (values[names.length] as string)
    // The CORS preflight route is '*' itself.
    return url.startsWith('/') ? url : `/${url}`
  })
}

/**
 * A request that should succeed, built from state the test created: the route's path parameters
 * (and query) naming things that exist, the subject that owns them, and a body the handler takes.
 * The fuzzer sends these often, and bends them, so cases reach the handlers past "not found".
 */
export interface KnownCase {
  /** The owner: the subject of the right-role token. */
  subject: string
  /** Its role, one of the route's; by default applicant where the route takes one, else its first. */
  role?: string
  params?: Record<string, string>
  query?: Record<string, string>
  body?: unknown
}

/** One whole case for `route`; `known` (real ids, owners and bodies) are mixed in when given. */
export function requestFor (route: FuzzRoute, known: readonly KnownCase[] = []): fc.Arbitrary<FuzzRequest & { auth: AuthMode }> {
  const roles = route.roles ?? []
  return fc.record({
    path: pathFor(route),
    query: queryFor(route),
    head: headersFor(route),
    body: bodyFor(route),
    // Three cases in five start from a known request; of those, the parts kept or swapped for fuzz.
    known: known.length > 0 ? fc.oneof({ weight: 2, arbitrary: fc.constant(undefined) }, { weight: 3, arbitrary: fc.constantFrom(...known) }) : fc.constant(undefined),
    keepPath: fc.oneof({ weight: 5, arbitrary: fc.constant(true) }, { weight: 1, arbitrary: fc.constant(false) }),
    keepBody: fc.oneof({ weight: 3, arbitrary: fc.constant(true) }, { weight: 1, arbitrary: fc.constant(false) }),
    owner: fc.oneof({ weight: 4, arbitrary: fc.constant(true) }, { weight: 1, arbitrary: fc.constant(false) }),
    // Now and then the wrong method on the route's path.
    method: fc.oneof({ weight: 9, arbitrary: fc.constant(route.method) }, { weight: 1, arbitrary: fc.constantFrom('GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'HEAD') })
  }).map(({ path, query, head, body, known: fromWorld, keepPath, keepBody, owner, method }) => {
    const sendsBody = method !== 'GET' && method !== 'HEAD'
    // Known only with the route's own method: another method on a known path would change the
    // world under the routes fuzzed after (a GET's registration withdrawn by a DELETE).
    const real = method === route.method ? fromWorld : undefined
    let headers = head.headers
    let payload = body
    if (real !== undefined && keepPath) {
      path = route.url.replace(/:([A-Za-z0-9_]+)/g, (whole, name: string) => {
        const value = real.params?.[name]
        return value === undefined ? whole : encode(value)
      })
      if (real.query !== undefined) query = Object.entries(real.query).map(([k, v]) => `${encode(k)}=${encode(v)}`).join('&')
    }
    if (real !== undefined && keepBody && real.body !== undefined) payload = { payload: JSON.stringify(real.body), kind: 'known' }
    if (real !== undefined && owner && head.auth === 'right-role' && roles.length > 0) {
      const role = real.role ?? (roles.includes('applicant') ? 'applicant' : roles[0] as string)
      headers = { ...headers, authorization: `Bearer ${token({ role, sub: real.subject })}` }
    }
    return {
      method,
      url: query === '' ? path : `${path}?${query}`,
      headers,
      ...(sendsBody && payload.payload !== undefined ? { payload: payload.payload } : {}),
      auth: head.auth,
      label: `${method} ${route.method} ${route.url} auth=${head.auth}${real === undefined ? '' : ` known=${keepPath ? 'path' : 'fuzzed-path'}${owner ? '+owner' : ''}`} body=${sendsBody ? payload.kind : 'none'} (${payload.payload === undefined ? 0 : Buffer.byteLength(payload.payload)} bytes)`
    }
  })
}
