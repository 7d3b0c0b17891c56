// `npm run test:faults`: the fault suite (test/faults/), apart from `npm test` because each file
// starts its own processes (gateways, redis-server, simulators) and kills some of them, and its
// counts need the machine to itself; run by .ci/run after `npm run test:cluster`. One file at a
// time, with the suite's redis-server as `npm test` has it.
import { fileURLToPath } from 'node:url'
import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    root: fileURLToPath(new URL('../..', import.meta.url)),
    include: ['test/faults/**/*.test.ts'],
    globalSetup: ['test/setup/redis-server.ts'],
    testTimeout: 20_000,
    hookTimeout: 60_000,
    pool: 'forks',
    fileParallelism: false
  }
})
