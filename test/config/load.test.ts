import { mkdtemp, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { ConfigError, loadConfig, parseClusterNode, settings, usesRedis } from '../../config/load.js'

function problemsOf (env: Record<string, string>): readonly string[] {
  try {
    loadConfig({ env })
  } catch (err) {
    if (err instanceof ConfigError) return err.problems
    throw err
  }
  throw new Error('expected the configuration to be refused')
}

async function configFile (content: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'gateway-config-'))
  const file = join(dir, 'gateway.json')
  await writeFile(file, content)
  return file
}

describe('loadConfig', () => {
  it('runs on defaults alone, with the numbers from the brief', () => {
    const config = loadConfig({ env: {} })
    expect(config.server).toMatchObject({ host: '127.0.0.1', port: 8080 })
    expect(config.store.redisUrl).toBe('')
    expect(config.poes.map((p) => p.slug)).toEqual(['brownsville', 'el-paso', 'eagle-pass', 'hidalgo', 'laredo', 'calexico', 'san-ysidro', 'nogales'])
    expect(config.poes.reduce((sum, p) => sum + p.dailyCapacity, 0)).toBe(1450)
    expect(config.schedule).toEqual({
      timezone: 'America/New_York',
      requestWindowOpensAt: '12:00',
      requestWindowClosesAt: '11:00',
      allocationAt: '11:00',
      confirmationHours: 23,
      extensionHours: 23,
      maxExtensions: 1
    })
    expect(config.geofence.minLatitude).toBe(19.4326)
    expect(config.vendor).toMatchObject({ url: '', ratePerSecond: 1, totalScans: 400_000 })
    expect(config.liveness).toMatchObject({ maxPhotoBytes: 5 * 1024 * 1024, requireEachMember: true })
  })

  it('is frozen all the way down', () => {
    const config = loadConfig({ env: {} })
    expect(Object.isFrozen(config)).toBe(true)
    expect(Object.isFrozen(config.poes[0])).toBe(true)
    expect(() => { (config.server as { port: number }).port = 1 }).toThrow(TypeError)
  })

  it('takes overrides from the environment, typed by the schema', () => {
    const config = loadConfig({
      env: {
        GATEWAY_PORT: '9090',
        GATEWAY_DOCS_ENABLED: 'false',
        GATEWAY_GEOFENCE_MIN_LATITUDE: '20.5',
        REDIS_URL: 'redis://127.0.0.1:6380/2',
        GATEWAY_AUTH_PUBLIC_KEY_FILE: '/etc/gateway/jwt.pem',
        GATEWAY_IDENTITY_KEY_FILE: '/etc/gateway/identity.key',
        GATEWAY_POES: JSON.stringify([{ slug: 'laredo', name: 'Laredo', state: 'TX', dailyCapacity: 500 }]),
        GATEWAY_METRICS_HTTP_BUCKETS: '[0.01, 0.1, 1]',
        UNRELATED_VARIABLE: 'ignored'
      }
    })
    expect(config.server.port).toBe(9090)
    expect(config.server.docs).toBe(false)
    expect(config.geofence.minLatitude).toBe(20.5)
    expect(config.store.redisUrl).toBe('redis://127.0.0.1:6380/2')
    expect(config.poes).toEqual([{ slug: 'laredo', name: 'Laredo', state: 'TX', dailyCapacity: 500 }])
    expect(config.metrics.httpDurationBuckets).toEqual([0.01, 0.1, 1])
  })

  it('takes a JSON file, merged under the environment', async () => {
    const file = await configFile(JSON.stringify({ server: { port: 7000, host: '0.0.0.0' }, registrations: { maxMembers: 4 } }))
    const config = loadConfig({ env: { GATEWAY_CONFIG_FILE: file, GATEWAY_PORT: '7001' } })
    expect(config.server.port).toBe(7001)
    expect(config.server.host).toBe('0.0.0.0')
    expect(config.registrations.maxMembers).toBe(4)
    expect(config.registrations.perDeviceMax).toBe(3)
  })

  // Each message an operator can see at boot, exactly (piscina test/option-validation.test.ts).
  it.each([
    [{ GATEWAY_PORT: 'abc' }, 'server.port (GATEWAY_PORT) must be an integer from 0 to 65535, got "abc"'],
    [{ GATEWAY_PORT: '70000' }, 'server.port (GATEWAY_PORT) must be an integer from 0 to 65535, got 70000'],
    [{ GATEWAY_PORT: '' }, 'server.port (GATEWAY_PORT) must be an integer from 0 to 65535, got ""'],
    [{ GATEWAY_PORT: '8080.5' }, 'server.port (GATEWAY_PORT) must be an integer from 0 to 65535, got 8080.5'],
    [{ GATEWAY_LOG_LEVEL: 'loud' }, 'log.level (GATEWAY_LOG_LEVEL) must be one of fatal, error, warn, info, debug, trace, silent, got "loud"'],
    [{ GATEWAY_DOCS_ENABLED: 'yes' }, 'server.docs (GATEWAY_DOCS_ENABLED) must be true or false, got "yes"'],
    [{ GATEWAY_GEOFENCE_MIN_LATITUDE: '91' }, 'geofence.minLatitude (GATEWAY_GEOFENCE_MIN_LATITUDE) must be a number of degrees from -90 to 90, got 91'],
    [{ GATEWAY_VENDOR_RATE_PER_SECOND: '0' }, 'vendor.ratePerSecond (GATEWAY_VENDOR_RATE_PER_SECOND) must be a number greater than 0 and at most 10000, got 0'],
    [{ GATEWAY_REQUEST_WINDOW_OPENS_AT: '25:00' }, 'schedule.requestWindowOpensAt (GATEWAY_REQUEST_WINDOW_OPENS_AT) must be a time of day as HH:MM (24-hour), got "25:00"'],
    [{ GATEWAY_POES: '[{' }, 'poes (GATEWAY_POES) must be a JSON array of 1 to 64 ports of entry; the value is not valid JSON'],
    [{ GATEWAY_POES: '[]' }, 'poes (GATEWAY_POES) must be a JSON array of 1 to 64 ports of entry, got []'],
    [{ GATEWAY_POES: '[{"slug":"Laredo","name":"Laredo","state":"TX","dailyCapacity":5}]' }, 'poes[0].slug (GATEWAY_POES) must be a lower-case slug of letters, digits and dashes (at most 32 characters), got "Laredo"'],
    [{ GATEWAY_POES: '[{"slug":"laredo","name":"Laredo","state":"TX","dailyCapacity":-1}]' }, 'poes[0].dailyCapacity (GATEWAY_POES) must be an integer from 0 to 100000, got -1'],
    [{ GATEWAY_POES: '[{"slug":"laredo","name":"Laredo","state":"TX"}]' }, 'poes[0] is missing dailyCapacity'],
    [{ GATEWAY_POES: '[{"slug":"laredo","name":"Laredo","state":"TX","dailyCapacity":1,"extra":1}]' }, 'poes[0].extra is not a known setting'],
    [{ GATEWAY_POES: '[{"slug":"laredo","name":"L","state":"TX","dailyCapacity":1},{"slug":"laredo","name":"L2","state":"TX","dailyCapacity":1}]' }, 'poes[1].slug (GATEWAY_POES) must be unique, got "laredo" twice'],
    [{ GATEWAY_TRENDS_DEFAULT_LIMIT: '500', GATEWAY_TRENDS_MAX_LIMIT: '200' }, 'trends.defaultLimit (GATEWAY_TRENDS_DEFAULT_LIMIT) must be at most trends.maxLimit (GATEWAY_TRENDS_MAX_LIMIT, 200), got 500'],
    [{ GATEWAY_TRENDS_DEFAULT_MIN_CLAIMANTS: '1' }, 'trends.defaultMinClaimants (GATEWAY_TRENDS_DEFAULT_MIN_CLAIMANTS) must be an integer from 2 to 100000, got 1'],
    [{ GATEWAY_PROT: '9000' }, 'GATEWAY_PROT is not a known setting (did you mean GATEWAY_PORT?)'],
    [{ GATEWAY_TIMEZONE: 'Mars/Olympus_Mons' }, 'schedule.timezone (GATEWAY_TIMEZONE) must be an IANA time zone such as America/New_York, got "Mars/Olympus_Mons"'],
    [{ GATEWAY_ALLOCATION_AT: '14:00' }, 'schedule.allocationAt (GATEWAY_ALLOCATION_AT) must fall while the request window is closed, from 11:00 until 12:00, got "14:00"'],
    // A time a daylight-saving change skips or repeats would open, close or draw a pool at no instant or at two.
    [{ GATEWAY_REQUEST_WINDOW_OPENS_AT: '04:00', GATEWAY_REQUEST_WINDOW_CLOSES_AT: '02:30', GATEWAY_ALLOCATION_AT: '03:30' }, 'schedule.requestWindowClosesAt (GATEWAY_REQUEST_WINDOW_CLOSES_AT) must be a time that every day has exactly once in America/New_York, got "02:30", which does not exist on 2026-03-08'],
    [{ GATEWAY_REQUEST_WINDOW_OPENS_AT: '03:00', GATEWAY_REQUEST_WINDOW_CLOSES_AT: '00:30', GATEWAY_ALLOCATION_AT: '01:15' }, 'schedule.allocationAt (GATEWAY_ALLOCATION_AT) must be a time that every day has exactly once in America/New_York, got "01:15", which comes twice on 2026-11-01'],
    [{ GATEWAY_ALLOCATION_CATCH_UP_HOURS: '0' }, 'allocation.catchUpHours (GATEWAY_ALLOCATION_CATCH_UP_HOURS) must be an integer from 1 to 23, got 0'],
    [{ GATEWAY_REQUEST_WINDOW_CLOSES_AT: '12:00' }, 'schedule.requestWindowClosesAt (GATEWAY_REQUEST_WINDOW_CLOSES_AT) must differ from schedule.requestWindowOpensAt, or the window never closes for the draw'],
    [{ REDIS_URL: 'redis://127.0.0.1:6379', GATEWAY_IDENTITY_KEY_FILE: '/etc/gateway/identity.key' }, 'auth.publicKeyFile (GATEWAY_AUTH_PUBLIC_KEY_FILE) or auth.jwksFile (GATEWAY_AUTH_JWKS_FILE) must be set when REDIS_URL is set: development keys serve the embedded store only'],
    [{ REDIS_URL: 'redis://127.0.0.1:6379', GATEWAY_AUTH_PUBLIC_KEY_FILE: '/etc/gateway/jwt.pem' }, 'registrations.identityKeyFile (GATEWAY_IDENTITY_KEY_FILE) must be set when REDIS_URL is set: a development identity key serves the embedded store only'],
    [{ GATEWAY_AUTH_PUBLIC_KEY_FILE: 'a.pem', GATEWAY_AUTH_JWKS_FILE: 'b.json' }, 'auth.publicKeyFile (GATEWAY_AUTH_PUBLIC_KEY_FILE) and auth.jwksFile (GATEWAY_AUTH_JWKS_FILE) must not both be set'],
    [{ GATEWAY_AUTH_ALGORITHMS: '["none"]' }, 'auth.algorithms[0] (GATEWAY_AUTH_ALGORITHMS) must be a JSON array of ES256, ES384, EdDSA, RS256 or PS256, got "none"'],
    [{ GATEWAY_AUTH_ALGORITHMS: '["HS256"]' }, 'auth.algorithms[0] (GATEWAY_AUTH_ALGORITHMS) must be a JSON array of ES256, ES384, EdDSA, RS256 or PS256, got "HS256"'],
    [{ GATEWAY_RATE_LIMIT_RULES: '[{"name":"d","scope":"device","ratePerSecond":1,"burst":1},{"name":"d","scope":"ip","ratePerSecond":1,"burst":1}]' }, 'rateLimit.rules[1].name (GATEWAY_RATE_LIMIT_RULES) must be unique, got "d" twice'],
    [{ GATEWAY_RATE_LIMIT_RULES: '[{"name":"r","scope":"route","ratePerSecond":1,"burst":1}]' }, 'rateLimit.rules[0].routes (GATEWAY_RATE_LIMIT_RULES) must list the routes of a route-scoped rule'],
    [{ GATEWAY_RATE_LIMIT_RULES: '[{"name":"r","scope":"user","ratePerSecond":1,"burst":1}]' }, 'rateLimit.rules[0].scope (GATEWAY_RATE_LIMIT_RULES) must be one of global, route, subject, device, ip, got "user"'],
    [{ GATEWAY_RATE_LIMIT_ROUTE_FAILURE_POLICIES: '{"/v1/schedule":"maybe"}' }, 'rateLimit.routeFailurePolicies./v1/schedule (GATEWAY_RATE_LIMIT_ROUTE_FAILURE_POLICIES) must be a JSON object of route template to open or closed, got "maybe"'],
    [{ GATEWAY_TRUSTED_PROXIES: '["10.0.0.300"]' }, 'server.trustedProxies[0] (GATEWAY_TRUSTED_PROXIES) must be an IP address, a CIDR range or one of loopback, linklocal, uniquelocal, got "10.0.0.300"'],
    [{ GATEWAY_TRUSTED_PROXIES: '["10.0.0.0/8", "fd00::/8", "loopback", "10.1.2.3/33"]' }, 'server.trustedProxies[3] (GATEWAY_TRUSTED_PROXIES) must be an IP address, a CIDR range or one of loopback, linklocal, uniquelocal, got "10.1.2.3/33"'],
    [{ GATEWAY_METRICS_HTTP_BUCKETS: '[1, 0.5]' }, 'metrics.httpDurationBuckets (GATEWAY_METRICS_HTTP_BUCKETS) must be ascending, got [1,0.5]'],
    [{ GATEWAY_METRICS_HTTP_BUCKETS: '[0.25, 0.5, 2.5]' }, 'metrics.httpDurationBuckets (GATEWAY_METRICS_HTTP_BUCKETS) must include 1 (the latency SLO\'s threshold, 1 s), got [0.25,0.5,2.5]'],
    [{ GATEWAY_FAIRNESS_AGE_BUCKET_DAYS: '[7, 7]' }, 'fairness.ageBucketDays (GATEWAY_FAIRNESS_AGE_BUCKET_DAYS) must be ascending, got [7,7]'],
    [{ GATEWAY_FAIRNESS_AGE_BUCKET_DAYS: '[0.5]' }, 'fairness.ageBucketDays[0] (GATEWAY_FAIRNESS_AGE_BUCKET_DAYS) must be a JSON array of 1 to 10 ascending whole numbers of days, got 0.5'],
    [{ GATEWAY_FAIRNESS_TOP_NATIONALITIES: '301' }, 'fairness.topNationalities (GATEWAY_FAIRNESS_TOP_NATIONALITIES) must be an integer from 0 to 300, got 301'],
    [{ GATEWAY_WAITING_ROOMS: '[{"name":"r","routes":["GET /v1/schedule"],"openings":["09:00"],"preOpenMinutes":15,"activeMinutes":30,"admitPerSecond":10,"maxActive":100},{"name":"r","routes":["POST /v1/registrations"],"openings":["09:00"],"preOpenMinutes":15,"activeMinutes":30,"admitPerSecond":10,"maxActive":100}]' }, 'waitingRoom.rooms[1].name (GATEWAY_WAITING_ROOMS) must be unique, got "r" twice'],
    [{ GATEWAY_WAITING_ROOMS: '[{"name":"r","routes":["GET /v1/schedule"],"openings":["request-window","tomorrow"],"preOpenMinutes":15,"activeMinutes":30,"admitPerSecond":10,"maxActive":100}]' }, 'waitingRoom.rooms[0].openings[1] (GATEWAY_WAITING_ROOMS) must be "request-window", a daily "HH:MM" or an ISO instant with its offset such as 2026-12-01T14:00:00Z, got "tomorrow"'],
    [{ GATEWAY_WAITING_ROOMS: '[{"name":"r","routes":["GET /v1/schedule"],"openings":["2026-12-01T14:00:00"],"preOpenMinutes":15,"activeMinutes":30,"admitPerSecond":10,"maxActive":100}]' }, 'waitingRoom.rooms[0].openings[0] (GATEWAY_WAITING_ROOMS) must be "request-window", a daily "HH:MM" or an ISO instant with its offset such as 2026-12-01T14:00:00Z, got "2026-12-01T14:00:00"'],
    [{ GATEWAY_WAITING_ROOMS: '[{"name":"r","routes":["GET /v1/schedule"],"openings":["02:30"],"preOpenMinutes":15,"activeMinutes":30,"admitPerSecond":10,"maxActive":100}]' }, 'waitingRoom.rooms[0].openings[0] (GATEWAY_WAITING_ROOMS) must be a time that every day has exactly once in America/New_York, got "02:30", which does not exist on 2026-03-08'],
    [{ GATEWAY_WAITING_ROOMS: '[{"name":"r","routes":["/v1/schedule"],"openings":["09:00"],"preOpenMinutes":15,"activeMinutes":30,"admitPerSecond":10,"maxActive":100}]' }, 'waitingRoom.rooms[0].routes[0] (GATEWAY_WAITING_ROOMS) must be a JSON array of "METHOD /route/template" such as "POST /v1/appointment-requests", got "/v1/schedule"'],
    [{ GATEWAY_WAITING_ROOMS: '[{"name":"a","routes":["GET /v1/schedule"],"openings":["09:00"],"preOpenMinutes":15,"activeMinutes":30,"admitPerSecond":10,"maxActive":100},{"name":"b","routes":["GET /v1/schedule"],"openings":["15:00"],"preOpenMinutes":15,"activeMinutes":30,"admitPerSecond":10,"maxActive":100}]' }, 'waitingRoom.rooms[1].routes[0] (GATEWAY_WAITING_ROOMS) must not stand behind two rooms, got "GET /v1/schedule" in "a" and "b"'],
    [{ GATEWAY_WAITING_ROOMS: '[{"name":"a","routes":["GET /v1/schedule"],"openings":["09:00","09:30"],"preOpenMinutes":15,"activeMinutes":30,"admitPerSecond":10,"maxActive":100}]' }, 'waitingRoom.rooms[0].openings (GATEWAY_WAITING_ROOMS) must be at least preOpenMinutes + activeMinutes (45) apart, or one period would swallow the next and lose its people\'s places; 2026-01-14T14:00:00.000Z and 2026-01-14T14:30:00.000Z are not'],
    [{ GATEWAY_WAITING_ROOMS: '[{"name":"a","routes":["GET /v1/schedule"],"openings":["request-window","2026-12-01T17:10:00Z"],"preOpenMinutes":15,"activeMinutes":30,"admitPerSecond":10,"maxActive":100}]' }, 'waitingRoom.rooms[0].openings (GATEWAY_WAITING_ROOMS) must be at least preOpenMinutes + activeMinutes (45) apart, or one period would swallow the next and lose its people\'s places; 2026-12-01T17:00:00.000Z and 2026-12-01T17:10:00.000Z are not'],
    [{ GATEWAY_WAITING_ROOMS: '[{"name":"a","routes":["GET /v1/schedule"],"openings":["09:00"],"preOpenMinutes":15,"activeMinutes":30,"admitPerSecond":2.5,"maxActive":100}]' }, 'waitingRoom.rooms[0].admitPerSecond (GATEWAY_WAITING_ROOMS) must be an integer from 1 to 100000, got 2.5'],
    [{ GATEWAY_WS_PUBLIC_URL: 'http://gw.example/ws' }, 'waitingRoom.wsPublicUrl (GATEWAY_WS_PUBLIC_URL) must be empty or a ws:// or wss:// URL'],
    [{ REDIS_URL: 'redis://127.0.0.1:6379', GATEWAY_AUTH_PUBLIC_KEY_FILE: 'a.pem', GATEWAY_IDENTITY_KEY_FILE: 'k', GATEWAY_WAITING_ROOMS: '[{"name":"r","routes":["GET /v1/schedule"],"openings":["09:00"],"preOpenMinutes":15,"activeMinutes":30,"admitPerSecond":10,"maxActive":100}]' }, 'waitingRoom.signingKeyFile (GATEWAY_WAITING_ROOM_SIGNING_KEY_FILE) must be set when REDIS_URL is set and a waiting room is configured: every instance must verify the admission tokens the others sign'],
    [{ GATEWAY_INSTANCES: '0' }, 'cluster.instances (GATEWAY_INSTANCES) must be an integer from 1 to 64, got 0'],
    [{ GATEWAY_INSTANCES: '65' }, 'cluster.instances (GATEWAY_INSTANCES) must be an integer from 1 to 64, got 65'],
    [{ GATEWAY_INSTANCES: '2.5' }, 'cluster.instances (GATEWAY_INSTANCES) must be an integer from 1 to 64, got 2.5'],
    // The memory store is per process: two instances on it would each admit the whole limit.
    [{ GATEWAY_INSTANCES: '3' }, 'cluster.instances (GATEWAY_INSTANCES) must be 1 when neither REDIS_URL nor REDIS_CLUSTER_NODES is set: the embedded memory store is per process, so 3 instances would each keep their own rate limits, vendor and delivery pacing and waiting room; set REDIS_URL, got 3'],
    [{ REDIS_URL: 'redis://127.0.0.1:6379', GATEWAY_AUTH_PUBLIC_KEY_FILE: 'a.pem', GATEWAY_IDENTITY_KEY_FILE: 'k', GATEWAY_INSTANCES: '4', GATEWAY_PORT: '65533' }, 'server.port (GATEWAY_PORT) must be at most 65532 with cluster.instances (GATEWAY_INSTANCES) 4: instance i listens on GATEWAY_PORT + i, got 65533'],
    [{ REDIS_URL: 'redis://127.0.0.1:6379', GATEWAY_AUTH_PUBLIC_KEY_FILE: 'a.pem', GATEWAY_IDENTITY_KEY_FILE: 'k', GATEWAY_INSTANCES: '2', GATEWAY_WS_PORT: '65535' }, 'waitingRoom.wsPort (GATEWAY_WS_PORT) must be at most 65534 with cluster.instances (GATEWAY_INSTANCES) 2: instance i listens on GATEWAY_WS_PORT + i, got 65535'],
    // 8081 is instance 1's HTTP port and instance 0's WebSocket port at once.
    [{ REDIS_URL: 'redis://127.0.0.1:6379', GATEWAY_AUTH_PUBLIC_KEY_FILE: 'a.pem', GATEWAY_IDENTITY_KEY_FILE: 'k', GATEWAY_INSTANCES: '2', GATEWAY_WS_ENABLED: 'true' }, 'waitingRoom.wsPort (GATEWAY_WS_PORT) must be outside 8080 to 8081 (and server.port outside 8081 to 8082) with cluster.instances (GATEWAY_INSTANCES) 2: instance i listens on GATEWAY_PORT + i and GATEWAY_WS_PORT + i; for example GATEWAY_WS_PORT=8180, got 8081'],
    [{ GATEWAY_INSTANCE_RESTART_DELAY_MS: '5000', GATEWAY_INSTANCE_RESTART_MAX_DELAY_MS: '2000' }, 'cluster.restartMaxDelayMs (GATEWAY_INSTANCE_RESTART_MAX_DELAY_MS) must be at least cluster.restartDelayMs (GATEWAY_INSTANCE_RESTART_DELAY_MS, 5000), got 2000'],
    [{ REDIS_URL: 'redis://127.0.0.1:6379', REDIS_CLUSTER_NODES: '127.0.0.1:7000', GATEWAY_AUTH_PUBLIC_KEY_FILE: 'a.pem', GATEWAY_IDENTITY_KEY_FILE: 'k' }, 'store.redisUrl (REDIS_URL) and store.clusterNodes (REDIS_CLUSTER_NODES) must not both be set: give REDIS_URL for one Redis, or REDIS_CLUSTER_NODES for a Redis Cluster'],
    [{ REDIS_CLUSTER_NODES: '127.0.0.1:7000,127.0.0.1', GATEWAY_AUTH_PUBLIC_KEY_FILE: 'a.pem', GATEWAY_IDENTITY_KEY_FILE: 'k' }, 'store.clusterNodes (REDIS_CLUSTER_NODES) must be a comma-separated list of host:port (port 1 to 65535), got "127.0.0.1"'],
    [{ REDIS_CLUSTER_NODES: '127.0.0.1:70000', GATEWAY_AUTH_PUBLIC_KEY_FILE: 'a.pem', GATEWAY_IDENTITY_KEY_FILE: 'k' }, 'store.clusterNodes (REDIS_CLUSTER_NODES) must be a comma-separated list of host:port (port 1 to 65535), got "127.0.0.1:70000"'],
    [{ REDIS_CLUSTER_NODES: '127.0.0.1:7000', GATEWAY_AUTH_PUBLIC_KEY_FILE: 'a.pem' }, 'registrations.identityKeyFile (GATEWAY_IDENTITY_KEY_FILE) must be set when REDIS_CLUSTER_NODES is set: a development identity key serves the embedded store only'],
    [{ GATEWAY_REDIS_WAIT_REPLICAS: '1', GATEWAY_REDIS_WAIT_TIMEOUT_MS: '250' }, 'store.waitTimeoutMs (GATEWAY_REDIS_WAIT_TIMEOUT_MS) must be less than store.commandTimeoutMs (GATEWAY_REDIS_COMMAND_TIMEOUT_MS, 250) when GATEWAY_REDIS_WAIT_REPLICAS is above 0, got 250'],
    [{ GATEWAY_REDIS_WAIT_REPLICAS: '6' }, 'store.waitReplicas (GATEWAY_REDIS_WAIT_REPLICAS) must be an integer from 0 to 5, got 6'],
    [{ GATEWAY_METRICS_HTTP_BUCKETS: '[0]' }, 'metrics.httpDurationBuckets[0] (GATEWAY_METRICS_HTTP_BUCKETS) must be a JSON array of 1 to 30 ascending positive numbers of seconds, got 0'],
    // Below the largest honest registration (schemas/registration.ts), a group with long names is refused 413.
    [{ GATEWAY_ROUTE_BODY_LIMITS: '{"POST /v1/registrations":65536}' }, 'server.routeBodyLimits (GATEWAY_ROUTE_BODY_LIMITS) must give "POST /v1/registrations" at least 73902 bytes, the largest registration of registrations.maxMembers (GATEWAY_REGISTRATION_MAX_MEMBERS, 8) members escaped, or leave it out, got 65536'],
    [{ GATEWAY_REGISTRATION_MAX_MEMBERS: '50', GATEWAY_ROUTE_BODY_LIMITS: '{"POST /v1/registrations":131072}' }, 'server.routeBodyLimits (GATEWAY_ROUTE_BODY_LIMITS) must give "POST /v1/registrations" at least 460302 bytes, the largest registration of registrations.maxMembers (GATEWAY_REGISTRATION_MAX_MEMBERS, 50) members escaped, or leave it out, got 131072']
  ])('refuses %j with an exact message', (env, message) => {
    expect(problemsOf(env)).toEqual([message])
  })

  it('takes a registration body limit at or above the largest registration', () => {
    expect(loadConfig({ env: { GATEWAY_ROUTE_BODY_LIMITS: '{"POST /v1/registrations":73902}' } }).server.routeBodyLimits).toEqual({ 'POST /v1/registrations': 73_902 })
    expect(loadConfig({ env: { GATEWAY_REGISTRATION_MAX_MEMBERS: '2', GATEWAY_ROUTE_BODY_LIMITS: '{"POST /v1/registrations":65536}' } }).server.routeBodyLimits).toEqual({ 'POST /v1/registrations': 65_536 })
  })

  it('takes several instances on Redis, their port ranges apart', () => {
    const env = { REDIS_URL: 'redis://127.0.0.1:6379', GATEWAY_AUTH_PUBLIC_KEY_FILE: 'a.pem', GATEWAY_IDENTITY_KEY_FILE: 'k', GATEWAY_INSTANCES: '64', GATEWAY_WS_ENABLED: 'true', GATEWAY_WS_PORT: '8144' }
    expect(loadConfig({ env }).cluster).toEqual({ instances: 64, restartDelayMs: 1000, restartMaxDelayMs: 30000 })
    const { REDIS_URL: _, ...onCluster } = env
    expect(loadConfig({ env: { ...onCluster, REDIS_CLUSTER_NODES: '10.0.0.1:7000' } }).cluster.instances).toBe(64)
  })

  it('takes REDIS_CLUSTER_NODES as seed nodes: names, IPv4 and bracketed IPv6', () => {
    expect(loadConfig({ env: { REDIS_CLUSTER_NODES: '10.0.0.1:7000, [::1]:7001,redis-a.internal:7002', GATEWAY_AUTH_PUBLIC_KEY_FILE: 'a.pem', GATEWAY_IDENTITY_KEY_FILE: 'k' } }).store.clusterNodes).toBe('10.0.0.1:7000, [::1]:7001,redis-a.internal:7002')
    expect(['10.0.0.1:7000', ' [::1]:7001', 'redis-a.internal:7002'].map(parseClusterNode)).toEqual([
      { host: '10.0.0.1', port: 7000 }, { host: '::1', port: 7001 }, { host: 'redis-a.internal', port: 7002 }
    ])
    expect(usesRedis(loadConfig({ env: { REDIS_CLUSTER_NODES: '10.0.0.1:7000', GATEWAY_AUTH_PUBLIC_KEY_FILE: 'a.pem', GATEWAY_IDENTITY_KEY_FILE: 'k' } }).store)).toBe(true)
    expect(usesRedis(loadConfig({ env: {} }).store)).toBe(false)
  })

  it('never echoes a secret value back', () => {
    const secret = 'http://user:hunter2@redis.internal:6379'
    const problems = problemsOf({ REDIS_URL: secret, GATEWAY_AUTH_PUBLIC_KEY_FILE: '/etc/gateway/jwt.pem', GATEWAY_IDENTITY_KEY_FILE: '/etc/gateway/identity.key' })
    expect(problems).toEqual(['store.redisUrl (REDIS_URL) must be empty (embedded memory store) or a redis:// or rediss:// URL'])
    expect(problems.join('\n')).not.toContain('hunter2')
  })

  it('reports every problem at once, so one boot shows them all', () => {
    expect(problemsOf({ GATEWAY_PORT: 'abc', GATEWAY_LOG_LEVEL: 'loud' })).toEqual([
      'server.port (GATEWAY_PORT) must be an integer from 0 to 65535, got "abc"',
      'log.level (GATEWAY_LOG_LEVEL) must be one of fatal, error, warn, info, debug, trace, silent, got "loud"'
    ])
  })

  it('refuses an unreadable, non-JSON or unknown-keyed config file', async () => {
    expect(problemsOf({ GATEWAY_CONFIG_FILE: '/nonexistent/gateway.json' })).toEqual([
      'GATEWAY_CONFIG_FILE names a file that cannot be read (ENOENT): /nonexistent/gateway.json'
    ])
    const broken = await configFile('{ not json')
    expect(problemsOf({ GATEWAY_CONFIG_FILE: broken })).toEqual([`GATEWAY_CONFIG_FILE must name a file holding valid JSON: ${broken}`])
    const list = await configFile('[1, 2]')
    expect(problemsOf({ GATEWAY_CONFIG_FILE: list })).toEqual([`GATEWAY_CONFIG_FILE must name a file holding one JSON object: ${list}`])
    const typo = await configFile(JSON.stringify({ server: { prot: 1 } }))
    expect(problemsOf({ GATEWAY_CONFIG_FILE: typo })).toEqual(['server.prot is not a known setting'])
  })

  it('puts the error in the message of the thrown ConfigError', () => {
    expect(() => loadConfig({ env: { GATEWAY_PORT: 'abc' } })).toThrow(
      'invalid configuration:\n  - server.port (GATEWAY_PORT) must be an integer from 0 to 65535, got "abc"'
    )
  })
})

describe('settings', () => {
  it('annotates every leaf with an expected form and a doc line, and gives each env name once', () => {
    const all = settings()
    expect(all.length).toBeGreaterThan(30)
    for (const s of all) {
      expect(s.expected, s.path).not.toBe('')
      expect(s.doc, s.path).not.toBe('')
      expect(s.env, s.path).toMatch(/^(GATEWAY_[A-Z0-9_]+|REDIS_URL|REDIS_CLUSTER_NODES)$/)
    }
    const envs = all.map((s) => s.env)
    expect(new Set(envs).size).toBe(envs.length)
  })
})
