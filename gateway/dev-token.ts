// `npm run token -- --role applicant --sub u1`: mints a bearer token signed with the development
// key pair that `npm start` uses when no key is configured. The token is the only line on stdout.
import { parseArgs } from 'node:util'
import { createSigner } from 'fast-jwt'
import { ConfigError, loadConfig } from '../config/load.js'
import { devKeyPair } from './auth/keys.js'
import { ROLES, type Role } from './plugins/auth.js'

function fail (message: string): never {
  process.stderr.write(`token: ${message}\n`)
  process.exit(2)
}

const { values } = parseArgs({
  options: {
    role: { type: 'string', default: 'applicant' },
    sub: { type: 'string', default: 'dev-user' },
    'expires-in': { type: 'string', default: '3600' }
  }
})

if (!ROLES.includes(values.role as Role)) fail(`--role must be one of ${ROLES.join(', ')}`)
const expiresIn = Number(values['expires-in'])
if (!Number.isInteger(expiresIn) || expiresIn < 1) fail('--expires-in must be a positive number of seconds')

let config
try {
  config = loadConfig()
} catch (err) {
  if (err instanceof ConfigError) fail(err.message)
  throw err
}
if (config.auth.publicKeyFile !== '' || config.auth.jwksFile !== '') fail('keys are configured: tokens come from your identity provider, not from here')

const { pair } = devKeyPair(config.auth.devKeyFile)
const sign = createSigner({ key: pair.privateKeyPem, algorithm: pair.algorithm, kid: pair.kid, expiresIn: expiresIn * 1000 })
process.stdout.write(`${sign({ sub: values.sub, [config.auth.roleClaim]: values.role, iss: config.auth.issuer, aud: config.auth.audience })}\n`)
