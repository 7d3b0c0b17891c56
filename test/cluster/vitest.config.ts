// `npm run test:cluster`: scale-out tests that start their own multi-process fixtures (a 6-node
// Redis Cluster, several gateway instances sharing one Redis). Run by .ci/run after `npm test`.
// Two projects:
// - cluster: test/cluster/**, files that start what they need (the failover test its own
//   cluster, since it kills nodes); the suite's single redis-server is there too.
// - on-cluster: test/cluster/on-cluster/** (a gateway process on the Cluster), and existing test files whose Redis cases reach Redis through test/helpers/app.ts
//   (redisStores, suiteRedis), run again with that Redis a 6-node Redis Cluster
//   (test/cluster/setup/redis-cluster.ts): the store contract (there also a second time with
//   GATEWAY_REDIS_WAIT_REPLICAS=1, writes through replication.ts), the rate limits, the allocation
//   pool, the outbox and the waiting room, the vendor contract limiter. Their memory cases run
//   again too (cheap); cases that start a redis-server of their own still use it.
import { fileURLToPath } from 'node:url'
import { defineConfig } from 'vitest/config'

const ON_CLUSTER = [
  'test/store/redis.test.ts',
  'test/plugins/rate-limit.test.ts',
  'test/domain/allocations.test.ts',
  'test/routes/outbox-events.test.ts',
  'test/domain/waiting-room.test.ts',
  'test/vendor/contract-limiter.test.ts'
]

export default defineConfig({
  test: {
    root: fileURLToPath(new URL('../..', import.meta.url)),
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: 'forks',
    // Each file starts its own cluster or instances; two at once would share two cores.
    fileParallelism: false,
    projects: [
      {
        extends: true,
        test: {
          name: 'cluster',
          include: ['test/cluster/**/*.test.ts'],
          exclude: ['test/cluster/on-cluster/**', '**/node_modules/**'],
          globalSetup: ['test/setup/redis-server.ts']
        }
      },
      {
        extends: true,
        test: {
          name: 'on-cluster',
          include: [...ON_CLUSTER, 'test/cluster/on-cluster/**/*.test.ts'],
          globalSetup: ['test/setup/redis-server.ts', 'test/cluster/setup/redis-cluster.ts']
        }
      }
    ]
  }
})
