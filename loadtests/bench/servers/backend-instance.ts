// The backend simulator (loadtests/simulators/backend.ts) in a process of its own, for
// delivery-bench: it counts the busiest second at its own clock, which the load generator's
// event loop would otherwise stall, bunching arrivals that were in fact spaced. Asked over IPC,
// never over HTTP: every request the simulator gets counts as an arrival in its busiest second.
// Messages: the parent sends a BackendTask, gets { url }; then BackendQuestion messages, each
// answered by one BackendAnswer. It exits when told to close or when the parent goes away.
import { performance } from 'node:perf_hooks'
import { startBackend, type BackendStats } from '../../simulators/backend.js'

export interface BackendTask {
  latencyMs: number
  failShare: number
}

export type BackendQuestion =
  /** The event ids the gateways should deliver: sent once, when the writes are done. */
  | { kind: 'expect', ids: string[] }
  | { kind: 'progress' }
  | { kind: 'close' }

export interface BackendAnswer {
  stats: BackendStats
  /** Expected ids recorded so far (0 before 'expect'). */
  arrived: number
  /** Recorded ids nobody expected, and a few of them. */
  unexpected: number
  unexpectedSample: string[]
  /** Expected ids not recorded yet, a few of them. */
  missingSample: string[]
  /** When the first and the latest event were recorded, and when 'expect' came, epoch ms at this process's clock. */
  firstRecordedAt: number | undefined
  lastRecordedAt: number | undefined
  expectedAt: number | undefined
  /** Events recorded when 'expect' came: the rest were delivered after the writes were done. */
  recordedBeforeExpect: number
}

// How often the recorded count is looked at, for the first and latest recording times: a
// timestamp inside the simulator would be exact, but it has none to give, and 20 ms is a small
// share of a drain that takes seconds.
const SAMPLE_MS = 20
const now = (): number => performance.timeOrigin + performance.now()

process.once('message', (task: BackendTask) => {
  (async () => {
    const backend = await startBackend({ latencyMs: task.latencyMs, failShare: task.failShare })
    let expected = new Set<string>()
    let expectedAt: number | undefined
    let recordedBeforeExpect = 0
    let recorded = 0
    let firstRecordedAt: number | undefined
    let lastRecordedAt: number | undefined
    const sampler = setInterval(() => {
      const accepted = backend.stats().accepted
      if (accepted === recorded) return
      recorded = accepted
      firstRecordedAt ??= now()
      lastRecordedAt = now()
    }, SAMPLE_MS)

    const answer = (): BackendAnswer => {
      const received = backend.received()
      let arrived = 0
      const unexpectedIds: string[] = []
      for (const key of received.keys()) {
        if (expected.has(key)) arrived++
        else unexpectedIds.push(key)
      }
      const missingSample: string[] = []
      for (const id of expected) {
        if (missingSample.length >= 5) break
        if (!received.has(id)) missingSample.push(id)
      }
      return {
        stats: backend.stats(),
        arrived,
        unexpected: expectedAt === undefined ? 0 : unexpectedIds.length,
        unexpectedSample: expectedAt === undefined ? [] : unexpectedIds.slice(0, 5),
        missingSample,
        firstRecordedAt,
        lastRecordedAt,
        expectedAt,
        recordedBeforeExpect
      }
    }

    const close = async (): Promise<void> => {
      clearInterval(sampler)
      await backend.close()
      process.exit(0)
    }
    // Never outlive the benchmark, however it ended.
    process.once('disconnect', () => { close().catch(() => process.exit(1)) })
    process.on('message', (question: BackendQuestion) => {
      if (question.kind === 'close') {
        close().catch(() => process.exit(1))
        return
      }
      if (question.kind === 'expect') {
        expected = new Set(question.ids)
        expectedAt = now()
        recordedBeforeExpect = backend.stats().accepted
      }
      process.send?.(answer())
    })
    process.send?.({ url: backend.url })
  })().catch((err: unknown) => {
    process.stderr.write(`backend-instance: ${err instanceof Error ? err.message : String(err)}\n`)
    process.exit(1)
  })
})
