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
import { serverOptions } from './server-options.js'
import { createStores } from './store/index.js'

// sysexits.h EX_CONFIG: the process was started with a configuration it cannot run.
const EXIT_CONFIG = 78

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

  closeWithGrace({ delay: config.server.shutdownTimeoutMs }, async ({ signal, err }) => {
    if (err !== undefined) log.error({ err }, 'closing after an uncaught error')
    else log.info({ signal }, 'closing: finishing in-flight requests')
    await fastify.close()
    log.info('closed')
  })

  const address = await fastify.listen({ host: config.server.host, port: config.server.port })
  log.info({
    api: `${address}/v1`,
    metrics: `${address}/metrics`,
    docs: config.server.docs ? `${address}/docs` : 'disabled',
    healthz: `${address}/healthz`,
    readyz: `${address}/readyz`,
    store: stores.kind
  }, `gateway listening on ${address}: API ${address}/v1, metrics ${address}/metrics, docs ${address}/docs, health ${address}/healthz`)
}

await main()
