import { fileURLToPath } from 'node:url'
import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    root: fileURLToPath(new URL('..', import.meta.url)),
    include: ['test/**/*.test.ts'],
    // test/cluster/ is its own run: npm run test:cluster (test/cluster/vitest.config.ts).
    exclude: ['test/cluster/**', '**/node_modules/**'],
    globalSetup: ['test/setup/redis-server.ts'],
    testTimeout: 20_000,
    hookTimeout: 60_000,
    pool: 'forks'
  }
})
