// Builds the one frozen Config the process runs with: defaults, then an optional JSON file
// (GATEWAY_CONFIG_FILE), then environment variables. Anything invalid stops the boot with a
// message that names the key, its environment variable and the form it must take.
import { readFileSync } from 'node:fs'
import { isIP } from 'node:net'
import { DateTime } from 'luxon'
import Value from 'typebox/value'
import { registrationBodyLimit } from '../gateway/schemas/registration.js'
import { defaults } from './defaults.js'
import { ConfigSchema, type Config } from './schema.js'

export type { Config, Poe } from './schema.js'

/** One tunable leaf of the schema, as listed in the README's configuration table. */
export interface Setting {
  path: string
  env: string | undefined
  expected: string
  doc: string
  secret: boolean
}

export class ConfigError extends Error {
  readonly problems: readonly string[]

  constructor (problems: string[]) {
    super(`invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`)
    this.name = 'ConfigError'
    this.problems = problems
  }
}

export const CONFIG_FILE_ENV = 'GATEWAY_CONFIG_FILE'

type Schema = Record<string, unknown> & {
  type?: string
  env?: string
  expected?: string
  doc?: string
  secret?: boolean
  properties?: Record<string, Schema>
  items?: Schema
}

const root = ConfigSchema as unknown as Schema

/** Every annotated leaf of the schema, in declaration order. */
export function settings (): Setting[] {
  const out: Setting[] = []
  const walk = (schema: Schema, path: string[]): void => {
    if (schema.expected !== undefined) {
      out.push({
        path: path.join('.'),
        env: schema.env,
        expected: schema.expected,
        doc: schema.doc ?? '',
        secret: schema.secret === true
      })
      return
    }
    for (const [key, child] of Object.entries(schema.properties ?? {})) walk(child, [...path, key])
  }
  walk(root, [])
  return out
}

export interface LoadOptions {
  env?: NodeJS.ProcessEnv
}

export function loadConfig ({ env = process.env }: LoadOptions = {}): Readonly<Config> {
  const problems: string[] = []
  let candidate: unknown = structuredClone(defaults)

  const file = env[CONFIG_FILE_ENV]
  if (file !== undefined && file !== '') {
    const overlay = readOverlay(file, problems)
    if (overlay !== undefined) candidate = merge(candidate, overlay)
  }

  const known = new Map(settings().filter((s) => s.env !== undefined).map((s) => [s.env as string, s]))
  for (const [name, raw] of Object.entries(env)) {
    if (raw === undefined) continue
    const setting = known.get(name)
    if (setting === undefined) {
      // A typo in a GATEWAY_* variable would otherwise be ignored in silence.
      if (name.startsWith('GATEWAY_') && name !== CONFIG_FILE_ENV) problems.push(unknownEnv(name, [...known.keys()]))
      continue
    }
    const parsed = parseEnv(setting, raw, problems)
    if (parsed !== undefined) setAt(candidate, setting.path.split('.'), parsed.value)
  }

  if (problems.length === 0) {
    problems.push(...schemaProblems(candidate))
    if (problems.length === 0) problems.push(...crossFieldProblems(candidate as Config))
  }
  if (problems.length > 0) throw new ConfigError(problems)
  return deepFreeze(candidate as Config)
}

function readOverlay (file: string, problems: string[]): unknown {
  let text: string
  try {
    text = readFileSync(file, 'utf8')
  } catch (err) {
    problems.push(`${CONFIG_FILE_ENV} names a file that cannot be read (${(err as NodeJS.ErrnoException).code ?? 'error'}): ${file}`)
    return undefined
  }
  try {
    const value: unknown = JSON.parse(text)
    if (value === null || typeof value !== 'object' || Array.isArray(value)) {
      problems.push(`${CONFIG_FILE_ENV} must name a file holding one JSON object: ${file}`)
      return undefined
    }
    return value
  } catch {
    problems.push(`${CONFIG_FILE_ENV} must name a file holding valid JSON: ${file}`)
    return undefined
  }
}

// Objects merge key by key; arrays and scalars replace (a POE list is replaced whole).
function merge (base: unknown, overlay: unknown): unknown {
  if (isPlainObject(base) && isPlainObject(overlay)) {
    const out: Record<string, unknown> = { ...base }
    for (const [key, value] of Object.entries(overlay)) out[key] = merge(base[key], value)
    return out
  }
  return overlay
}

function parseEnv (setting: Setting, raw: string, problems: string[]): { value: unknown } | undefined {
  const schema = schemaAt(setting.path.split('.'))
  switch (schema?.type) {
    case 'integer':
    case 'number':
      // Number('') is 0 and Number('0x10') is 16: accept only plain decimal text.
      return { value: /^-?\d+(\.\d+)?$/.test(raw.trim()) ? Number(raw) : raw }
    case 'boolean':
      if (raw === 'true' || raw === '1') return { value: true }
      if (raw === 'false' || raw === '0') return { value: false }
      return { value: raw }
    case 'array':
    case 'object':
      try {
        return { value: JSON.parse(raw) }
      } catch {
        problems.push(`${setting.path} (${setting.env}) must be ${setting.expected}; the value is not valid JSON`)
        return undefined
      }
    default:
      return { value: raw }
  }
}

function schemaProblems (candidate: unknown): string[] {
  const seen = new Set<string>()
  const problems: string[] = []
  for (const error of Value.Errors(ConfigSchema, candidate)) {
    // additionalProperties is reported twice: once on the object, once per extra key.
    if (error.keyword === 'additionalProperties') continue
    const segments = error.instancePath.split('/').slice(1).map(unescapePointer)
    const where = display(segments)
    if (seen.has(where)) continue
    seen.add(where)
    if (error.keyword === 'boolean') {
      problems.push(`${where} is not a known setting`)
      continue
    }
    if (error.keyword === 'required') {
      const missing = (error.params as { requiredProperties?: string[] }).requiredProperties ?? []
      problems.push(`${where === '' ? 'the configuration' : where} is missing ${missing.join(', ')}`)
      continue
    }
    const leafSchema = annotatedAncestor(segments)
    const envName = envFor(segments)
    const value = valueAt(candidate, segments)
    const got = leafSchema?.secret === true ? '' : `, got ${JSON.stringify(value)}`
    problems.push(`${where}${envName === undefined ? '' : ` (${envName})`} must be ${leafSchema?.expected ?? 'valid'}${got}`)
  }
  return problems
}

const REGISTRATION_ROUTE = 'POST /v1/registrations'

function crossFieldProblems (config: Config): string[] {
  const problems: string[] = []
  const slugs = new Set<string>()
  config.poes.forEach((poe, i) => {
    if (slugs.has(poe.slug)) problems.push(`poes[${i}].slug (GATEWAY_POES) must be unique, got "${poe.slug}" twice`)
    slugs.add(poe.slug)
  })
  // The schema's patternProperties checks values only: a key it does not match would pass.
  for (const name of Object.keys(config.server.routeBodyLimits)) {
    if (!/^(POST|PUT|PATCH|DELETE) \/\S*$/.test(name)) problems.push(`server.routeBodyLimits (GATEWAY_ROUTE_BODY_LIMITS) must name each route as "METHOD /route/template" with a method that takes a body (POST, PUT, PATCH, DELETE), got ${JSON.stringify(name)}`)
  }
  // Below the largest honest registration, a group at GATEWAY_REGISTRATION_MAX_MEMBERS with long
  // names would be refused 413 at random, by script and encoder.
  const registrationLimit = config.server.routeBodyLimits[REGISTRATION_ROUTE]
  const registrationLargest = registrationBodyLimit(config.registrations.maxMembers)
  if (registrationLimit !== undefined && registrationLimit < registrationLargest) {
    problems.push(`server.routeBodyLimits (GATEWAY_ROUTE_BODY_LIMITS) must give "${REGISTRATION_ROUTE}" at least ${registrationLargest} bytes, the largest registration of registrations.maxMembers (GATEWAY_REGISTRATION_MAX_MEMBERS, ${config.registrations.maxMembers}) members escaped, or leave it out, got ${registrationLimit}`)
  }
  if (config.trends.defaultLimit > config.trends.maxLimit) {
    problems.push(`trends.defaultLimit (GATEWAY_TRENDS_DEFAULT_LIMIT) must be at most trends.maxLimit (GATEWAY_TRENDS_MAX_LIMIT, ${config.trends.maxLimit}), got ${config.trends.defaultLimit}`)
  }

  try {
    // Throws RangeError on a zone the runtime's ICU does not know.
    Intl.DateTimeFormat('en-US', { timeZone: config.schedule.timezone })
  } catch {
    problems.push(`schedule.timezone (GATEWAY_TIMEZONE) must be an IANA time zone such as America/New_York, got ${JSON.stringify(config.schedule.timezone)}`)
  }

  const { requestWindowOpensAt: opens, requestWindowClosesAt: closes, allocationAt } = config.schedule
  if (opens === closes) {
    problems.push('schedule.requestWindowClosesAt (GATEWAY_REQUEST_WINDOW_CLOSES_AT) must differ from schedule.requestWindowOpensAt, or the window never closes for the draw')
  } else if (!inClosedPeriod(minutes(allocationAt), minutes(closes), minutes(opens))) {
    problems.push(`schedule.allocationAt (GATEWAY_ALLOCATION_AT) must fall while the request window is closed, from ${closes} until ${opens}, got "${allocationAt}"`)
  }

  if (problems.length === 0) {
    for (const [key, env, time] of [['requestWindowOpensAt', 'GATEWAY_REQUEST_WINDOW_OPENS_AT', opens], ['requestWindowClosesAt', 'GATEWAY_REQUEST_WINDOW_CLOSES_AT', closes], ['allocationAt', 'GATEWAY_ALLOCATION_AT', allocationAt]] as const) {
      const clash = daylightSavingClash(config.schedule.timezone, time)
      if (clash !== undefined) problems.push(`schedule.${key} (${env}) must be a time that every day has exactly once in ${config.schedule.timezone}, got "${time}", which ${clash}`)
    }
  }

  const { redisUrl, clusterNodes, waitReplicas, waitTimeoutMs, commandTimeoutMs } = config.store
  if (redisUrl !== '' && !/^rediss?:\/\/[^\s]+$/.test(redisUrl)) {
    problems.push('store.redisUrl (REDIS_URL) must be empty (embedded memory store) or a redis:// or rediss:// URL')
  }
  if (clusterNodes !== '') {
    if (redisUrl !== '') problems.push('store.redisUrl (REDIS_URL) and store.clusterNodes (REDIS_CLUSTER_NODES) must not both be set: give REDIS_URL for one Redis, or REDIS_CLUSTER_NODES for a Redis Cluster')
    const bad = clusterNodes.split(',').filter((node) => parseClusterNode(node) === undefined)
    if (bad.length > 0) problems.push(`store.clusterNodes (REDIS_CLUSTER_NODES) must be a comma-separated list of host:port (port 1 to 65535), got ${JSON.stringify(bad[0])}`)
  }
  // WAIT blocks its connection until the replicas answer or the timeout passes; the client must
  // not give up on the command first.
  if (waitReplicas > 0 && waitTimeoutMs >= commandTimeoutMs) {
    problems.push(`store.waitTimeoutMs (GATEWAY_REDIS_WAIT_TIMEOUT_MS) must be less than store.commandTimeoutMs (GATEWAY_REDIS_COMMAND_TIMEOUT_MS, ${commandTimeoutMs}) when GATEWAY_REDIS_WAIT_REPLICAS is above 0, got ${waitTimeoutMs}`)
  }
  const url = redisUrl !== '' ? redisUrl : clusterNodes
  const redisVar = clusterNodes !== '' && redisUrl === '' ? 'REDIS_CLUSTER_NODES' : 'REDIS_URL'

  config.server.trustedProxies.forEach((entry, i) => {
    if (!isProxyEntry(entry)) problems.push(`server.trustedProxies[${i}] (GATEWAY_TRUSTED_PROXIES) must be an IP address, a CIDR range or one of loopback, linklocal, uniquelocal, got ${JSON.stringify(entry)}`)
  })

  const { publicKeyFile, jwksFile } = config.auth
  if (publicKeyFile !== '' && jwksFile !== '') {
    problems.push('auth.publicKeyFile (GATEWAY_AUTH_PUBLIC_KEY_FILE) and auth.jwksFile (GATEWAY_AUTH_JWKS_FILE) must not both be set')
  } else if (publicKeyFile === '' && jwksFile === '' && url !== '') {
    // Development keys are generated on the machine; a shared deployment must not trust them.
    problems.push(`auth.publicKeyFile (GATEWAY_AUTH_PUBLIC_KEY_FILE) or auth.jwksFile (GATEWAY_AUTH_JWKS_FILE) must be set when ${redisVar} is set: development keys serve the embedded store only`)
  }

  if (config.registrations.identityKeyFile === '' && url !== '') {
    problems.push(`registrations.identityKeyFile (GATEWAY_IDENTITY_KEY_FILE) must be set when ${redisVar} is set: a development identity key serves the embedded store only`)
  }

  const { instances, restartDelayMs, restartMaxDelayMs } = config.cluster
  if (instances > 1 && url === '') {
    problems.push(`cluster.instances (GATEWAY_INSTANCES) must be 1 when neither REDIS_URL nor REDIS_CLUSTER_NODES is set: the embedded memory store is per process, so ${instances} instances would each keep their own rate limits, vendor and delivery pacing and waiting room; set REDIS_URL, got ${instances}`)
  }
  // Instance i listens on port + i: the last one must still be a port.
  for (const [key, env, port] of [['server.port', 'GATEWAY_PORT', config.server.port], ['waitingRoom.wsPort', 'GATEWAY_WS_PORT', config.waitingRoom.wsPort]] as const) {
    if (port !== 0 && port + instances - 1 > 65535) problems.push(`${key} (${env}) must be at most ${65536 - instances} with cluster.instances (GATEWAY_INSTANCES) ${instances}: instance i listens on ${env} + i, got ${port}`)
  }
  // The WebSocket server runs with a room or GATEWAY_WS_ENABLED (gateway/plugins/waiting-room.ts):
  // then the two port ranges must not overlap, as they do by default (8080 + 1 is 8081).
  const { port } = config.server
  const { wsPort } = config.waitingRoom
  const wsRuns = config.waitingRoom.rooms.length > 0 || config.waitingRoom.wsEnabled
  if (instances > 1 && wsRuns && port !== 0 && wsPort !== 0 && port < wsPort + instances && wsPort < port + instances) {
    problems.push(`waitingRoom.wsPort (GATEWAY_WS_PORT) must be outside ${port} to ${port + instances - 1} (and server.port outside ${wsPort} to ${wsPort + instances - 1}) with cluster.instances (GATEWAY_INSTANCES) ${instances}: instance i listens on GATEWAY_PORT + i and GATEWAY_WS_PORT + i; for example GATEWAY_WS_PORT=${port + 100}, got ${wsPort}`)
  }
  if (restartMaxDelayMs < restartDelayMs) {
    problems.push(`cluster.restartMaxDelayMs (GATEWAY_INSTANCE_RESTART_MAX_DELAY_MS) must be at least cluster.restartDelayMs (GATEWAY_INSTANCE_RESTART_DELAY_MS, ${restartDelayMs}), got ${restartMaxDelayMs}`)
  }

  const ruleNames = new Set<string>()
  config.rateLimit.rules.forEach((rule, i) => {
    if (ruleNames.has(rule.name)) problems.push(`rateLimit.rules[${i}].name (GATEWAY_RATE_LIMIT_RULES) must be unique, got "${rule.name}" twice`)
    ruleNames.add(rule.name)
    if (rule.scope === 'route' && rule.routes === undefined) problems.push(`rateLimit.rules[${i}].routes (GATEWAY_RATE_LIMIT_RULES) must list the routes of a route-scoped rule`)
  })

  const buckets = config.metrics.httpDurationBuckets
  if (buckets.some((b, i) => i > 0 && b <= (buckets[i - 1] as number))) {
    problems.push(`metrics.httpDurationBuckets (GATEWAY_METRICS_HTTP_BUCKETS) must be ascending, got ${JSON.stringify(buckets)}`)
  }
  // The latency SLO counts a request as fast by the le="1" bucket (grafana/prometheus/alerts.yml).
  if (!buckets.includes(1)) {
    problems.push(`metrics.httpDurationBuckets (GATEWAY_METRICS_HTTP_BUCKETS) must include 1 (the latency SLO's threshold, 1 s), got ${JSON.stringify(buckets)}`)
  }

  const edges = config.fairness.ageBucketDays
  if (edges.some((b, i) => i > 0 && b <= (edges[i - 1] as number))) {
    problems.push(`fairness.ageBucketDays (GATEWAY_FAIRNESS_AGE_BUCKET_DAYS) must be ascending, got ${JSON.stringify(edges)}`)
  }

  const rooms = config.waitingRoom.rooms
  const roomNames = new Set<string>()
  rooms.forEach((room, i) => {
    if (roomNames.has(room.name)) problems.push(`waitingRoom.rooms[${i}].name (GATEWAY_WAITING_ROOMS) must be unique, got "${room.name}" twice`)
    roomNames.add(room.name)
    room.openings.forEach((opening, j) => {
      if (opening === 'request-window') return
      if (new RegExp(HH_MM_PATTERN).test(opening)) {
        const clash = daylightSavingClash(config.schedule.timezone, opening)
        if (clash !== undefined) problems.push(`waitingRoom.rooms[${i}].openings[${j}] (GATEWAY_WAITING_ROOMS) must be a time that every day has exactly once in ${config.schedule.timezone}, got "${opening}", which ${clash}`)
        return
      }
      if (!ISO_INSTANT.test(opening) || !Number.isFinite(Date.parse(opening))) problems.push(`waitingRoom.rooms[${i}].openings[${j}] (GATEWAY_WAITING_ROOMS) must be "request-window", a daily "HH:MM" or an ISO instant with its offset such as 2026-12-01T14:00:00Z, got ${JSON.stringify(opening)}`)
    })
  })
  const guardedBy = new Map<string, string>()
  rooms.forEach((room, i) => {
    room.routes.forEach((route, j) => {
      const other = guardedBy.get(route)
      if (other !== undefined) problems.push(`waitingRoom.rooms[${i}].routes[${j}] (GATEWAY_WAITING_ROOMS) must not stand behind two rooms, got "${route}" in "${other}" and "${room.name}"`)
      guardedBy.set(route, room.name)
    })
    const clash = overlappingOpenings(room, config.schedule)
    if (clash !== undefined) problems.push(`waitingRoom.rooms[${i}].openings (GATEWAY_WAITING_ROOMS) must be at least preOpenMinutes + activeMinutes (${room.preOpenMinutes + room.activeMinutes}) apart, or one period would swallow the next and lose its people's places; ${clash}`)
  })
  if (config.waitingRoom.wsPublicUrl !== '' && !/^wss?:\/\/[^\s/]+/.test(config.waitingRoom.wsPublicUrl)) {
    problems.push('waitingRoom.wsPublicUrl (GATEWAY_WS_PUBLIC_URL) must be empty or a ws:// or wss:// URL')
  }
  if (rooms.length > 0 && usesRedis(config.store) && config.waitingRoom.signingKeyFile === '') {
    problems.push(`waitingRoom.signingKeyFile (GATEWAY_WAITING_ROOM_SIGNING_KEY_FILE) must be set when ${redisVar} is set and a waiting room is configured: every instance must verify the admission tokens the others sign`)
  }
  return problems
}

/** Whether state lives in Redis (one server or a Cluster) rather than in the process. */
export function usesRedis (store: Config['store']): boolean {
  return store.redisUrl !== '' || store.clusterNodes !== ''
}

/** One `host:port` of REDIS_CLUSTER_NODES (an IPv6 host in brackets), or undefined when malformed. */
export function parseClusterNode (text: string): { host: string, port: number } | undefined {
  const match = /^(?:\[([0-9A-Fa-f:.]+)\]|([A-Za-z0-9.-]{1,253})):(\d{1,5})$/.exec(text.trim())
  if (match === null) return undefined
  const port = Number(match[3])
  if (!(port >= 1 && port <= 65535)) return undefined
  return { host: match[1] ?? match[2] as string, port }
}

const HH_MM_PATTERN = '^([01][0-9]|2[0-3]):[0-5][0-9]$'

/** Two openings of a room closer than one period, as "A and B", or undefined. */
function overlappingOpenings (room: Config['waitingRoom']['rooms'][number], schedule: Config['schedule']): string | undefined {
  const instants = room.openings.filter((o) => o !== 'request-window' && !new RegExp(HH_MM_PATTERN).test(o)).map((o) => Date.parse(o)).filter(Number.isFinite)
  const daily = room.openings.filter((o) => o === 'request-window' || new RegExp(HH_MM_PATTERN).test(o)).map((o) => o === 'request-window' ? schedule.requestWindowOpensAt : o)
  // Around a fixed day and around each instant: the daily times of the days either side.
  const days = [Date.parse('2026-01-15T12:00:00Z'), ...instants].map((at) => DateTime.fromMillis(at, { zone: schedule.timezone }).startOf('day'))
  const all = new Set<number>(instants)
  for (const day of days) {
    for (const hhmm of daily) {
      const [hour, minute] = hhmm.split(':').map(Number) as [number, number]
      for (let d = -1; d <= 1; d++) all.add(day.plus({ days: d }).set({ hour, minute }).toMillis())
    }
  }
  const sorted = [...all].sort((a, b) => a - b)
  const period = (room.preOpenMinutes + room.activeMinutes) * 60_000
  for (let i = 1; i < sorted.length; i++) {
    if ((sorted[i] as number) - (sorted[i - 1] as number) < period) return `${new Date(sorted[i - 1] as number).toISOString()} and ${new Date(sorted[i] as number).toISOString()} are not`
  }
  return undefined
}
const ISO_INSTANT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,3})?)?(Z|[+-]\d{2}:\d{2})$/

/**
 * A local time that a daylight-saving change skips or repeats would open, close or draw a pool at
 * no instant or at two: the window, the seal and the draw would disagree about that day. Looks at
 * the changes of 2026 and 2027 (zones keep their rules for years; a zone without changes passes).
 */
const clashes = new Map<string, string | undefined>()
function daylightSavingClash (zone: string, hhmm: string): string | undefined {
  const key = `${zone} ${hhmm}`
  if (!clashes.has(key)) clashes.set(key, findClash(zone, hhmm))
  return clashes.get(key)
}

function findClash (zone: string, hhmm: string): string | undefined {
  const [hour, minute] = hhmm.split(':').map(Number) as [number, number]
  let day = DateTime.fromObject({ year: 2026, month: 1, day: 1, hour: 12 }, { zone })
  for (let i = 0; i < 731; i++) {
    const next = day.plus({ days: 1 })
    if (next.offset !== day.offset) {
      for (const d of [day, next]) {
        const at = d.set({ hour, minute, second: 0, millisecond: 0 })
        if (at.hour !== hour || at.minute !== minute) return `does not exist on ${d.toISODate() as string}`
        if (at.minus({ hours: 1 }).toFormat('HH:mm') === hhmm || at.plus({ hours: 1 }).toFormat('HH:mm') === hhmm) return `comes twice on ${d.toISODate() as string}`
      }
    }
    day = next
  }
  return undefined
}

// What proxy-addr (Fastify's trustProxy) accepts; anything else would throw at server creation.
function isProxyEntry (entry: string): boolean {
  if (['loopback', 'linklocal', 'uniquelocal'].includes(entry)) return true
  const [address, bits, ...rest] = entry.split('/')
  const family = isIP(address ?? '')
  if (family === 0 || rest.length > 0) return false
  if (bits === undefined) return true
  return /^\d{1,3}$/.test(bits) && Number(bits) <= (family === 4 ? 32 : 128)
}

function minutes (hhmm: string): number {
  const [h, m] = hhmm.split(':').map(Number) as [number, number]
  return h * 60 + m
}

// The closed period runs from `closes` (inclusive) to `opens` (exclusive), across midnight if needed.
function inClosedPeriod (t: number, closes: number, opens: number): boolean {
  return closes < opens ? t >= closes && t < opens : t >= closes || t < opens
}

function schemaAt (segments: string[]): Schema | undefined {
  let schema: Schema | undefined = root
  for (const segment of segments) {
    if (schema === undefined) return undefined
    schema = schema.type === 'array' ? schema.items : schema.properties?.[segment]
  }
  return schema
}

function annotatedAncestor (segments: string[]): Schema | undefined {
  for (let n = segments.length; n >= 0; n--) {
    const schema = schemaAt(segments.slice(0, n))
    if (schema?.expected !== undefined) return schema
  }
  return undefined
}

function envFor (segments: string[]): string | undefined {
  for (let n = segments.length; n >= 0; n--) {
    const env = schemaAt(segments.slice(0, n))?.env
    if (env !== undefined) return env
  }
  return undefined
}

function valueAt (value: unknown, segments: string[]): unknown {
  let current = value
  for (const segment of segments) {
    if (current === null || typeof current !== 'object') return undefined
    current = (current as Record<string, unknown>)[segment]
  }
  return current
}

function setAt (target: unknown, segments: string[], value: unknown): void {
  let current = target as Record<string, unknown>
  for (const segment of segments.slice(0, -1)) current = current[segment] as Record<string, unknown>
  current[segments[segments.length - 1] as string] = value
}

function display (segments: string[]): string {
  return segments.reduce((out, s) => /^\d+$/.test(s) ? `${out}[${s}]` : out === '' ? s : `${out}.${s}`, '')
}

function unescapePointer (segment: string): string {
  return segment.replace(/~1/g, '/').replace(/~0/g, '~')
}

function unknownEnv (name: string, known: string[]): string {
  const close = known
    .map((k) => ({ k, d: editDistance(name, k) }))
    .sort((a, b) => a.d - b.d)[0]
  const hint = close !== undefined && close.d <= 3 ? ` (did you mean ${close.k}?)` : ''
  return `${name} is not a known setting${hint}`
}

function editDistance (a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j)
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0] as number
    row[0] = i
    for (let j = 1; j <= b.length; j++) {
      const tmp = row[j] as number
      row[j] = Math.min((row[j] as number) + 1, (row[j - 1] as number) + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1))
      prev = tmp
    }
  }
  return row[b.length] as number
}

function isPlainObject (value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value)
}

function deepFreeze<T> (value: T): T {
  if (value !== null && typeof value === 'object') {
    for (const child of Object.values(value)) deepFreeze(child)
    Object.freeze(value)
  }
  return value
}
