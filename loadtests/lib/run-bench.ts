// How a bench process ends: runs main, stops what it started (cleanUp) whether main returns,
// throws or a SIGINT/SIGTERM comes, and exits with main's code (1 on a throw, 130/143 on a
// signal). A bad option is the user's to fix: its message alone; anything else is ours: the
// stack. What fails because an interruption stopped the children is neither.
export async function runBench (main: () => Promise<number>, options: { say: (line: string) => void, cleanUp: () => Promise<void>, isUsageError: (err: unknown) => boolean }): Promise<never> {
  const { say, cleanUp, isUsageError } = options
  let interrupted = false
  for (const [signal, code] of [['SIGINT', 130], ['SIGTERM', 143]] as const) {
    process.once(signal, () => {
      interrupted = true
      say(`${signal}: stopping`)
      cleanUp().finally(() => process.exit(code))
    })
  }
  let code = 1
  try {
    code = await main()
  } catch (err) {
    const usage = isUsageError(err) || (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS') === true
    if (!interrupted) say(usage ? (err as Error).message : (err as Error).stack ?? String(err))
  } finally {
    await cleanUp()
  }
  process.exit(code)
}

/**
 * What a bench started, stopped in reverse order of starting, once, whether the run ends, fails
 * or is interrupted: push a step as each thing starts, hand cleanUp to runBench.
 */
export function cleanupSteps (say: (line: string) => void): { cleanups: Array<() => Promise<void>>, cleanUp: () => Promise<void> } {
  const cleanups: Array<() => Promise<void>> = []
  let cleaning: Promise<void> | undefined
  const cleanUp = async (): Promise<void> => {
    cleaning ??= (async () => {
      for (const step of cleanups.reverse()) await step().catch((err: unknown) => say(`cleaning up: ${(err as Error).message}`))
    })()
    return cleaning
  }
  return { cleanups, cleanUp }
}
