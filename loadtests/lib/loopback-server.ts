// What every simulator shares: an HTTP server on a loopback address only (load and fault tests
// never leave the machine), its own clock, and a CLI that prints its counts when stopped.
import { once } from 'node:events'
import { realpathSync } from 'node:fs'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo, Socket } from 'node:net'
import { performance } from 'node:perf_hooks'
import { pathToFileURL } from 'node:url'
import { maxInAnyWindow } from './sliding-window.js'

export type LoopbackHost = '127.0.0.1' | '::1'

/** A server listening on 127.0.0.1 or ::1 (port 0: a free one), with its base URL. */
export async function listenLoopback (options: { host?: string, port?: number }): Promise<{ server: Server, url: string }> {
  const host = options.host ?? '127.0.0.1'
  if (host !== '127.0.0.1' && host !== '::1') throw new RangeError('host must be 127.0.0.1 or ::1')
  const port = options.port ?? 0
  if (!(Number.isInteger(port) && port >= 0 && port <= 65535)) throw new RangeError('port must be an integer from 0 to 65535')
  const server = createServer({ keepAliveTimeout: 5_000 })
  server.listen(port, host)
  await once(server, 'listening')
  const address = server.address() as AddressInfo
  return { server, url: `http://${host === '::1' ? '[::1]' : host}:${address.port}` }
}

/** The simulator's clock in ms: the injected one, or a monotonic one anchored at the epoch. */
export function simulatorClock (now?: () => number): () => number {
  if (now !== undefined) return now
  const origin = performance.timeOrigin
  return () => origin + performance.now()
}

/** Whether the module at `url` is the process's entry (run directly, not imported). */
export function isEntry (url: string): boolean {
  const entry = process.argv[1]
  return entry !== undefined && url === pathToFileURL(realpathSync(entry)).href
}

/** Runs a simulator's CLI: starts it, says where it listens, and on SIGINT/SIGTERM prints its counts as one JSON line and exits. */
export function runSimulatorCli (name: string, start: () => Promise<{ url: string, stats(): unknown, close(): Promise<void> }>, describe: (url: string) => string): void {
  start().then((sim) => {
    process.stdout.write(`${describe(sim.url)}\n`)
    const stop = (): void => {
      process.stdout.write(`${JSON.stringify(sim.stats())}\n`)
      sim.close().then(() => process.exit(0), () => process.exit(1))
    }
    process.once('SIGINT', stop)
    process.once('SIGTERM', stop)
  }, (err: unknown) => {
    process.stderr.write(`${name}: ${err instanceof Error ? err.message : String(err)}\n`)
    process.exit(1)
  })
}

/** A JSON answer of a simulator. */
export interface JsonAnswer {
  status: number
  body: Record<string, unknown>
  headers?: Record<string, string>
}

/**
 * The HTTP side every simulator shares: each request's arrival on the simulator's clock (for an
 * exact busiest-second count), answers delayed by timers that close() cancels, JSON replies,
 * connection resets, and a close that ends every connection.
 */
export abstract class SimulatorServer {
  readonly url: string
  readonly #server: Server
  readonly #now: () => number
  readonly #arrivals: number[] = []
  readonly #timers = new Set<NodeJS.Timeout>()
  #closing: Promise<void> | undefined

  constructor (server: Server, url: string, now: () => number) {
    this.#server = server
    this.url = url
    this.#now = now
    server.on('request', (req: IncomingMessage, res: ServerResponse) => {
      const at = this.#now()
      this.#arrivals.push(at)
      this.arrive(req, res, at)
    })
  }

  /** One request, arrived at `at` on the simulator's clock (already counted among the arrivals). */
  protected abstract arrive (req: IncomingMessage, res: ServerResponse, at: number): void

  /** Most requests that arrived in any window [t, t + 1 s) of the simulator's clock: exact. */
  protected busiestSecond (): number {
    return maxInAnyWindow(this.#arrivals, 1_000)
  }

  /** Runs `fn` after `ms`, unless the simulator closes first. */
  protected later (fn: () => void, ms: number): void {
    const timer = setTimeout(() => {
      this.#timers.delete(timer)
      fn()
    }, ms)
    this.#timers.add(timer)
  }

  /** Writes a JSON answer, unless the response is already over. */
  protected send (res: ServerResponse, answer: JsonAnswer, close = false): void {
    if (res.writableEnded || res.destroyed) return
    const text = JSON.stringify(answer.body)
    res.writeHead(answer.status, {
      'content-type': 'application/json',
      'content-length': Buffer.byteLength(text),
      ...answer.headers,
      ...(close ? { connection: 'close' } : {})
    })
    res.end(text)
  }

  /** Answers at once, draining what the client still sends so the connection can be reused. */
  protected answerNow (req: IncomingMessage, res: ServerResponse, answer: JsonAnswer): void {
    req.resume()
    this.send(res, answer)
  }

  /** Resets the request's connection: what a server that is down does to it. */
  protected reset (req: IncomingMessage): void {
    ;(req.socket as Socket).resetAndDestroy()
  }

  async close (): Promise<void> {
    this.#closing ??= (async () => {
      for (const timer of this.#timers) clearTimeout(timer)
      this.#timers.clear()
      const closed = once(this.#server, 'close')
      this.#server.close()
      this.#server.closeAllConnections()
      await closed
    })()
    return this.#closing
  }
}
