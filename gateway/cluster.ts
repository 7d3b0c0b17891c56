// `npm run start:cluster -- --instances N`: N gateway processes on one machine, sharing one Redis
// (REDIS_URL or REDIS_CLUSTER_NODES), under a small supervisor: this process.
//
// Each instance is the same process `npm start` runs (dist/gateway/server.js), forked with its own
// ports, not a node:cluster worker sharing one: instance i listens on GATEWAY_PORT + i and
// GATEWAY_WS_PORT + i (0 lets each pick a free one). node:cluster shares a listening socket only
// for Node's own net servers; the uWebSockets.js push server binds its port natively, outside
// that machinery, so its workers could not share it, and a shared HTTP port would let Prometheus
// scrape a different instance each time, mixing their counters. Separate ports give each
// instance's /metrics a target of its own (grafana/prometheus/prometheus.yml lists them), and a
// load balancer in front spreads clients over them, as it does over instances on several machines.
//
// Everything they must agree on lives in Redis already (token buckets, registration limits, the
// vendor's and the delivery's contract limiters, the waiting room, the outbox), so N instances
// keep the configured global numbers, not N times them (test/cluster/instances/). On the memory
// store they would not: more than one instance needs REDIS_URL or REDIS_CLUSTER_NODES (config/load.ts refuses it).
//
// The supervisor:
// - restarts an instance that crashed (exit code other than 0, or killed by a signal, or a process
//   that could not be started at all) after
//   GATEWAY_INSTANCE_RESTART_DELAY_MS, doubling for each crash in a row up to
//   GATEWAY_INSTANCE_RESTART_MAX_DELAY_MS; an instance that exits 0 by itself was stopped on
//   purpose and is not restarted; one that refuses its configuration or cannot listen on its
//   ports (exit 78: EADDRINUSE on a fixed port would fail again on every restart) stops them all;
// - on SIGTERM or SIGINT sends each instance SIGTERM (each drains as `npm start` does) and exits
//   when all have, with 0 if every one exited 0, 1 if one did not or was down awaiting a restart;
//   a second signal kills them (SIGKILL); so does GATEWAY_SHUTDOWN_TIMEOUT_MS + 5 s;
// - exits when every instance has exited and none is due a restart;
// - logs one JSON line per event (no personal data: instance numbers, PIDs, ports, exit codes).
// The instances run detached (their own process group), so a Ctrl-C in a terminal reaches only the
// supervisor, which forwards it once; each instance also drains if the supervisor dies (IPC closed).
import { fork, type ChildProcess } from 'node:child_process'
import { availableParallelism, hostname } from 'node:os'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { ConfigError, loadConfig, type Config } from '../config/load.js'
import type { InstanceListening } from './server.js'

// sysexits.h: EX_USAGE for a bad command line, EX_CONFIG for a configuration it cannot run.
const EXIT_USAGE = 64
const EXIT_CONFIG = 78
const SERVER_ENTRY = fileURLToPath(new URL('./server.js', import.meta.url))
// Past the instances' own drain time, the supervisor stops waiting.
const KILL_SLACK_MS = 5_000
const USAGE = 'usage: npm run start:cluster -- --instances N (1 to 64; more than 1 needs REDIS_URL or REDIS_CLUSTER_NODES)'

const LEVELS = { trace: 10, debug: 20, info: 30, warn: 40, error: 50, fatal: 60 } as const
type Level = keyof typeof LEVELS

/** pino-shaped JSON lines, beside the instances' own on the same stdout. */
function logger (level: Config['log']['level']): (at: Level, fields: Record<string, unknown>, msg: string) => void {
  const threshold = level === 'silent' ? Infinity : LEVELS[level]
  const host = hostname()
  return (at, fields, msg) => {
    if (LEVELS[at] < threshold) return
    process.stdout.write(`${JSON.stringify({ level: LEVELS[at], time: Date.now(), pid: process.pid, hostname: host, name: 'gateway-cluster', ...fields, msg })}\n`)
  }
}

function fail (code: number, message: string): never {
  process.stderr.write(`gateway-cluster: ${message}\n`)
  process.exit(code)
}

/** The configuration, with --instances in place of GATEWAY_INSTANCES when given. */
function readConfig (): Readonly<Config> {
  let instancesFlag: string | undefined
  try {
    const { values } = parseArgs({ options: { instances: { type: 'string' } }, strict: true, allowPositionals: false })
    instancesFlag = values.instances
  } catch (err) {
    fail(EXIT_USAGE, `${(err as Error).message}\n${USAGE}`)
  }
  const env = instancesFlag === undefined ? process.env : { ...process.env, GATEWAY_INSTANCES: instancesFlag }
  try {
    return loadConfig({ env })
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err
    // Say --instances where that is what the operator typed.
    const message = instancesFlag === undefined ? err.message : err.message.replaceAll('cluster.instances (GATEWAY_INSTANCES)', '--instances (cluster.instances, GATEWAY_INSTANCES)')
    fail(EXIT_CONFIG, message)
  }
}

interface Instance {
  /** 0 to N - 1: its ports are the configured ones + index. */
  index: number
  port: number
  wsPort: number
  child: ChildProcess | undefined
  startedAt: number
  listening: InstanceListening | undefined
  /** Crashes in a row, for the backoff. */
  crashes: number
  restart: NodeJS.Timeout | undefined
  /** Exited by itself with 0: not restarted. */
  done: boolean
}

function main (): void {
  const config = readConfig()
  const log = logger(config.log.level)
  const { instances: count, restartDelayMs, restartMaxDelayMs } = config.cluster
  const offset = (port: number, index: number): number => port === 0 ? 0 : port + index
  const instances: Instance[] = Array.from({ length: count }, (_, index) => ({
    index,
    port: offset(config.server.port, index),
    wsPort: offset(config.waitingRoom.wsPort, index),
    child: undefined,
    startedAt: 0,
    listening: undefined,
    crashes: 0,
    restart: undefined,
    done: false
  }))
  let stopping = false
  let exitCode = 0
  let announced = false
  let killTimer: NodeJS.Timeout | undefined

  const cores = availableParallelism()
  if (count > cores) {
    log('warn', { instances: count, cores, livenessThreadsPerInstance: config.workers.livenessMaxThreads }, `${count} instances on ${cores} cores: their event loops and photo-check threads (piscina, GATEWAY_WORKERS_LIVENESS_MAX_THREADS each) compete for the same CPUs; more instances than cores adds no throughput`)
  }

  const finishIfAllExited = (): void => {
    if (instances.some((i) => i.child !== undefined || i.restart !== undefined)) return
    if (killTimer !== undefined) clearTimeout(killTimer)
    log('info', { exitCode }, 'every gateway instance has exited')
    process.exit(exitCode)
  }

  // An instance's process is gone (or never came): decide what next.
  const ended = (instance: Instance, pid: number | undefined, code: number | null, signal: NodeJS.Signals | null, startFailed: boolean): void => {
    instance.child = undefined
    const ranMs = Date.now() - instance.startedAt
    const fields = { instance: instance.index, instancePid: pid, code, signal, ranMs }
    if (stopping) {
      if (code !== 0 && exitCode === 0) exitCode = 1
      log('info', fields, `instance ${instance.index} exited`)
    } else if (code === EXIT_CONFIG) {
      // Its configuration, or an address it cannot listen on: it would fail the same way again.
      log('error', fields, `instance ${instance.index} refused its configuration or could not listen (exit ${EXIT_CONFIG}); stopping every instance`)
      exitCode = EXIT_CONFIG
      stop()
    } else if (code === 0) {
      instance.done = true
      log('info', fields, `instance ${instance.index} exited by itself (code 0); not restarted`)
    } else {
      // A crash: again after a backoff, shorter again once an instance has run a while.
      if (ranMs >= restartMaxDelayMs) instance.crashes = 0
      const delay = Math.min(restartMaxDelayMs, restartDelayMs * 2 ** instance.crashes)
      instance.crashes++
      const what = startFailed ? 'could not be started' : `crashed (${signal ?? `exit ${String(code)}`})`
      log('warn', { ...fields, restartInMs: delay, crashesInARow: instance.crashes }, `instance ${instance.index} ${what}; restarting in ${delay} ms`)
      instance.restart = setTimeout(() => { start(instance) }, delay)
    }
    finishIfAllExited()
  }

  const start = (instance: Instance): void => {
    instance.restart = undefined
    instance.listening = undefined
    instance.startedAt = Date.now()
    let child: ChildProcess
    try {
      child = fork(SERVER_ENTRY, [], {
        // One instance each: its ports are already its own.
        env: { ...process.env, GATEWAY_INSTANCES: '1', GATEWAY_PORT: String(instance.port), GATEWAY_WS_PORT: String(instance.wsPort) },
        stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
        detached: true
      })
    } catch (err) {
      // A failure fork throws rather than reports (see 'error' below): a crash all the same.
      log('error', { instance: instance.index, err: { type: (err as Error).name, message: (err as Error).message } }, `instance ${instance.index} could not be started`)
      ended(instance, undefined, null, null, true)
      return
    }
    instance.child = child
    // Once per process: 'exit', or an 'error' of a process that never started (no PID), after
    // which Node may emit no 'exit' at all; the supervisor would wait for it forever.
    let gone = false
    const end = (code: number | null, signal: NodeJS.Signals | null, startFailed: boolean): void => {
      if (gone) return
      gone = true
      ended(instance, child.pid, code, signal, startFailed)
    }
    log('info', { instance: instance.index, instancePid: child.pid, port: instance.port, wsPort: instance.wsPort }, `starting instance ${instance.index} (pid ${child.pid ?? '?'})`)
    child.on('message', (message: InstanceListening) => {
      if (message?.type !== 'listening') return
      instance.listening = message
      const ws = message.wsPort === null ? 'no WebSocket server' : `WebSocket port ${message.wsPort}`
      log('info', { instance: instance.index, instancePid: child.pid, url: message.url, metrics: `${message.url}/metrics`, wsPort: message.wsPort }, `instance ${instance.index} (pid ${child.pid ?? '?'}) listening on ${message.url}: API ${message.url}/v1, metrics ${message.url}/metrics, ${ws}`)
      if (!announced && instances.every((i) => i.listening !== undefined)) {
        announced = true
        const list = instances.map((i) => ({ instance: i.index, instancePid: i.child?.pid, url: i.listening?.url, metrics: `${i.listening?.url ?? ''}/metrics`, wsPort: i.listening?.wsPort ?? null }))
        log('info', { instances: list }, `${count} gateway instance${count === 1 ? '' : 's'} listening: ${list.map((i) => `${i.instance} ${i.url ?? ''}${i.wsPort === null ? '' : ` (ws :${i.wsPort})`}`).join(', ')}`)
      }
    })
    child.on('error', (err) => {
      log('error', { instance: instance.index, instancePid: child.pid, err: { type: err.name, message: err.message } }, `instance ${instance.index} could not be started or signalled`)
      if (child.pid === undefined) end(null, null, true)
    })
    child.once('exit', (code, signal) => { end(code, signal, false) })
  }

  const stop = (): void => {
    stopping = true
    for (const instance of instances) {
      if (instance.restart !== undefined) {
        // Down, awaiting its restart: the service was not whole, and the exit code says so.
        clearTimeout(instance.restart)
        instance.restart = undefined
        if (exitCode === 0) exitCode = 1
        log('warn', { instance: instance.index }, `instance ${instance.index} was down, awaiting a restart: not restarted`)
      }
      instance.child?.kill('SIGTERM')
    }
    killTimer ??= setTimeout(() => {
      for (const instance of instances) {
        if (instance.child === undefined) continue
        log('warn', { instance: instance.index, instancePid: instance.child.pid }, `instance ${instance.index} still running ${config.server.shutdownTimeoutMs + KILL_SLACK_MS} ms after SIGTERM: killing it`)
        instance.child.kill('SIGKILL')
      }
    }, config.server.shutdownTimeoutMs + KILL_SLACK_MS)
    finishIfAllExited()
  }

  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.on(signal, () => {
      if (!stopping) {
        log('info', { signal }, `${signal}: stopping every instance (each finishes its in-flight requests)`)
        stop()
        return
      }
      log('warn', { signal }, `${signal} again: killing every instance`)
      for (const instance of instances) instance.child?.kill('SIGKILL')
    })
  }

  log('info', { instances: count, store: config.store.clusterNodes !== '' ? 'redis-cluster' : config.store.redisUrl === '' ? 'memory' : 'redis' }, `starting ${count} gateway instance${count === 1 ? '' : 's'}`)
  for (const instance of instances) start(instance)
}

main()
