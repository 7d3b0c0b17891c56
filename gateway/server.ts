// The only process entry (fastify/demo src/server.ts): read config, open the stores, listen,
// and close gracefully on SIGTERM/SIGINT: stop accepting, finish in-flight requests, close
// Redis, exit 0.
import closeWithGrace from 'close-with-grace'
import Fastify from 'fastify'
import { ConfigError, loadConfig, usesRedis, type Config } from '../config/load.js'
import app from './app.js'
import { loadIdentityKey } from './auth/identity-key.js'
import { loadAdmissionKey } from './auth/admission-tokens.js'
import { KeyLoadError, loadVerificationKeys } from './auth/keys.js'
import { PushListenError } from './push/ws-server.js'
import { serverOptions } from './server-options.js'
import { createStores } from './store/index.js'

/** What an instance started by gateway/cluster.ts tells it over IPC once it listens. */
export interface InstanceListening {
  type: 'listening'
  url: string
  /** The WebSocket server's port; null when it does not run. */
  wsPort: number | null
}

// sysexits.h EX_CONFIG: the process was started with a configuration it cannot run, or on an
// address it cannot listen on (taken, or not ours): trying again the same way would fail again,
// so start:cluster stops rather than restart it in a loop.
const EXIT_CONFIG = 78
const LISTEN_ERRORS = new Set(['EADDRINUSE', 'EACCES', 'EADDRNOTAVAIL'])

function readConfig (): Readonly<Config> {
  try {
    return loadConfig()
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err
    process.stderr.write(`gateway: ${err.message}\n`)
    process.exit(EXIT_CONFIG)
  }
}

async function main (): Promise<void> {
  const config = readConfig()
  const fastify = Fastify(serverOptions(config))
  const log = fastify.log

  if (!usesRedis(config.store)) {
    log.warn('REDIS_URL is not set: running on the embedded memory store. State is per-process and lost on exit; set REDIS_URL to share state between instances and keep it across restarts.')
  }
  let lastConnectionWarning = 0
  const stores = await createStores(config.store, {
    // ioredis retries on its own; say so at most every 10 s rather than once per attempt.
    onConnectionError: (err) => {
      const now = Date.now()
      if (now - lastConnectionWarning < 10_000) return
      lastConnectionWarning = now
      log.warn({ code: (err as NodeJS.ErrnoException).code ?? err.name }, 'Redis is unreachable; retrying')
    }
  })

  let keys
  let identityKey
  let admissionKey
  try {
    identityKey = loadIdentityKey(config.registrations).key
    const admission = loadAdmissionKey(config.waitingRoom)
    admissionKey = admission.key
    if (admission.created && config.waitingRoom.rooms.length > 0) log.warn('no waiting-room signing key configured (GATEWAY_WAITING_ROOM_SIGNING_KEY_FILE): admission tokens made by this instance are accepted by this instance only')
    const loaded = loadVerificationKeys(config.auth)
    keys = loaded.keys
    if (config.auth.publicKeyFile === '' && config.auth.jwksFile === '') {
      log.warn({ file: config.auth.devKeyFile, created: loaded.created }, 'no token keys configured: using the development key pair (embedded store only); mint a token with `npm run token -- --role applicant --sub u1`')
    }
  } catch (err) {
    if (!(err instanceof KeyLoadError)) throw err
    process.stderr.write(`gateway: ${err.message}\n`)
    await stores.close()
    process.exit(EXIT_CONFIG)
  }

  await fastify.register(app, { config, stores, keys, identityKey, admissionKey })

  // Started by `npm run start:cluster` (gateway/cluster.ts, over IPC), or by `npm start`.
  const supervised = process.send !== undefined
  const closer = closeWithGrace({
    delay: config.server.shutdownTimeoutMs,
    // Under the supervisor this process handles SIGTERM and SIGINT itself (below): close-with-grace
    // exits 1 at once on a second one, and there a second one is routine, not an operator's hurry.
    skip: supervised ? ['SIGTERM', 'SIGINT'] : []
  }, async ({ signal, err }) => {
    if (err !== undefined) log.error({ err }, 'closing after an uncaught error')
    else if (signal !== undefined) log.info({ signal }, 'closing: finishing in-flight requests')
    await fastify.close()
    log.info('closed')
  })

  let draining = false
  if (supervised) {
    // Under systemd's default KillMode=control-group every process of the unit gets SIGTERM, and
    // the supervisor forwards one more: a second signal must not abandon the requests in flight.
    // The supervisor kills with SIGKILL after GATEWAY_SHUTDOWN_TIMEOUT_MS + 5 s if it must.
    const drain = (why: NodeJS.Signals | 'disconnect'): void => {
      if (draining) {
        log.info({ signal: why }, `${why} while draining: ignored; still finishing in-flight requests`)
        return
      }
      draining = true
      log.info({ signal: why }, 'closing: finishing in-flight requests')
      closer.close()
    }
    process.on('SIGTERM', drain)
    process.on('SIGINT', drain)
    // If the supervisor goes away without stopping us, drain and exit as on SIGTERM rather than
    // run on unsupervised.
    process.once('disconnect', () => { drain('disconnect') })
    // It may have gone already, before that handler was there (killed while this one started).
    if (!process.connected) drain('disconnect')
  }
  // Closing before it listened: nothing to serve, and close-with-grace exits when closed.
  if (draining) return

  let address: string
  try {
    address = await fastify.listen({ host: config.server.host, port: config.server.port })
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    if (err instanceof PushListenError) {
      process.stderr.write(`gateway: the WebSocket ${err.message.replace(/^push server /, 'server ')} (GATEWAY_WS_HOST, GATEWAY_WS_PORT)\n`)
    } else if (code !== undefined && LISTEN_ERRORS.has(code)) {
      process.stderr.write(`gateway: could not listen on ${config.server.host} port ${config.server.port}: ${code} (GATEWAY_HOST, GATEWAY_PORT)\n`)
    } else {
      throw err
    }
    await fastify.close().catch(() => {})
    process.exit(EXIT_CONFIG)
  }
  log.info({
    api: `${address}/v1`,
    metrics: `${address}/metrics`,
    docs: config.server.docs ? `${address}/docs` : 'disabled',
    healthz: `${address}/healthz`,
    readyz: `${address}/readyz`,
    store: stores.kind
  }, `gateway listening on ${address}: API ${address}/v1, metrics ${address}/metrics, docs ${address}/docs, health ${address}/healthz`)
  // The supervisor learns the ports chosen (GATEWAY_PORT=0 or GATEWAY_WS_PORT=0) from this, if it
  // is still there: otherwise 'disconnect' has started the drain. The callback takes a send that
  // fails on the way (the channel closing meanwhile) instead of an uncaught 'error'.
  if (process.send !== undefined && process.connected) {
    process.send({ type: 'listening', url: address, wsPort: fastify.pushPort ?? null } satisfies InstanceListening, undefined, undefined, () => {})
  }
}

await main()
