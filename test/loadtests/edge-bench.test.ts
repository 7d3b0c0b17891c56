// The edge benchmark must keep running and keep its last line: a one-second smoke run on
// loopback (the figures themselves belong to `npm run bench:edge`, not to a test).
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'

const BENCH = fileURLToPath(new URL('../../dist/loadtests/bench/edge-bench.js', import.meta.url))

describe('npm run bench:edge', () => {
  it('measures the three servers and ends with the edge-bench line', async () => {
    const child = spawn(process.execPath, [BENCH], {
      env: {
        PATH: process.env.PATH ?? '',
        // Other test files share the cores: a stalled loop must not shed this smoke run's requests.
        GATEWAY_SHED_MAX_EVENT_LOOP_DELAY_MS: '0',
        BENCH_DURATION: '1',
        BENCH_WARMUP: '0',
        BENCH_CONNECTIONS: '4',
        BENCH_DEVICES: '500',
        BENCH_GENERATOR: 'autocannon'
      },
      stdio: ['ignore', 'pipe', 'pipe']
    })
    let out = ''
    child.stdout.setEncoding('utf8').on('data', (c: string) => { out += c })
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve))
    expect(code).toBe(0)
    const lines = out.trim().split('\n')
    expect(lines.at(-1)).toMatch(/^edge-bench: bare=\d+ frl_redis=\d+ gateway=\d+ gateway_vs_bare=\d+\.\d\d gateway_vs_frl=\d+\.\d\d$/)
    // Every server answered, and none refused a request: the comparison is like for like.
    for (const name of ['bare', 'frl_redis', 'gateway']) expect(out, out).toMatch(new RegExp(`^\\| ${name} \\| \\d+ \\| [1-9]\\d* \\| 0 \\|`, 'm'))
  }, 60_000)
})
