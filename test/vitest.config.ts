import { fileURLToPath } from 'node:url'
import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    root: fileURLToPath(new URL('..', import.meta.url)),
    include: ['test/**/*.test.ts'],
    // test/cluster/ and test/faults/ are runs of their own: npm run test:cluster
    // (test/cluster/vitest.config.ts) and npm run test:faults (test/faults/vitest.config.ts).
    exclude: ['test/cluster/**', 'test/faults/**', '**/node_modules/**'],
    globalSetup: ['test/setup/redis-server.ts'],
    testTimeout: 20_000,
    hookTimeout: 60_000,
    pool: 'forks'
  }
})
