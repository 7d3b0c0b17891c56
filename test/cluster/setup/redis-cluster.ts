// For the on-cluster project of `npm run test:cluster`: one private 6-node Redis Cluster (3
// masters, 3 replicas) on free loopback ports for the whole run, stopped after. Test bodies reach
// it through test/helpers/app.ts suiteRedis() (redisStores), so they run unchanged on it.
import type { TestProject } from 'vitest/node'
import { startRedisCluster } from '../../../loadtests/lib/redis-cluster.js'

declare module 'vitest' {
  export interface ProvidedContext {
    /** "host:port,..." of the suite's Redis Cluster; absent outside the on-cluster project. */
    redisClusterNodes?: string
  }
}

export default async function setup (project: TestProject): Promise<() => Promise<void>> {
  const cluster = await startRedisCluster()
  project.provide('redisClusterNodes', cluster.nodesSpec)
  return async () => { await cluster.stop() }
}
