// The rehearsal runner's command line, validated with exact messages.
import { parseArgs } from 'node:util'
import { BEHAVIOURS, type Behaviour } from '../profiles/index.js'

export class OptionError extends Error {}

/** The longest rehearsal the runner drives: the machine is shared, and the run must end by itself. */
export const MAX_DURATION_SECONDS = 30 * 60
const LOOPBACK = /^http:\/\/(127\.0\.0\.1|localhost|\[::1\])(:\d+)?\/?$/

/** Steps of a knee search at most (--steps); each is a full rehearsal. */
export const MAX_KNEE_STEPS = 30
export const DEFAULT_KNEE_STEPS = 12
/** The knee search's default profile: the 2023 failing level's mix and SLOs. */
export const DEFAULT_KNEE_PROFILE = 'steady-480k'

export interface RehearsalOptions {
  profile: string
  /** --find-knee: step the rate up from the profile's (× scale) until an SLO breaks. */
  findKnee: boolean
  /** Knee steps at most. */
  steps: number
  scale: number
  /** undefined: the profile's own (capped at MAX_DURATION_SECONDS). */
  durationSeconds: number | undefined
  client: Behaviour | undefined
  target: string | undefined
}

/** "60s", "10m", "1h" or a number of seconds. */
export function parseDuration (raw: string): number {
  const match = /^(\d+(?:\.\d+)?)(s|m|h)?$/.exec(raw.trim())
  const seconds = match === null ? NaN : Number(match[1]) * (match[2] === 'h' ? 3600 : match[2] === 'm' ? 60 : 1)
  if (!(seconds >= 1 && seconds <= MAX_DURATION_SECONDS) || !Number.isInteger(seconds)) {
    throw new OptionError(`--duration must be a whole number of seconds from 1 to ${MAX_DURATION_SECONDS} such as 60s, 10m or 90, got "${raw}"`)
  }
  return seconds
}

export function parseOptions (args: string[]): RehearsalOptions {
  let values: Record<string, string | undefined>
  try {
    values = parseArgs({
      args,
      options: {
        profile: { type: 'string' },
        scale: { type: 'string' },
        duration: { type: 'string' },
        client: { type: 'string' },
        target: { type: 'string' },
        'find-knee': { type: 'boolean' },
        steps: { type: 'string' }
      },
      strict: true,
      allowPositionals: false
    }).values as Record<string, string | undefined>
  } catch (err) {
    throw new OptionError((err as Error).message)
  }
  const findKnee = (values['find-knee'] as unknown) === true
  if (!findKnee && (values.profile === undefined || values.profile === '')) throw new OptionError('--profile is required, for example --profile steady-480k (or --find-knee)')
  let steps = DEFAULT_KNEE_STEPS
  if (values.steps !== undefined) {
    if (!findKnee) throw new OptionError('--steps goes with --find-knee')
    steps = Number(values.steps)
    if (!/^\d+$/.test(values.steps.trim()) || steps < 2 || steps > MAX_KNEE_STEPS) throw new OptionError(`--steps must be a whole number from 2 to ${MAX_KNEE_STEPS}, got "${values.steps}"`)
  }
  let scale = 1
  if (values.scale !== undefined) {
    scale = Number(values.scale)
    if (values.scale.trim() === '' || !(scale > 0 && scale <= 1)) throw new OptionError(`--scale must be a number greater than 0 and at most 1, got "${values.scale}"`)
  }
  const client = values.client
  if (client !== undefined && !(BEHAVIOURS as readonly string[]).includes(client)) throw new OptionError(`--client must be naive or polite, got "${client}"`)
  const target = values.target
  if (target !== undefined && !LOOPBACK.test(target)) throw new OptionError(`--target must be http://127.0.0.1, http://localhost or http://[::1] with an optional port (rehearsals stay on this machine), got "${target}"`)
  return {
    profile: values.profile === undefined || values.profile === '' ? DEFAULT_KNEE_PROFILE : values.profile,
    findKnee,
    steps,
    scale,
    durationSeconds: values.duration === undefined ? undefined : parseDuration(values.duration),
    client: client as Behaviour | undefined,
    target: target?.replace(/\/$/, '')
  }
}
