// The secret that keys identity hashes. From a file in production; for a laptop on the embedded
// store, made once and kept beside the development token keys.
import { randomBytes } from 'node:crypto'
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { dirname } from 'node:path'
import type { Config } from '../../config/load.js'
import { KeyLoadError } from './keys.js'

export function loadIdentityKey (registrations: Config['registrations']): { key: Buffer, created: boolean } {
  if (registrations.identityKeyFile !== '') {
    try {
      const key = readFileSync(registrations.identityKeyFile)
      if (key.length < 32) throw new Error(`${key.length} bytes`)
      return { key, created: false }
    } catch (err) {
      throw new KeyLoadError(`registrations.identityKeyFile (GATEWAY_IDENTITY_KEY_FILE) must name a readable file of at least 32 bytes (${(err as Error).message})`)
    }
  }
  const file = registrations.devIdentityKeyFile
  try {
    return { key: readFileSync(file), created: false }
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw new KeyLoadError(`registrations.devIdentityKeyFile (GATEWAY_DEV_IDENTITY_KEY_FILE) cannot be read: ${file}`)
  }
  const key = randomBytes(32)
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 })
  writeFileSync(file, key, { mode: 0o600, flag: 'wx' })
  return { key, created: true }
}
