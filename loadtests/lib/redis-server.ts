// A private redis-server on a free loopback port, keeping nothing on disk: for the test suite
// (test/setup), the tests that stop and restart Redis, and the benchmarks. Never port 6379.
import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { connect, createServer } from 'node:net'

export async function freePort (): Promise<number> {
  const server = createServer()
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const { port } = server.address() as { port: number }
  server.close()
  await once(server, 'close')
  return port
}

export async function answersPing (port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1')
    socket.setTimeout(500)
    socket.once('connect', () => socket.write('PING\r\n'))
    socket.once('data', (data) => { socket.destroy(); resolve(data.toString().startsWith('+PONG')) })
    socket.once('error', () => resolve(false))
    socket.once('timeout', () => { socket.destroy(); resolve(false) })
  })
}

/**
 * Durable as production runs it: every write in the append-only file, fsynced before Redis
 * answers. Pass as startRedis's extraArgs (later arguments win over the defaults before them);
 * a redis-server started again in the same dir then loads what the first one acknowledged.
 */
export const AOF_ALWAYS: readonly string[] = ['--appendonly', 'yes', '--appendfsync', 'always']

/** Starts redis-server on a free loopback port (or the given one), in `dir`, keeping nothing on disk unless extraArgs say so (AOF_ALWAYS). */
export async function startRedis (dir: string, fixedPort?: number, extraArgs: readonly string[] = []): Promise<{ child: ChildProcess, port: number }> {
  // A port found free can be taken before redis binds it; try a few.
  for (let attempt = 0; attempt < 5; attempt++) {
    const port = fixedPort ?? await freePort()
    const child = spawn('redis-server', [
      '--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no',
      '--dir', dir, '--loglevel', 'warning', ...extraArgs
    ], { stdio: ['ignore', 'ignore', 'inherit'] })
    const failed: { error?: Error } = {}
    child.once('error', (err) => { failed.error = err })
    const deadline = Date.now() + 10_000
    while (failed.error === undefined && child.exitCode === null && Date.now() < deadline) {
      if (await answersPing(port)) return { child, port }
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
    if (failed.error !== undefined) throw new Error(`cannot run redis-server (install the Debian package redis-server): ${failed.error.message}`)
    if (child.exitCode === null) child.kill('SIGKILL')
  }
  throw new Error('could not start a private redis-server on a free loopback port')
}

/** Stops a redis-server this process started, by its PID. */
export async function stopRedis (child: ChildProcess, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return
  const exited = once(child, 'exit')
  child.kill(signal)
  await exited
}
