// npm run rehearsal -- --profile steady-480k [--scale 0.1] [--duration 60s] [--client naive|polite] [--target URL]
// npm run rehearsal -- --find-knee [--profile steady-480k] [--scale 1] [--duration 30s] [--steps 12]
// The Node rehearsal runner, for machines without k6: it reads the same profiles
// (loadtests/profiles/*.json through model.js), starts its own stack on 127.0.0.1 unless --target
// is given (stack.ts), and runs one rehearsal (rehearse.ts) or a knee search (knee.ts), which is
// a rehearsal per step at rising rates against the same stack.
// A rehearsal prints a table, writes rehearsal-report/<profile>-<time>/summary.json and
// report.html, and ends with the line
//   rehearsal: profile=<name> scale=<s> tx=<n> tx_per_h=<n> p99_ms=<n> errors_5xx=<n> lost=<n> verdict=PASS|FAIL
// (exit 0 on PASS, 1 on FAIL). The gateway's stdout and stderr are kept in
// rehearsal-report/gateway-<profile>-<time>.log and scanned for the personal data the run sent
// (loadtests/lib/pii-scan.ts); the line before the last says what it found, and a find fails the
// run (exit 1). A knee search prints its steps, writes
// rehearsal-report/knee-<profile>-<time>/ and ends with the line
//   knee: tx_per_s=<n> tx_per_h=<n> x480k=<ratio> cpu_us_per_req=<n>
// (exit 0 when a failing step bracketed the knee, 1 when none did). Exit 2 on a bad option or a
// run that could not start.
import { mkdir, readFile } from 'node:fs/promises'
import { cpus } from 'node:os'
import { dirname, resolve } from 'node:path'
import { formatHits, scanFiles } from '../lib/pii-scan.js'
import { ProfileError, constantRate, durationSeconds as profileDuration, loadProfile, timeUnitSeconds, type Profile } from '../profiles/index.js'
import { rehearsalNeedles } from './driver.js'
import { findKnee } from './knee.js'
import { MAX_DURATION_SECONDS, OptionError, parseOptions } from './options.js'
import { plan, rehearse } from './rehearse.js'
import { startStack, type Stack } from './stack.js'

const say = (line: string): void => { process.stderr.write(`rehearsal: ${line}\n`) }

/** A knee step's default length: long enough for p99 to mean something, short enough for a dozen steps. */
const KNEE_STEP_SECONDS = 30

async function main (): Promise<number> {
  const options = parseOptions(process.argv.slice(2))
  let profile: Profile
  try {
    profile = loadProfile(options.profile)
  } catch (err) {
    if (err instanceof ProfileError) throw new OptionError(err.message)
    throw err
  }
  if (options.findKnee && profile.arrival.kind !== 'constant') {
    throw new OptionError(`--find-knee needs a constant-rate profile (steady-240k, steady-360k, steady-480k or soak), got ${profile.name}`)
  }
  const behaviour = options.client ?? profile.client.behaviour
  const own = profileDuration(profile)
  const seconds = options.findKnee
    ? options.durationSeconds ?? KNEE_STEP_SECONDS
    : Math.min(options.durationSeconds ?? own, own, MAX_DURATION_SECONDS)
  if (!options.findKnee && options.durationSeconds === undefined && own > MAX_DURATION_SECONDS) say(`${profile.name} lasts ${own} s; driving its first ${MAX_DURATION_SECONDS} s (the runner's bound)`)
  // Validate the load before starting anything.
  plan(profile, options.scale, seconds, 0)

  let stack: Stack | undefined
  // An object, so that loops see it change from the signal handler.
  const run = { interrupted: false }
  const onSignal = (): void => {
    if (run.interrupted) {
      say('interrupted twice: stopping now')
      const stopping = stack === undefined ? Promise.resolve() : stack.stop()
      stopping.finally(() => process.exit(130)).catch(() => process.exit(130))
      return
    }
    run.interrupted = true
    say('interrupted: no new arrivals; finishing those in flight, then stopping everything')
  }
  process.on('SIGINT', onSignal)
  process.on('SIGTERM', onSignal)

  const surge = profile.arrival.kind === 'surge' ? profile.arrival : undefined
  let opensAt: number | undefined
  if (surge !== undefined && options.target === undefined && surge.opening.source !== 'now') {
    // The opening on a whole minute (the gateway's schedule is HH:MM), far enough ahead for the
    // stack to start and the tokens to be minted before the lead-in.
    const earliest = Date.now() + (surge.leadSeconds + 20) * 1000
    opensAt = Math.ceil(earliest / 60_000) * 60_000
  }
  // The gateway's own output is kept beside the reports, then scanned for personal data once it
  // has exited (with --target the gateway is someone else's, and so are its logs).
  const gatewayLog = options.target === undefined ? resolve('rehearsal-report', `gateway-${options.findKnee ? 'knee-' : ''}${profile.name}-${new Date().toISOString().replace(/[:.]/g, '-')}.log`) : undefined
  let result: { lines: string[], code: number }
  try {
    let baseUrl: string
    let privateKeyPem: string | undefined
    if (options.target === undefined) {
      if (gatewayLog !== undefined) await mkdir(dirname(gatewayLog), { recursive: true })
      stack = await startStack({ opensAt, waitingRoom: surge !== undefined, ...(gatewayLog === undefined ? {} : { gatewayLogFile: gatewayLog }) }, say)
      baseUrl = stack.url
      privateKeyPem = stack.privateKeyPem
    } else {
      baseUrl = options.target
      const file = process.env.REHEARSAL_PRIVATE_KEY_FILE
      if (file === undefined || file === '') throw new OptionError('--target needs REHEARSAL_PRIVATE_KEY_FILE: the PEM private key whose public half the gateway has in GATEWAY_AUTH_PUBLIC_KEY_FILE')
      privateKeyPem = await readFile(file, 'utf8')
    }
    const common = { seconds, behaviour, baseUrl, privateKeyPem, stack, interrupted: () => run.interrupted, say }

    if (options.findKnee) {
      const unit = profile.arrival.kind === 'constant' ? timeUnitSeconds(profile.arrival.timeUnit) : 1
      const outcome = await findKnee({
        ...common,
        profile,
        startPerSecond: constantRate(profile, options.scale) / unit,
        maxSteps: options.steps,
        machine: `${cpus().length} x ${cpus()[0]?.model ?? 'cpu'}, node ${process.version}`
      })
      result = { lines: [...outcome.table, outcome.line], code: outcome.found ? 0 : 1 }
    } else {
      const outcome = await rehearse({ ...common, profile, scale: options.scale, opensAt })
      result = { lines: [...outcome.table, outcome.line], code: outcome.summary.verdict === 'PASS' ? 0 : 1 }
    }
  } finally {
    await stack?.stop()
  }
  if (gatewayLog !== undefined) {
    // Where and what kind, never the datum; any hit fails the run.
    const hits = await scanFiles([gatewayLog], rehearsalNeedles())
    result.lines.splice(result.lines.length - 1, 0, hits.length === 0 ? `pii-scan: no personal data in the gateway's log ${gatewayLog}` : formatHits(hits))
    if (hits.length > 0) result.code = 1
  }
  process.stdout.write(result.lines.join('\n') + '\n')
  return result.code
}

main().then((code) => { process.exitCode = code }, (err: unknown) => {
  if (err instanceof OptionError) process.stderr.write(`rehearsal: ${err.message}\n`)
  else process.stderr.write(`rehearsal: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`)
  process.exitCode = 2
}).finally(() => {
  // Sockets or timers left by a failed run must not keep the process up.
  setTimeout(() => process.exit(), 1_000).unref()
})
