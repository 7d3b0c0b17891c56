// Runs the built gateway (dist/gateway/server.js, what `npm start` runs) as a real process.
import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

export const SERVER_ENTRY = fileURLToPath(new URL('../../dist/gateway/server.js', import.meta.url))

export interface GatewayProcess {
  child: ChildProcess
  stdout: () => string
  stderr: () => string
  /** Resolves with the exit code (or signal name) once the process has ended. */
  exited: Promise<number | string>
  /** Resolves with the base URL once the gateway logs that it listens. */
  listening: Promise<string>
}

/**
 * `entry`: another copy of the built server (a fault test's, with a fault-injecting worker file),
 * SERVER_ENTRY by default; `cwd`: where the process runs (and writes any file it writes), the
 * test's own by default.
 */
export function startGateway (env: Record<string, string>, options: { entry?: string, cwd?: string } = {}): GatewayProcess {
  const entry = options.entry ?? SERVER_ENTRY
  if (!existsSync(entry)) throw new Error(`${entry} is missing: run the suite with npm test, which builds first`)
  // Only what the gateway needs: never the test process's own REDIS_URL or GATEWAY_* settings.
  const child = spawn(process.execPath, [entry], {
    // Shedding off, as in-process: parallel test files on two cores stall the child's event loop.
    env: { PATH: process.env.PATH ?? '', GATEWAY_SHED_MAX_EVENT_LOOP_DELAY_MS: '0', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    ...(options.cwd === undefined ? {} : { cwd: options.cwd })
  })
  let out = ''
  let err = ''
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => { out += chunk })
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => { err += chunk })
  const exited = new Promise<number | string>((resolve) => {
    child.once('exit', (code, signal) => resolve(code ?? signal ?? 'unknown'))
  })
  const listening = new Promise<string>((resolve, reject) => {
    const look = (): void => {
      const match = /gateway listening on (http:\/\/[^:]+:\d+)/.exec(out)
      if (match !== null) {
        child.stdout?.off('data', look)
        resolve(match[1] as string)
      }
    }
    child.stdout?.on('data', look)
    exited.then((code) => reject(new Error(`gateway exited (${code}) before listening:\n${err}`)), () => {})
  })
  listening.catch(() => {})
  return { child, stdout: () => out, stderr: () => err, exited, listening }
}

/** Kills a gateway a failed test left behind; only ever the process this test started. */
export function stopGateway (gateway: GatewayProcess | undefined): void {
  if (gateway?.child.exitCode === null && gateway.child.pid !== undefined) gateway.child.kill('SIGKILL')
}
