// Starts a private redis-server on a free loopback port for the whole run and stops it after,
// so the suite never touches port 6379 or anyone's data. REDIS_URL, when set, is used instead.
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { TestProject } from 'vitest/node'
import { startRedis, stopRedis } from '../../loadtests/lib/redis-server.js'

declare module 'vitest' {
  export interface ProvidedContext {
    redisUrl: string
  }
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
    await stopRedis(child)
    await rm(dir, { recursive: true, force: true })
  }
}
