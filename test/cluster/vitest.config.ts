// `npm run test:cluster`: scale-out tests that start their own multi-process fixtures (a 6-node
// Redis Cluster, several gateway instances sharing one Redis). Run by .ci/run after `npm test`.
import { fileURLToPath } from 'node:url'
import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    root: fileURLToPath(new URL('../..', import.meta.url)),
    include: ['test/cluster/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: 'forks',
    // Each file starts its own cluster or instances; two at once would share two cores.
    fileParallelism: false
  }
})
