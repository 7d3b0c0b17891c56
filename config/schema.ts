// The one schema every setting is validated against at boot.
//
// Each leaf carries three annotations besides its JSON Schema keywords:
//   env      the environment variable that overrides it (leaves inside arrays have none:
//            their whole array is overridden as JSON)
//   expected the form a valid value takes, used verbatim in the boot error
//   doc      one line for the README's configuration table
// and `secret: true` where the value must never be echoed (URLs with passwords, keys).
import Type, { type Static } from 'typebox'

const HH_MM = '^([01][0-9]|2[0-3]):[0-5][0-9]$'
const SLUG = '^[a-z][a-z0-9-]{0,31}$'

export const PoeSchema = Type.Object({
  slug: Type.String({ pattern: SLUG, expected: 'a lower-case slug of letters, digits and dashes (at most 32 characters)', doc: 'stable identifier used in the API and in metrics' }),
  name: Type.String({ minLength: 1, maxLength: 80, expected: 'a display name of 1 to 80 characters', doc: 'display name' }),
  state: Type.String({ pattern: '^[A-Z]{2}$', expected: 'a two-letter US state code such as TX', doc: 'US state' }),
  dailyCapacity: Type.Integer({ minimum: 0, maximum: 100000, expected: 'an integer from 0 to 100000', doc: 'appointments (people) per day' })
}, { additionalProperties: false })

export const ConfigSchema = Type.Object({
  server: Type.Object({
    host: Type.String({ minLength: 1, maxLength: 255, env: 'GATEWAY_HOST', expected: 'a host name or IP address to listen on', doc: 'interface the HTTP server binds to' }),
    port: Type.Integer({ minimum: 0, maximum: 65535, env: 'GATEWAY_PORT', expected: 'an integer from 0 to 65535', doc: 'TCP port (0 picks a free one)' }),
    bodyLimitBytes: Type.Integer({ minimum: 1024, maximum: 64 * 1024 * 1024, env: 'GATEWAY_BODY_LIMIT_BYTES', expected: 'an integer from 1024 to 67108864', doc: 'largest request body of a route without a limit of its own, in bytes (413 GW_ERR_REQUEST_BODY_TOO_LARGE above it)' }),
    routeBodyLimits: Type.Record(Type.String({ pattern: '^(POST|PUT|PATCH|DELETE) /' }), Type.Integer({ minimum: 1024, maximum: 64 * 1024 * 1024 }), { env: 'GATEWAY_ROUTE_BODY_LIMITS', expected: 'a JSON object of "METHOD /route/template" to a byte count from 1024 to 67108864, each naming a route', doc: 'routes whose body may be larger (or must be smaller) than the default limit; unless named here, the registration takes its own from its schema and GATEWAY_REGISTRATION_MAX_MEMBERS (named, it may not be lower) and the photo upload from GATEWAY_LIVENESS_MAX_PHOTO_BYTES' }),
    maxJsonDepth: Type.Integer({ minimum: 2, maximum: 1000, env: 'GATEWAY_MAX_JSON_DEPTH', expected: 'an integer from 2 to 1000', doc: 'deepest nesting of arrays and objects a JSON body may have (400 GW_ERR_REQUEST_MALFORMED_JSON above it); our bodies nest 4 levels' }),
    requestTimeoutMs: Type.Integer({ minimum: 1000, maximum: 600000, env: 'GATEWAY_REQUEST_TIMEOUT_MS', expected: 'an integer from 1000 to 600000', doc: 'time a client has to send a whole request before it gets 408' }),
    keepAliveTimeoutMs: Type.Integer({ minimum: 1000, maximum: 600000, env: 'GATEWAY_KEEP_ALIVE_TIMEOUT_MS', expected: 'an integer from 1000 to 600000', doc: 'idle keep-alive time; keep above the load balancer\'s idle timeout' }),
    shutdownTimeoutMs: Type.Integer({ minimum: 100, maximum: 600000, env: 'GATEWAY_SHUTDOWN_TIMEOUT_MS', expected: 'an integer from 100 to 600000', doc: 'how long SIGTERM waits for in-flight requests before forcing exit' }),
    trustedProxies: Type.Array(Type.String({ minLength: 1, maxLength: 64 }), { maxItems: 64, env: 'GATEWAY_TRUSTED_PROXIES', expected: 'a JSON array of IP addresses or CIDR ranges', doc: 'proxies whose X-Forwarded-For is believed when finding the client IP; empty trusts none' }),
    docs: Type.Boolean({ env: 'GATEWAY_DOCS_ENABLED', expected: 'true or false', doc: 'serve the OpenAPI document and UI at /docs' }),
    hstsMaxAgeSeconds: Type.Integer({ minimum: 0, maximum: 63072000, env: 'GATEWAY_HSTS_MAX_AGE_SECONDS', expected: 'an integer from 0 to 63072000', doc: 'Strict-Transport-Security max-age sent with every answer (browsers heed it over HTTPS only); 0 leaves the header out' })
  }, { additionalProperties: false }),

  cors: Type.Object({
    origins: Type.Array(Type.String({ pattern: '^https?://[^/\\s*?#]+$' }), { maxItems: 64, env: 'GATEWAY_CORS_ORIGINS', expected: 'a JSON array of origins such as "https://app.example.gov" (scheme and host, no path, no wildcard)', doc: 'web origins allowed to call the API from a browser; empty (the default) sends no Access-Control-Allow-Origin at all' }),
    maxAgeSeconds: Type.Integer({ minimum: 0, maximum: 86400, env: 'GATEWAY_CORS_MAX_AGE_SECONDS', expected: 'an integer from 0 to 86400', doc: 'how long a browser may cache a preflight answer' })
  }, { additionalProperties: false }),

  cluster: Type.Object({
    instances: Type.Integer({ minimum: 1, maximum: 64, env: 'GATEWAY_INSTANCES', expected: 'an integer from 1 to 64', doc: 'gateway processes `npm run start:cluster` runs, sharing one Redis (its --instances overrides this; more than 1 needs REDIS_URL); instance i listens on GATEWAY_PORT + i and GATEWAY_WS_PORT + i. `npm start` always runs one' }),
    restartDelayMs: Type.Integer({ minimum: 100, maximum: 60000, env: 'GATEWAY_INSTANCE_RESTART_DELAY_MS', expected: 'an integer from 100 to 60000', doc: 'start:cluster restarts an instance that crashed after this long, doubling for each crash in a row' }),
    restartMaxDelayMs: Type.Integer({ minimum: 1000, maximum: 600000, env: 'GATEWAY_INSTANCE_RESTART_MAX_DELAY_MS', expected: 'an integer from 1000 to 600000', doc: 'longest wait before such a restart; an instance that ran this long before crashing starts over from GATEWAY_INSTANCE_RESTART_DELAY_MS' })
  }, { additionalProperties: false }),

  log: Type.Object({
    level: Type.Enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], { env: 'GATEWAY_LOG_LEVEL', expected: 'one of fatal, error, warn, info, debug, trace, silent', doc: 'pino log level' }),
    accessLog: Type.Boolean({ env: 'GATEWAY_ACCESS_LOG', expected: 'true or false', doc: 'one log line per completed request (route template, status, duration)' })
  }, { additionalProperties: false }),

  store: Type.Object({
    redisUrl: Type.String({ maxLength: 2048, env: 'REDIS_URL', expected: 'empty (embedded memory store) or a redis:// or rediss:// URL', doc: 'Redis to keep state in; empty runs on the embedded per-process memory store', secret: true }),
    clusterNodes: Type.String({ maxLength: 4096, env: 'REDIS_CLUSTER_NODES', expected: 'empty or a comma-separated list of host:port seed nodes of a Redis Cluster, such as 10.0.0.1:6379,10.0.0.2:6379', doc: 'Redis Cluster to keep state in (ioredis Cluster; the other nodes are found from these); not together with REDIS_URL' }),
    keyPrefix: Type.String({ pattern: '^[A-Za-z0-9_.-]{1,32}$', env: 'GATEWAY_REDIS_KEY_PREFIX', expected: '1 to 32 letters, digits, dots, dashes or underscores', doc: 'prefix of every Redis key, so several deployments can share one Redis' }),
    commandTimeoutMs: Type.Integer({ minimum: 10, maximum: 10000, env: 'GATEWAY_REDIS_COMMAND_TIMEOUT_MS', expected: 'an integer from 10 to 10000', doc: 'a Redis command slower than this fails instead of holding the request' }),
    connectTimeoutMs: Type.Integer({ minimum: 100, maximum: 60000, env: 'GATEWAY_REDIS_CONNECT_TIMEOUT_MS', expected: 'an integer from 100 to 60000', doc: 'how long one connection attempt to Redis may take' }),
    autoPipelining: Type.Boolean({ env: 'GATEWAY_REDIS_AUTO_PIPELINING', expected: 'true or false', doc: 'let ioredis batch commands of concurrent requests into one write' }),
    waitReplicas: Type.Integer({ minimum: 0, maximum: 5, env: 'GATEWAY_REDIS_WAIT_REPLICAS', expected: 'an integer from 0 to 5', doc: 'replicas that must acknowledge a record write (Redis WAIT) before the gateway acknowledges it; 0 acknowledges once the master has it, and a failover can lose it' }),
    waitTimeoutMs: Type.Integer({ minimum: 1, maximum: 10000, env: 'GATEWAY_REDIS_WAIT_TIMEOUT_MS', expected: 'an integer from 1 to 10000', doc: 'how long a record write waits for its replicas; fewer in time answers 503 GW_ERR_STORE_NOT_REPLICATED' }),
    unavailableRetryAfterSeconds: Type.Integer({ minimum: 1, maximum: 3600, env: 'GATEWAY_STORE_UNAVAILABLE_RETRY_AFTER_SECONDS', expected: 'an integer from 1 to 3600', doc: 'Retry-After sent with 503 when the store cannot be reached' }),
    outboxPartitions: Type.Integer({ minimum: 1, maximum: 1024, env: 'GATEWAY_OUTBOX_PARTITIONS', expected: 'an integer from 1 to 1024', doc: 'streams the outbox of backend events is spread over, each its own hash slot on Redis Cluster; changing it leaves undelivered events in the streams no longer written' }),
    feedMaxLength: Type.Integer({ minimum: 1000, maximum: 10000000, env: 'GATEWAY_FEED_MAX_LENGTH', expected: 'an integer from 1000 to 10000000', doc: 'notifications for WebSocket clients (results) the shared feed keeps; an instance further behind than this loses the oldest (clients can still ask over HTTP)' }),
    memorySweepIntervalMs: Type.Integer({ minimum: 100, maximum: 3600000, env: 'GATEWAY_MEMORY_SWEEP_INTERVAL_MS', expected: 'an integer from 100 to 3600000', doc: 'how often the embedded store drops expired entries' })
  }, { additionalProperties: false }),

  auth: Type.Object({
    issuer: Type.String({ minLength: 1, maxLength: 256, env: 'GATEWAY_AUTH_ISSUER', expected: 'a non-empty string of at most 256 characters', doc: 'required `iss` of every bearer token' }),
    audience: Type.String({ minLength: 1, maxLength: 256, env: 'GATEWAY_AUTH_AUDIENCE', expected: 'a non-empty string of at most 256 characters', doc: 'required `aud` of every bearer token' }),
    publicKeyFile: Type.String({ maxLength: 4096, env: 'GATEWAY_AUTH_PUBLIC_KEY_FILE', expected: 'empty or the path of a PEM public key', doc: 'PEM public key that verifies tokens' }),
    jwksFile: Type.String({ maxLength: 4096, env: 'GATEWAY_AUTH_JWKS_FILE', expected: 'empty or the path of a JWKS file', doc: 'JSON Web Key Set that verifies tokens, by `kid` (instead of a PEM key)' }),
    algorithms: Type.Array(Type.Enum(['ES256', 'ES384', 'EdDSA', 'RS256', 'PS256']), { minItems: 1, maxItems: 5, env: 'GATEWAY_AUTH_ALGORITHMS', expected: 'a JSON array of ES256, ES384, EdDSA, RS256 or PS256', doc: 'signature algorithms accepted; never none, never HMAC' }),
    roleClaim: Type.String({ pattern: '^[A-Za-z_][A-Za-z0-9_.:/-]{0,63}$', env: 'GATEWAY_AUTH_ROLE_CLAIM', expected: 'a claim name of letters, digits, _ . : / -', doc: 'claim that holds the role: applicant, partner, officer or ops' }),
    clockToleranceSeconds: Type.Integer({ minimum: 0, maximum: 300, env: 'GATEWAY_AUTH_CLOCK_TOLERANCE_SECONDS', expected: 'an integer from 0 to 300', doc: 'leeway on exp and nbf for clocks that disagree' }),
    maxTokenLifetimeSeconds: Type.Integer({ minimum: 60, maximum: 31536000, env: 'GATEWAY_AUTH_MAX_TOKEN_LIFETIME_SECONDS', expected: 'an integer from 60 to 31536000', doc: 'a token whose exp lies further ahead than this is refused (no everlasting tokens)' }),
    cacheSize: Type.Integer({ minimum: 0, maximum: 10000000, env: 'GATEWAY_AUTH_CACHE_SIZE', expected: 'an integer from 0 to 10000000', doc: 'verified tokens kept (LRU, keyed by a hash of the token, never past exp); 0 turns the cache off' }),
    failuresPerIpPerSecond: Type.Number({ exclusiveMinimum: 0, maximum: 100000, env: 'GATEWAY_AUTH_FAILURES_PER_IP_PER_SECOND', expected: 'a number greater than 0 and at most 100000', doc: 'rejected tokens tolerated per client IP (per instance) before that IP is refused without verifying' }),
    failureBurstPerIp: Type.Integer({ minimum: 1, maximum: 1000000, env: 'GATEWAY_AUTH_FAILURE_BURST_PER_IP', expected: 'an integer from 1 to 1000000', doc: 'rejected tokens one IP may send at once before it is refused' }),
    devKeyFile: Type.String({ minLength: 1, maxLength: 4096, env: 'GATEWAY_AUTH_DEV_KEY_FILE', expected: 'a file path', doc: 'where `npm start` keeps the development key pair when no key is configured (embedded store only)' })
  }, { additionalProperties: false }),

  rateLimit: Type.Object({
    rules: Type.Array(Type.Object({
      name: Type.String({ pattern: '^[a-z][a-z0-9-]{0,31}$', expected: 'a lower-case name of letters, digits and dashes', doc: 'metric label of the rule' }),
      scope: Type.Enum(['global', 'route', 'subject', 'device', 'ip'], { expected: 'one of global, route, subject, device, ip', doc: 'what one bucket counts' }),
      ratePerSecond: Type.Number({ exclusiveMinimum: 0, maximum: 1000000, expected: 'a number greater than 0 and at most 1000000', doc: 'sustained rate' }),
      burst: Type.Integer({ minimum: 1, maximum: 10000000, expected: 'an integer from 1 to 10000000', doc: 'requests admitted at once from a full bucket' }),
      routes: Type.Optional(Type.Array(Type.String({ pattern: '^/', maxLength: 256 }), { minItems: 1, maxItems: 256, expected: 'a JSON array of route templates such as /v1/schedule', doc: 'routes the rule applies to; absent means every limited route' }))
    }, { additionalProperties: false }), { maxItems: 64, env: 'GATEWAY_RATE_LIMIT_RULES', expected: 'a JSON array of rules {name, scope, ratePerSecond, burst, routes?}', doc: 'token buckets every limited request draws from' }),
    defaultFailurePolicy: Type.Enum(['open', 'closed'], { env: 'GATEWAY_RATE_LIMIT_FAILURE_POLICY', expected: 'open or closed', doc: 'while Redis is away: open serves under in-process buckets, closed answers 503' }),
    routeFailurePolicies: Type.Record(Type.String({ pattern: '^/' }), Type.Enum(['open', 'closed']), { env: 'GATEWAY_RATE_LIMIT_ROUTE_FAILURE_POLICIES', expected: 'a JSON object of route template to open or closed', doc: 'per-route exceptions to the default failure policy' }),
    retryJitterSeconds: Type.Integer({ minimum: 0, maximum: 600, env: 'GATEWAY_RATE_LIMIT_RETRY_JITTER_SECONDS', expected: 'an integer from 0 to 600', doc: 'random seconds added to Retry-After on 429, so refused clients do not return in one wave' }),
    fallbackProbeIntervalMs: Type.Integer({ minimum: 50, maximum: 60000, env: 'GATEWAY_RATE_LIMIT_FALLBACK_PROBE_MS', expected: 'an integer from 50 to 60000', doc: 'after a Redis failure, how long decisions stay local before Redis is tried again' }),
    overLimitCacheSize: Type.Integer({ minimum: 0, maximum: 10000000, env: 'GATEWAY_RATE_LIMIT_OVER_LIMIT_CACHE_SIZE', expected: 'an integer from 0 to 10000000', doc: 'buckets remembered as empty until their refill time, refused without asking Redis; 0 turns it off' })
  }, { additionalProperties: false }),

  allocation: Type.Object({
    oldestShare: Type.Number({ minimum: 0, maximum: 1, env: 'GATEWAY_ALLOCATION_OLDEST_SHARE', expected: 'a number from 0 to 1', doc: 'share of each port\'s daily places that goes to the oldest registrations; the rest is drawn at random' }),
    slotTimes: Type.Array(Type.String({ pattern: '^([01][0-9]|2[0-3]):[0-5][0-9]$' }), { minItems: 1, maxItems: 48, env: 'GATEWAY_ALLOCATION_SLOT_TIMES', expected: 'a JSON array of 1 to 48 times of day as HH:MM', doc: 'appointment times at each port; its daily capacity is split evenly between them (the remainder to the last)' }),
    autoDraw: Type.Boolean({ env: 'GATEWAY_ALLOCATION_AUTO_DRAW', expected: 'true or false', doc: 'each instance runs the daily schedule by itself (commit, seal, draw, lapse sweep; one instance wins each step); false leaves the draw to POST /v1/ops/allocations' }),
    schedulerIntervalSeconds: Type.Integer({ minimum: 1, maximum: 300, env: 'GATEWAY_ALLOCATION_SCHEDULER_INTERVAL_SECONDS', expected: 'an integer from 1 to 300', doc: 'how often each instance checks whether a step of the daily schedule is due' }),
    sealGraceSeconds: Type.Integer({ minimum: 0, maximum: 3600, env: 'GATEWAY_ALLOCATION_SEAL_GRACE_SECONDS', expected: 'an integer from 0 to 3600', doc: 'the pool is sealed (and drawn) no sooner than this after the window closes, so requests accepted just before the close are in it' }),
    catchUpHours: Type.Integer({ minimum: 1, maximum: 23, env: 'GATEWAY_ALLOCATION_CATCH_UP_HOURS', expected: 'an integer from 1 to 23', doc: 'a draw missed at its time (every instance down) still runs by itself this many hours later; after that only by POST /v1/ops/allocations' }),
    lapseGraceSeconds: Type.Integer({ minimum: 0, maximum: 3600, env: 'GATEWAY_ALLOCATION_LAPSE_GRACE_SECONDS', expected: 'an integer from 0 to 3600', doc: 'an unconfirmed place lapses this long after its confirm-by time, so a confirmation in flight at the deadline is never overwritten' })
  }, { additionalProperties: false }),

  fairness: Type.Object({
    ageBucketDays: Type.Array(Type.Integer({ minimum: 1, maximum: 3650 }), { minItems: 1, maxItems: 10, env: 'GATEWAY_FAIRNESS_AGE_BUCKET_DAYS', expected: 'a JSON array of 1 to 10 ascending whole numbers of days', doc: 'edges of the registration-age buckets of the draw\'s fairness figures: [1,7,30] makes <1d, 1-7d, 7-30d and 30d+' }),
    topNationalities: Type.Integer({ minimum: 0, maximum: 300, env: 'GATEWAY_FAIRNESS_TOP_NATIONALITIES', expected: 'an integer from 0 to 300', doc: 'nationalities with figures (and metric labels) of their own, the most frequent in each draw; the rest count as other' })
  }, { additionalProperties: false }),

  workers: Type.Object({
    allocationMaxThreads: Type.Integer({ minimum: 1, maximum: 64, env: 'GATEWAY_WORKERS_ALLOCATION_MAX_THREADS', expected: 'an integer from 1 to 64', doc: 'worker threads for the daily draw (piscina); started on demand' }),
    livenessMaxThreads: Type.Integer({ minimum: 1, maximum: 64, env: 'GATEWAY_WORKERS_LIVENESS_MAX_THREADS', expected: 'an integer from 1 to 64', doc: 'worker threads that decode and check liveness photos (piscina); started on demand' }),
    idleTimeoutMs: Type.Integer({ minimum: 100, maximum: 3600000, env: 'GATEWAY_WORKERS_IDLE_TIMEOUT_MS', expected: 'an integer from 100 to 3600000', doc: 'an idle worker thread ends after this long' })
  }, { additionalProperties: false }),

  idempotency: Type.Object({
    ttlHours: Type.Integer({ minimum: 1, maximum: 720, env: 'GATEWAY_IDEMPOTENCY_TTL_HOURS', expected: 'an integer from 1 to 720', doc: 'how long a completed write is replayed for a retry with the same Idempotency-Key' }),
    pendingTtlSeconds: Type.Integer({ minimum: 1, maximum: 3600, env: 'GATEWAY_IDEMPOTENCY_PENDING_TTL_SECONDS', expected: 'an integer from 1 to 3600', doc: 'how long a write in progress holds its Idempotency-Key against concurrent retries' })
  }, { additionalProperties: false }),

  shedding: Type.Object({
    maxEventLoopDelayMs: Type.Integer({ minimum: 0, maximum: 60000, env: 'GATEWAY_SHED_MAX_EVENT_LOOP_DELAY_MS', expected: 'an integer from 0 to 60000', doc: 'shed load (503) above this event-loop delay; 0 turns the check off' }),
    maxEventLoopUtilization: Type.Number({ minimum: 0, maximum: 1, env: 'GATEWAY_SHED_MAX_EVENT_LOOP_UTILIZATION', expected: 'a number from 0 to 1', doc: 'shed load above this event-loop utilization; 0 turns the check off' }),
    maxHeapUsedBytes: Type.Integer({ minimum: 0, env: 'GATEWAY_SHED_MAX_HEAP_USED_BYTES', expected: 'a non-negative integer', doc: 'shed load above this heap use; 0 turns the check off' }),
    maxRssBytes: Type.Integer({ minimum: 0, env: 'GATEWAY_SHED_MAX_RSS_BYTES', expected: 'a non-negative integer', doc: 'shed load above this resident set size; 0 turns the check off' }),
    sampleIntervalMs: Type.Integer({ minimum: 5, maximum: 10000, env: 'GATEWAY_SHED_SAMPLE_INTERVAL_MS', expected: 'an integer from 5 to 10000', doc: 'how often the pressure is sampled' }),
    retryAfterSeconds: Type.Integer({ minimum: 1, maximum: 3600, env: 'GATEWAY_SHED_RETRY_AFTER_SECONDS', expected: 'an integer from 1 to 3600', doc: 'Retry-After sent with a shed 503' })
  }, { additionalProperties: false }),

  metrics: Type.Object({
    httpDurationBuckets: Type.Array(Type.Number({ exclusiveMinimum: 0, maximum: 600 }), { minItems: 1, maxItems: 30, env: 'GATEWAY_METRICS_HTTP_BUCKETS', expected: 'a JSON array of 1 to 30 ascending positive numbers of seconds', doc: 'histogram buckets of http_request_duration_seconds; must include 1, the latency SLO threshold' }),
    eventLoopPrecisionMs: Type.Integer({ minimum: 1, maximum: 1000, env: 'GATEWAY_METRICS_EVENT_LOOP_PRECISION_MS', expected: 'an integer from 1 to 1000', doc: 'sampling precision of the event-loop lag metrics' })
  }, { additionalProperties: false }),

  schedule: Type.Object({
    timezone: Type.String({ minLength: 1, maxLength: 64, env: 'GATEWAY_TIMEZONE', expected: 'an IANA time zone such as America/New_York', doc: 'time zone of the request window, allocation and pool dates' }),
    requestWindowOpensAt: Type.String({ pattern: HH_MM, env: 'GATEWAY_REQUEST_WINDOW_OPENS_AT', expected: 'a time of day as HH:MM (24-hour)', doc: 'appointment requests are accepted from this time...' }),
    requestWindowClosesAt: Type.String({ pattern: HH_MM, env: 'GATEWAY_REQUEST_WINDOW_CLOSES_AT', expected: 'a time of day as HH:MM (24-hour)', doc: '...until this time (the next day when earlier than the opening)' }),
    allocationAt: Type.String({ pattern: HH_MM, env: 'GATEWAY_ALLOCATION_AT', expected: 'a time of day as HH:MM (24-hour)', doc: 'when the day\'s pool is drawn; must fall while the request window is closed' }),
    confirmationHours: Type.Integer({ minimum: 1, maximum: 168, env: 'GATEWAY_CONFIRMATION_HOURS', expected: 'an integer from 1 to 168', doc: 'hours a selected applicant has to confirm' }),
    extensionHours: Type.Integer({ minimum: 0, maximum: 168, env: 'GATEWAY_EXTENSION_HOURS', expected: 'an integer from 0 to 168', doc: 'hours one extension adds to the confirmation window' }),
    maxExtensions: Type.Integer({ minimum: 0, maximum: 10, env: 'GATEWAY_MAX_EXTENSIONS', expected: 'an integer from 0 to 10', doc: 'how many extensions one selection may take' })
  }, { additionalProperties: false }),

  poes: Type.Array(PoeSchema, { minItems: 1, maxItems: 64, env: 'GATEWAY_POES', expected: 'a JSON array of 1 to 64 ports of entry', doc: 'ports of entry with their daily capacity (JSON array of {slug, name, state, dailyCapacity})' }),

  geofence: Type.Object({
    minLatitude: Type.Number({ minimum: -90, maximum: 90, env: 'GATEWAY_GEOFENCE_MIN_LATITUDE', expected: 'a number of degrees from -90 to 90', doc: 'requests and confirmations are accepted only north of this latitude' }),
    polygon: Type.Array(Type.Array(Type.Number({ minimum: -180, maximum: 180 }), { minItems: 2, maxItems: 2 }), { minItems: 3, maxItems: 1000, env: 'GATEWAY_GEOFENCE_POLYGON', expected: 'a JSON array of at least 3 [latitude, longitude] points', doc: 'requests and confirmations are accepted only inside this polygon (and north of minLatitude)' }),
    maxAccuracyMeters: Type.Integer({ minimum: 1, maximum: 100000, env: 'GATEWAY_GEOFENCE_MAX_ACCURACY_METERS', expected: 'an integer from 1 to 100000', doc: 'a location fix less precise than this is refused' })
  }, { additionalProperties: false }),

  registrations: Type.Object({
    maxMembers: Type.Integer({ minimum: 1, maximum: 50, env: 'GATEWAY_REGISTRATION_MAX_MEMBERS', expected: 'an integer from 1 to 50', doc: 'largest group one registration may hold' }),
    perDeviceMax: Type.Integer({ minimum: 1, maximum: 1000, env: 'GATEWAY_REGISTRATION_PER_DEVICE_MAX', expected: 'an integer from 1 to 1000', doc: 'registrations one device may create per rolling window' }),
    perDeviceWindowHours: Type.Integer({ minimum: 1, maximum: 8760, env: 'GATEWAY_REGISTRATION_PER_DEVICE_WINDOW_HOURS', expected: 'an integer from 1 to 8760', doc: 'length of the per-device rolling window' }),
    minIntervalSeconds: Type.Integer({ minimum: 0, maximum: 86400, env: 'GATEWAY_REGISTRATION_MIN_INTERVAL_SECONDS', expected: 'an integer from 0 to 86400', doc: 'a second registration from one device sooner than this is refused as a suspected bot; 0 turns it off' }),
    perSubjectMax: Type.Integer({ minimum: 1, maximum: 1000, env: 'GATEWAY_REGISTRATION_PER_SUBJECT_MAX', expected: 'an integer from 1 to 1000', doc: 'registrations one account (token subject) may create per rolling window' }),
    perSubjectWindowHours: Type.Integer({ minimum: 1, maximum: 8760, env: 'GATEWAY_REGISTRATION_PER_SUBJECT_WINDOW_HOURS', expected: 'an integer from 1 to 8760', doc: 'length of the per-subject rolling window' }),
    perIpMax: Type.Integer({ minimum: 1, maximum: 1000000, env: 'GATEWAY_REGISTRATION_PER_IP_MAX', expected: 'an integer from 1 to 1000000', doc: 'registrations one client network (IPv4 address or IPv6 /64) may create per window: generous, for shelters and carrier NAT' }),
    perIpWindowMinutes: Type.Integer({ minimum: 1, maximum: 10080, env: 'GATEWAY_REGISTRATION_PER_IP_WINDOW_MINUTES', expected: 'an integer from 1 to 10080', doc: 'length of the per-network rolling window' }),
    deviceSubjectsFlag: Type.Integer({ minimum: 2, maximum: 1000, env: 'GATEWAY_REGISTRATION_DEVICE_SUBJECTS_FLAG', expected: 'an integer from 2 to 1000', doc: 'a device seen with this many accounts in a day is flagged (metric)' }),
    identityConflictsMax: Type.Integer({ minimum: 1, maximum: 1000, env: 'GATEWAY_REGISTRATION_IDENTITY_CONFLICTS_MAX', expected: 'an integer from 1 to 1000', doc: 'duplicate-identity refusals an account may get in a day before it is blocked from registering (enumeration defence)' }),
    ttlDays: Type.Integer({ minimum: 1, maximum: 3650, env: 'GATEWAY_REGISTRATION_TTL_DAYS', expected: 'an integer from 1 to 3650', doc: 'a registration without activity for this long expires and releases its identities' }),
    identityKeyFile: Type.String({ maxLength: 4096, env: 'GATEWAY_IDENTITY_KEY_FILE', expected: 'empty or the path of a file holding at least 32 bytes of secret', doc: 'HMAC key for identity hashes (name + date of birth are never stored in clear in the index)', secret: true }),
    devIdentityKeyFile: Type.String({ minLength: 1, maxLength: 4096, env: 'GATEWAY_DEV_IDENTITY_KEY_FILE', expected: 'a file path', doc: 'where `npm start` keeps a development identity key when none is configured (embedded store only)' })
  }, { additionalProperties: false }),

  trends: Type.Object({
    defaultMinClaimants: Type.Integer({ minimum: 2, maximum: 100000, env: 'GATEWAY_TRENDS_DEFAULT_MIN_CLAIMANTS', expected: 'an integer from 2 to 100000', doc: 'shared-address report: least claimants (people) an address needs to be listed when the query names no minClaimants; above the largest group, so one family is never a cluster' }),
    defaultLimit: Type.Integer({ minimum: 1, maximum: 10000, env: 'GATEWAY_TRENDS_DEFAULT_LIMIT', expected: 'an integer from 1 to 10000', doc: 'shared-address report: clusters listed when the query names no limit' }),
    maxLimit: Type.Integer({ minimum: 1, maximum: 10000, env: 'GATEWAY_TRENDS_MAX_LIMIT', expected: 'an integer from 1 to 10000', doc: 'shared-address report: most clusters one query may ask for' }),
    maxExamined: Type.Integer({ minimum: 1, maximum: 1000000, env: 'GATEWAY_TRENDS_MAX_EXAMINED', expected: 'an integer from 1 to 1000000', doc: 'shared-address report: most addresses one query reads from the ranking (its cost bound); past it the answer says complete: false' }),
    retentionDays: Type.Integer({ minimum: 1, maximum: 3650, env: 'GATEWAY_TRENDS_RETENTION_DAYS', expected: 'an integer from 1 to 3650', doc: 'shared-address index: an address nobody has claimed or asked a port for in this long leaves the index and the report (its keys expire; the ranking forgets it on a later write)' })
  }, { additionalProperties: false }),

  liveness: Type.Object({
    maxPhotoBytes: Type.Integer({ minimum: 1024, maximum: 50 * 1024 * 1024, env: 'GATEWAY_LIVENESS_MAX_PHOTO_BYTES', expected: 'an integer from 1024 to 52428800', doc: 'largest photo accepted, in bytes, before base64 (413 above it)' }),
    minWidth: Type.Integer({ minimum: 16, maximum: 10000, env: 'GATEWAY_LIVENESS_MIN_WIDTH', expected: 'an integer from 16 to 10000', doc: 'narrowest photo accepted, in pixels' }),
    minHeight: Type.Integer({ minimum: 16, maximum: 10000, env: 'GATEWAY_LIVENESS_MIN_HEIGHT', expected: 'an integer from 16 to 10000', doc: 'shortest photo accepted, in pixels' }),
    maxWidth: Type.Integer({ minimum: 16, maximum: 65535, env: 'GATEWAY_LIVENESS_MAX_WIDTH', expected: 'an integer from 16 to 65535', doc: 'widest photo accepted, in pixels' }),
    maxHeight: Type.Integer({ minimum: 16, maximum: 65535, env: 'GATEWAY_LIVENESS_MAX_HEIGHT', expected: 'an integer from 16 to 65535', doc: 'tallest photo accepted, in pixels' }),
    maxPixels: Type.Integer({ minimum: 256, maximum: 1e9, env: 'GATEWAY_LIVENESS_MAX_PIXELS', expected: 'an integer from 256 to 1000000000', doc: 'largest width x height decoded: a bigger header is refused before any decoding (decompression bombs)' }),
    vendorMaxSide: Type.Integer({ minimum: 64, maximum: 8192, env: 'GATEWAY_LIVENESS_VENDOR_MAX_SIDE', expected: 'an integer from 64 to 8192', doc: 'the photo sent to the vendor is re-encoded as JPEG, metadata stripped, its long side at most this' }),
    checkQueueMax: Type.Integer({ minimum: 1, maximum: 100000, env: 'GATEWAY_LIVENESS_CHECK_QUEUE_MAX', expected: 'an integer from 1 to 100000', doc: 'photos waiting for a worker thread per instance; beyond it uploads get 503 GW_ERR_LIVENESS_BUSY' }),
    vendorQueueMax: Type.Integer({ minimum: 1, maximum: 10000000, env: 'GATEWAY_LIVENESS_VENDOR_QUEUE_MAX', expected: 'an integer from 1 to 10000000', doc: 'checked photos waiting for the vendor, across instances (each about 130 kB in the store); beyond it uploads get 503 GW_ERR_LIVENESS_BUSY' }),
    thresholds: Type.Object({
      analysisSide: Type.Integer({ minimum: 64, maximum: 4096 }),
      blackClip: Type.Integer({ minimum: 0, maximum: 254 }),
      whiteClip: Type.Integer({ minimum: 1, maximum: 255 }),
      maxFaceWhite: Type.Number({ minimum: 0, maximum: 1 }),
      minBacklightWhite: Type.Number({ minimum: 0, maximum: 1 }),
      maxBacklitRatio: Type.Number({ minimum: 0, maximum: 1 }),
      highlightPercentile: Type.Number({ minimum: 0.5, maximum: 1 }),
      minHighlight: Type.Integer({ minimum: 0, maximum: 255 }),
      maxFaceBlack: Type.Number({ minimum: 0, maximum: 1 }),
      minSharpness: Type.Number({ minimum: 0, maximum: 100 })
    }, { additionalProperties: false, env: 'GATEWAY_LIVENESS_THRESHOLDS', expected: 'a JSON object of the photo pre-check thresholds (see The liveness pipeline)', doc: 'photo pre-check heuristics: clip levels, shares, ratios and the sharpness floor (workers/liveness.ts says what each does)' }),
    checkTimeoutMs: Type.Integer({ minimum: 100, maximum: 120000, env: 'GATEWAY_LIVENESS_CHECK_TIMEOUT_MS', expected: 'an integer from 100 to 120000', doc: 'an upload whose photo check has not finished in this time (waiting for a worker included) gets 503 GW_ERR_LIVENESS_BUSY; keep it below GATEWAY_IDEMPOTENCY_PENDING_TTL_SECONDS' }),
    photoTtlHours: Type.Integer({ minimum: 1, maximum: 720, env: 'GATEWAY_LIVENESS_PHOTO_TTL_HOURS', expected: 'an integer from 1 to 720', doc: 'how long a checked photo waits for the vendor; a check still queued then fails with reason expired (its scan given back)' }),
    requireEachMember: Type.Boolean({ env: 'GATEWAY_LIVENESS_REQUIRE_EACH_MEMBER', expected: 'true or false', doc: 'confirmation needs a passed check of every member of the group; false: of one member' }),
    resultTtlDays: Type.Integer({ minimum: 1, maximum: 365, env: 'GATEWAY_LIVENESS_RESULT_TTL_DAYS', expected: 'an integer from 1 to 365', doc: 'how long a check and its result are kept' })
  }, { additionalProperties: false }),

  vendor: Type.Object({
    url: Type.String({ maxLength: 2048, env: 'GATEWAY_VENDOR_URL', expected: 'empty or an http:// or https:// URL', doc: 'base URL of the liveness vendor (POST <url>/v1/scans); empty: checked photos wait in the queue until one is set', secret: true }),
    ratePerSecond: Type.Number({ exclusiveMinimum: 0, maximum: 10000, env: 'GATEWAY_VENDOR_RATE_PER_SECOND', expected: 'a number greater than 0 and at most 10000', doc: 'liveness vendor contract rate, scans per second' }),
    totalScans: Type.Integer({ minimum: 1, maximum: 1e9, env: 'GATEWAY_VENDOR_TOTAL_SCANS', expected: 'an integer from 1 to 1000000000', doc: 'liveness vendor contract budget, scans over the contract; raise it when the contract is renewed' }),
    pacing: Type.Number({ exclusiveMinimum: 0, maximum: 1, env: 'GATEWAY_VENDOR_PACING', expected: 'a number greater than 0 and at most 1', doc: 'share of the contract rate the gateway paces at, across instances: headroom for network jitter' }),
    maxConcurrent: Type.Integer({ minimum: 1, maximum: 1000, env: 'GATEWAY_VENDOR_MAX_CONCURRENT', expected: 'an integer from 1 to 1000', doc: 'vendor calls in flight at once per instance' }),
    timeoutMs: Type.Integer({ minimum: 100, maximum: 120000, env: 'GATEWAY_VENDOR_TIMEOUT_MS', expected: 'an integer from 100 to 120000', doc: 'one vendor call longer than this counts as failed and is retried' }),
    maxRetries: Type.Integer({ minimum: 0, maximum: 10, env: 'GATEWAY_VENDOR_MAX_RETRIES', expected: 'an integer from 0 to 10', doc: 'retries of one vendor call on 429, 5xx or timeout, with exponential backoff and jitter (429 honours Retry-After); after them the photo goes back in the queue' }),
    refusedPauseMinutes: Type.Integer({ minimum: 1, maximum: 10080, env: 'GATEWAY_VENDOR_REFUSED_PAUSE_MINUTES', expected: 'an integer from 1 to 10080', doc: 'after the vendor answers 402 (contract spent on its side), how long the gateway stops sending and accepting checks before it tries again' }),
    breakerResetMs: Type.Integer({ minimum: 100, maximum: 600000, env: 'GATEWAY_VENDOR_BREAKER_RESET_MS', expected: 'an integer from 100 to 600000', doc: 'after the circuit breaker opens (half the calls of the last 10 s failing), how long until one call tries the vendor again' })
  }, { additionalProperties: false }),

  waitingRoom: Type.Object({
    rooms: Type.Array(Type.Object({
      name: Type.String({ pattern: SLUG, expected: 'a lower-case slug of letters, digits and dashes', doc: 'the room\'s name, in its URLs and metric labels' }),
      routes: Type.Array(Type.String({ pattern: '^(GET|POST|PUT|DELETE|PATCH) /', maxLength: 256 }), { minItems: 1, maxItems: 64, expected: 'a JSON array of "METHOD /route/template" such as "POST /v1/appointment-requests"', doc: 'routes the room stands in front of' }),
      openings: Type.Array(Type.String({ maxLength: 40 }), { minItems: 1, maxItems: 64, expected: 'a JSON array of "request-window", daily "HH:MM" times in the schedule\'s time zone, or ISO instants', doc: 'when the room opens' }),
      preOpenMinutes: Type.Integer({ minimum: 0, maximum: 1440, expected: 'an integer from 0 to 1440', doc: 'arrivals this long before an opening join one draw, shuffled at the opening' }),
      activeMinutes: Type.Integer({ minimum: 1, maximum: 1440, expected: 'an integer from 1 to 1440', doc: 'the room stays in front of its routes this long after an opening' }),
      admitPerSecond: Type.Integer({ minimum: 1, maximum: 100000, expected: 'an integer from 1 to 100000', doc: 'people let through per second, across instances, never more in any rolling second' }),
      maxActive: Type.Integer({ minimum: 1, maximum: 10000000, expected: 'an integer from 1 to 10000000', doc: 'people holding a valid admission at once, at most' })
    }, { additionalProperties: false }), { maxItems: 16, env: 'GATEWAY_WAITING_ROOMS', expected: 'a JSON array of rooms {name, routes, openings, preOpenMinutes, activeMinutes, admitPerSecond, maxActive}', doc: 'waiting rooms; empty (the default) turns the waiting room off' }),
    admissionTtlSeconds: Type.Integer({ minimum: 10, maximum: 86400, env: 'GATEWAY_WAITING_ROOM_ADMISSION_TTL_SECONDS', expected: 'an integer from 10 to 86400', doc: 'how long an admission token lets its device through' }),
    signingKeyFile: Type.String({ maxLength: 4096, env: 'GATEWAY_WAITING_ROOM_SIGNING_KEY_FILE', expected: 'empty or the path of a PEM Ed25519 private key', doc: 'key that signs admission tokens, the same on every instance; empty makes one at boot, valid on that instance only', secret: true }),
    autoAdmit: Type.Boolean({ env: 'GATEWAY_WAITING_ROOM_AUTO_ADMIT', expected: 'true or false', doc: 'run admission rounds every 100 ms on this instance (the store lets one instance admit at a time); false only for tests that run them by hand' }),
    wsEnabled: Type.Boolean({ env: 'GATEWAY_WS_ENABLED', expected: 'true or false', doc: 'serve the WebSocket even without a waiting room, for the results of liveness checks and draws to the registrations watching them; it always runs when a room is configured' }),
    wsHost: Type.String({ minLength: 1, maxLength: 255, env: 'GATEWAY_WS_HOST', expected: 'a host name or IP address to listen on', doc: 'interface the WebSocket server binds to' }),
    wsPort: Type.Integer({ minimum: 0, maximum: 65535, env: 'GATEWAY_WS_PORT', expected: 'an integer from 0 to 65535', doc: 'TCP port of the WebSocket server (0 picks a free one)' }),
    wsPublicUrl: Type.String({ maxLength: 2048, env: 'GATEWAY_WS_PUBLIC_URL', expected: 'empty or a ws:// or wss:// URL', doc: 'the WebSocket URL clients are told to use (behind a proxy); empty: ws://<host the client called>:<GATEWAY_WS_PORT>/v1/waiting-room/ws' }),
    wsMaxConnections: Type.Integer({ minimum: 1, maximum: 1000000, env: 'GATEWAY_WS_MAX_CONNECTIONS', expected: 'an integer from 1 to 1000000', doc: 'WebSocket connections per instance; beyond, new ones are refused with 503' }),
    wsMaxBackpressureBytes: Type.Integer({ minimum: 1024, maximum: 67108864, env: 'GATEWAY_WS_MAX_BACKPRESSURE_BYTES', expected: 'an integer from 1024 to 67108864', doc: 'bytes waiting for a slow client beyond which its position updates are dropped (never its admission)' }),
    wsIdleTimeoutSeconds: Type.Integer({ minimum: 8, maximum: 960, env: 'GATEWAY_WS_IDLE_TIMEOUT_SECONDS', expected: 'an integer from 8 to 960', doc: 'a WebSocket silent this long (no pong to the automatic pings) is closed' })
  }, { additionalProperties: false }),

  delivery: Type.Object({
    url: Type.String({ maxLength: 2048, env: 'GATEWAY_DELIVERY_URL', expected: 'empty or an http:// or https:// URL', doc: 'backend service that receives (POST <url>) every event type not named in GATEWAY_DELIVERY_URLS; empty with no URLS: events wait in the outbox', secret: true }),
    urls: Type.Record(Type.String({ pattern: '^[a-z][a-z.]{0,63}$' }), Type.String({ maxLength: 2048 }), { env: 'GATEWAY_DELIVERY_URLS', expected: 'a JSON object of event type to http:// or https:// URL', doc: 'backend service per event type (registration.created, appointment.allocated, ...)', secret: true }),
    ratePerSecond: Type.Number({ exclusiveMinimum: 0, maximum: 100000, env: 'GATEWAY_DELIVERY_RATE_PER_SECOND', expected: 'a number greater than 0 and at most 100000', doc: 'events per second delivered to backend services, across all instances' }),
    maxConcurrent: Type.Integer({ minimum: 1, maximum: 1000, env: 'GATEWAY_DELIVERY_MAX_CONCURRENT', expected: 'an integer from 1 to 1000', doc: 'backend requests in flight at once, per instance' }),
    pacing: Type.Number({ exclusiveMinimum: 0, maximum: 1, env: 'GATEWAY_DELIVERY_PACING', expected: 'a number greater than 0 and at most 1', doc: 'share of the configured rate the gateway paces at: headroom for network jitter' }),
    timeoutMs: Type.Integer({ minimum: 100, maximum: 120000, env: 'GATEWAY_DELIVERY_TIMEOUT_MS', expected: 'an integer from 100 to 120000', doc: 'one delivery slower than this counts as failed and is retried' }),
    maxAttempts: Type.Integer({ minimum: 1, maximum: 100, env: 'GATEWAY_DELIVERY_MAX_ATTEMPTS', expected: 'an integer from 1 to 100', doc: 'deliveries of one event before it goes to the dead letters' }),
    retryBaseMs: Type.Integer({ minimum: 10, maximum: 600000, env: 'GATEWAY_DELIVERY_RETRY_BASE_MS', expected: 'an integer from 10 to 600000', doc: 'first retry after about this long, doubling each time (full jitter), or after the backend\'s Retry-After' }),
    claimIdleMs: Type.Integer({ minimum: 100, maximum: 3600000, env: 'GATEWAY_DELIVERY_CLAIM_IDLE_MS', expected: 'an integer from 100 to 3600000', doc: 'an event handed to an instance and not delivered for this long is taken over by another (a crashed instance)' }),
    recoverAfterSeconds: Type.Integer({ minimum: 1, maximum: 3600, env: 'GATEWAY_DELIVERY_RECOVER_AFTER_SECONDS', expected: 'an integer from 1 to 3600', doc: 'an event recorded before its state change and not appended this long after (the instance died in between) is appended if the change happened, dropped if not; longer than any request takes' })
  }, { additionalProperties: false })
}, { additionalProperties: false })

export type Config = Static<typeof ConfigSchema>
export type Poe = Static<typeof PoeSchema>
