// The rehearsal profiles on the Node side: read loadtests/profiles/<name>.json and validate it
// with the same rules k6 applies (model.js). The future Node runner and the tests load profiles
// through here; k6 reads the same files with open().
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { ProfileError, validateProfile, type Profile } from './model.js'

export * from './model.js'

/** The folder the profile files live in (beside this module, in the source tree and in dist/). */
export const PROFILES_DIR = fileURLToPath(new URL('./', import.meta.url))

const NAME = /^[a-z][a-z0-9-]{0,31}$/

/** Names of every profile file in `dir`, sorted. */
export function profileNames (dir: string = PROFILES_DIR): string[] {
  return readdirSync(dir).filter((file) => file.endsWith('.json')).map((file) => file.slice(0, -'.json'.length)).sort()
}

/** Reads and validates loadtests/profiles/<name>.json; throws ProfileError with an exact message. */
export function loadProfile (name: string, dir: string = PROFILES_DIR): Profile {
  if (!NAME.test(name)) throw new ProfileError(`profile name must be a lower-case slug of letters, digits and dashes, got "${name}"`)
  const file = `${name}.json`
  let text: string
  try {
    text = readFileSync(join(dir, file), 'utf8')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new ProfileError(`no profile ${name}: ${file} is not in ${dir} (there are ${profileNames(dir).join(', ')})`)
    throw err
  }
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch (err) {
    throw new ProfileError(`${file}: not valid JSON (${(err as Error).message})`)
  }
  return validateProfile(parsed, file, name)
}
