// Defaults for every setting. They are what `npm start` runs with on a laptop and are meant to be
// safe in production too: bind to loopback, strict limits, the contract numbers from the brief.
import type { Config } from './schema.js'

export const defaults: Config = {
  server: {
    host: '127.0.0.1',
    port: 8080,
    // Small: every JSON body but a registration's fits in well under 1 kB.
    bodyLimitBytes: 16 * 1024,
    // None: the registration route takes its own from its schema and registrations.maxMembers
    // (74 kB for 8 members, every field at its longest and escaped), the photo upload from
    // liveness.maxPhotoBytes.
    routeBodyLimits: {},
    maxJsonDepth: 32,
    requestTimeoutMs: 30_000,
    // Above the 60 s idle timeout of common load balancers, so they never reuse a socket we closed.
    keepAliveTimeoutMs: 72_000,
    shutdownTimeoutMs: 10_000,
    trustedProxies: [],
    docs: true,
    hstsMaxAgeSeconds: 31_536_000
  },
  // Closed: no browser origin may read an answer unless listed.
  cors: {
    origins: [],
    maxAgeSeconds: 600
  },
  // One process, as `npm start`; `npm run start:cluster -- --instances N` runs N (README, Operations).
  cluster: {
    instances: 1,
    restartDelayMs: 1_000,
    restartMaxDelayMs: 30_000
  },
  log: {
    level: 'info',
    accessLog: true
  },
  store: {
    redisUrl: '',
    clusterNodes: '',
    keyPrefix: 'gw',
    commandTimeoutMs: 250,
    connectTimeoutMs: 2_000,
    autoPipelining: false,
    waitReplicas: 0,
    waitTimeoutMs: 200,
    unavailableRetryAfterSeconds: 5,
    outboxPartitions: 8,
    feedMaxLength: 100_000,
    memorySweepIntervalMs: 10_000
  },
  auth: {
    issuer: 'appointment-gateway',
    audience: 'appointment-gateway-api',
    publicKeyFile: '',
    jwksFile: '',
    algorithms: ['ES256', 'EdDSA', 'RS256'],
    roleClaim: 'role',
    clockToleranceSeconds: 30,
    maxTokenLifetimeSeconds: 24 * 3600,
    cacheSize: 100_000,
    // A signature check costs ~0.1 ms; forged tokens must not buy that for free. Generous, since
    // many phones can share one address.
    failuresPerIpPerSecond: 20,
    failureBurstPerIp: 200,
    devKeyFile: '.dev-keys/jwt-dev.json'
  },
  rateLimit: {
    // Every limited request draws from all the buckets that apply to it. Subjects, devices and
    // IPs are generous enough for a polite app and for carrier NAT (many phones behind one address
    // at the border); the subject bucket holds a client that invents a device id per request; the
    // global and route buckets keep the whole edge under what the backends take.
    rules: [
      { name: 'global', scope: 'global', ratePerSecond: 20_000, burst: 40_000 },
      { name: 'schedule', scope: 'route', ratePerSecond: 15_000, burst: 30_000, routes: ['/v1/schedule'] },
      { name: 'subject', scope: 'subject', ratePerSecond: 4, burst: 40 },
      { name: 'device', scope: 'device', ratePerSecond: 2, burst: 20 },
      { name: 'ip', scope: 'ip', ratePerSecond: 100, burst: 400 },
      // A partner checks people at a desk, not in bulk: enumerating numbers would take ages.
      { name: 'partner', scope: 'subject', ratePerSecond: 1, burst: 30, routes: ['/v1/partner/validations'] }
    ],
    defaultFailurePolicy: 'closed',
    // Reads that change nothing stay up on in-process buckets while Redis is away.
    routeFailurePolicies: { '/v1/schedule': 'open' },
    retryJitterSeconds: 3,
    fallbackProbeIntervalMs: 1_000,
    overLimitCacheSize: 100_000
  },
  allocation: {
    oldestShare: 0.3,
    slotTimes: ['08:00', '10:00', '12:00', '14:00'],
    autoDraw: true,
    schedulerIntervalSeconds: 10,
    // Longer than any accepted request takes to write its pool entry.
    sealGraceSeconds: 30,
    catchUpHours: 6,
    lapseGraceSeconds: 60
  },
  fairness: {
    ageBucketDays: [1, 7, 30],
    // ISO 3166 has 249 codes; a bound keeps the metric's series few however the pool looks.
    topNationalities: 20
  },
  workers: {
    // One draw a day: one thread is plenty, and it leaves the other core to the event loop.
    allocationMaxThreads: 1,
    // Photo decoding is CPU-bound: one thread leaves the other core to the event loop on a 2-core box.
    livenessMaxThreads: 1,
    idleTimeoutMs: 30_000
  },
  idempotency: {
    ttlHours: 24,
    // Longer than any write takes, short enough that a crashed instance does not lock a key long.
    pendingTtlSeconds: 30
  },
  shedding: {
    // Event-loop delay is the signal that work is queueing inside the process. Utilization is off
    // by default: a gateway saturated by cheap requests sits near 1.0 while still answering fast.
    maxEventLoopDelayMs: 250,
    maxEventLoopUtilization: 0,
    maxHeapUsedBytes: 2 * 1024 ** 3,
    maxRssBytes: 3 * 1024 ** 3,
    sampleIntervalMs: 100,
    retryAfterSeconds: 5
  },
  metrics: {
    httpDurationBuckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    eventLoopPrecisionMs: 10
  },
  schedule: {
    timezone: 'America/New_York',
    // From 10 May 2023: requests all day from 12:00 to 11:00 ET the next day, drawn at 11:00.
    requestWindowOpensAt: '12:00',
    requestWindowClosesAt: '11:00',
    allocationAt: '11:00',
    confirmationHours: 23,
    extensionHours: 23,
    maxExtensions: 1
  },
  // 1,450 appointments a day across the eight ports of entry.
  poes: [
    { slug: 'brownsville', name: 'Brownsville', state: 'TX', dailyCapacity: 200 },
    { slug: 'el-paso', name: 'El Paso', state: 'TX', dailyCapacity: 200 },
    { slug: 'eagle-pass', name: 'Eagle Pass', state: 'TX', dailyCapacity: 150 },
    { slug: 'hidalgo', name: 'Hidalgo', state: 'TX', dailyCapacity: 200 },
    { slug: 'laredo', name: 'Laredo', state: 'TX', dailyCapacity: 200 },
    { slug: 'calexico', name: 'Calexico', state: 'CA', dailyCapacity: 150 },
    { slug: 'san-ysidro', name: 'San Ysidro', state: 'CA', dailyCapacity: 200 },
    { slug: 'nogales', name: 'Nogales', state: 'AZ', dailyCapacity: 150 }
  ],
  geofence: {
    // Mexico City; requests were only accepted north of it.
    minLatitude: 19.4326,
    // Central and northern Mexico up to the US border, with a margin: a coarse fence that the
    // latitude rule sharpens; operators can draw a finer one.
    polygon: [[19.4326, -118.5], [33.2, -118.5], [33.2, -86.5], [19.4326, -86.5]],
    maxAccuracyMeters: 5_000
  },
  registrations: {
    maxMembers: 8,
    perDeviceMax: 3,
    perDeviceWindowHours: 24,
    minIntervalSeconds: 30,
    perSubjectMax: 3,
    perSubjectWindowHours: 24,
    perIpMax: 300,
    perIpWindowMinutes: 10,
    deviceSubjectsFlag: 5,
    identityConflictsMax: 3,
    ttlDays: 90,
    identityKeyFile: '',
    devIdentityKeyFile: '.dev-keys/identity-hmac.key'
  },
  trends: {
    // Above the largest group (registrations.maxMembers, 8): a family at home is not a cluster.
    defaultMinClaimants: 10,
    defaultLimit: 100,
    maxLimit: 1_000,
    maxExamined: 10_000,
    // As long as a registration without activity is kept (registrations.ttlDays).
    retentionDays: 90
  },
  liveness: {
    maxPhotoBytes: 5 * 1024 * 1024,
    minWidth: 480,
    minHeight: 480,
    maxWidth: 10_000,
    maxHeight: 10_000,
    // 48 MP: every phone camera's full resolution, far below a decompression bomb.
    maxPixels: 48_000_000,
    vendorMaxSide: 1024,
    checkQueueMax: 256,
    // Calibrated on synthetic portraits with margins (test/workers/liveness.test.ts prints the measures).
    thresholds: {
      analysisSide: 512,
      blackClip: 16,
      whiteClip: 250,
      maxFaceWhite: 0.15,
      minBacklightWhite: 0.25,
      maxBacklitRatio: 0.14,
      highlightPercentile: 0.99,
      minHighlight: 100,
      maxFaceBlack: 0.25,
      minSharpness: 2.5
    },
    // At the contract's 1 scan/s this is under 3 hours of photos, about 1.3 GB in Redis (each
    // waiting photo is a re-encoded JPEG of about 100 kB, base64): beyond it people are told when
    // to come back instead of waiting a day.
    vendorQueueMax: 10_000,
    // Below the 30 s an Idempotency-Key stays pending, so a client's retry never makes a second check.
    checkTimeoutMs: 20_000,
    photoTtlHours: 48,
    requireEachMember: true,
    resultTtlDays: 30
  },
  vendor: {
    url: '',
    // The liveness vendor's contract: at most 1 scan/s and 400,000 scans in all.
    ratePerSecond: 1,
    totalScans: 400_000,
    pacing: 0.9,
    maxConcurrent: 4,
    timeoutMs: 10_000,
    maxRetries: 3,
    refusedPauseMinutes: 60,
    breakerResetMs: 30_000
  },
  // Off: a room stands in front of routes only when configured (see README, Waiting room).
  waitingRoom: {
    rooms: [],
    admissionTtlSeconds: 600,
    signingKeyFile: '',
    autoAdmit: true,
    wsEnabled: false,
    wsHost: '127.0.0.1',
    wsPort: 8081,
    wsPublicUrl: '',
    wsMaxConnections: 50_000,
    wsMaxBackpressureBytes: 64 * 1024,
    wsIdleTimeoutSeconds: 30
  },
  delivery: {
    url: '',
    urls: {},
    ratePerSecond: 200,
    maxConcurrent: 16,
    pacing: 0.95,
    timeoutMs: 5_000,
    maxAttempts: 10,
    retryBaseMs: 500,
    claimIdleMs: 30_000,
    recoverAfterSeconds: 60
  }
}
