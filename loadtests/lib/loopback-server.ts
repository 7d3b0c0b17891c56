// What every simulator shares: an HTTP server on a loopback address only (load and fault tests
// never leave the machine), its own clock, and a CLI that prints its counts when stopped.
import { once } from 'node:events'
import { realpathSync } from 'node:fs'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { performance } from 'node:perf_hooks'
import { pathToFileURL } from 'node:url'

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
