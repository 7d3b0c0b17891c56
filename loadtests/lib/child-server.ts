// Runs a server as a child process for a benchmark and stops it by PID. The child prints one
// line `listening <port>` (or the gateway's own "gateway listening on http://host:port").
import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'

export interface ChildServer {
  child: ChildProcess
  port: number
  stop(): Promise<void>
}

export async function startChildServer (script: string, env: Record<string, string>, timeoutMs = 30_000): Promise<ChildServer> {
  const child = spawn(process.execPath, [script], { env: { PATH: process.env.PATH ?? '', ...env }, stdio: ['ignore', 'pipe', 'inherit'] })
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
    }
  }
}
