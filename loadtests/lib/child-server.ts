// Runs a server as a child process for a benchmark and stops it by PID. The child prints one
// line `listening <port>` (or the gateway's own "gateway listening on http://host:port").
import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { createWriteStream } from 'node:fs'

export interface ChildServer {
  child: ChildProcess
  port: number
  stop(): Promise<void>
}

/**
 * `logFile`: keep everything the child writes (stdout and stderr) in this file, stderr still shown
 * on ours; without it stdout is read only for the listening line and stderr is inherited.
 */
export async function startChildServer (script: string, env: Record<string, string>, timeoutMs = 30_000, options: { logFile?: string } = {}): Promise<ChildServer> {
  const child = spawn(process.execPath, [script], { env: { PATH: process.env.PATH ?? '', ...env }, stdio: ['ignore', 'pipe', options.logFile === undefined ? 'inherit' : 'pipe'] })
  const log = options.logFile === undefined ? undefined : createWriteStream(options.logFile, { flags: 'a' })
  if (log !== undefined) {
    child.stdout?.pipe(log, { end: false })
    child.stderr?.pipe(log, { end: false })
    child.stderr?.pipe(process.stderr, { end: false })
    // 'close', not 'exit': the pipes may still hold output when the process has exited.
    child.once('close', () => { log.end() })
  }
  let out = ''
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
      reject(new Error(`${script} did not start within ${timeoutMs} ms`))
    }, timeoutMs)
    child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
      out += chunk
      const match = /listening (?:on http:\/\/[^:]+:)?(\d+)/.exec(out)
      if (match !== null) {
        clearTimeout(timer)
        resolve(Number(match[1]))
      }
      // Keep only a tail: the child may log a lot.
      if (out.length > 65_536) out = out.slice(-4096)
    })
    child.once('exit', (code) => { clearTimeout(timer); reject(new Error(`${script} exited (${code}) before listening`)) })
  })
  return {
    child,
    port,
    stop: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return
      const exited = once(child, 'exit')
      child.kill('SIGTERM')
      const timer = setTimeout(() => child.kill('SIGKILL'), 15_000)
      await exited
      clearTimeout(timer)
      if (log !== undefined && !log.closed) await once(log, 'close')
    }
  }
}
