// Starts a private redis-server on a free loopback port for the whole run and stops it after,
// so the suite never touches port 6379 or anyone's data. REDIS_URL, when set, is used instead.
import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { mkdtemp, rm } from 'node:fs/promises'
import { createServer, connect } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { TestProject } from 'vitest/node'

declare module 'vitest' {
  export interface ProvidedContext {
    redisUrl: string
  }
}

async function freePort (): Promise<number> {
  const server = createServer()
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const { port } = server.address() as { port: number }
  server.close()
  await once(server, 'close')
  return port
}

async function answersPing (port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1')
    socket.setTimeout(500)
    socket.once('connect', () => socket.write('PING\r\n'))
    socket.once('data', (data) => { socket.destroy(); resolve(data.toString().startsWith('+PONG')) })
    socket.once('error', () => resolve(false))
    socket.once('timeout', () => { socket.destroy(); resolve(false) })
  })
}

async function startRedis (dir: string): Promise<{ child: ChildProcess, port: number }> {
  // A port found free can be taken before redis binds it; try a few.
  for (let attempt = 0; attempt < 5; attempt++) {
    const port = await freePort()
    const child = spawn('redis-server', [
      '--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no',
      '--dir', dir, '--loglevel', 'warning'
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

export default async function setup (project: TestProject): Promise<() => Promise<void>> {
  if (process.env.REDIS_URL !== undefined && process.env.REDIS_URL !== '') {
    project.provide('redisUrl', process.env.REDIS_URL)
    return async () => {}
  }
  const dir = await mkdtemp(join(tmpdir(), 'gateway-test-redis-'))
  const { child, port } = await startRedis(dir)
  project.provide('redisUrl', `redis://127.0.0.1:${port}`)
  return async () => {
    if (child.exitCode === null) {
      const exited = once(child, 'exit')
      child.kill('SIGTERM')
      await exited
    }
    await rm(dir, { recursive: true, force: true })
  }
}
