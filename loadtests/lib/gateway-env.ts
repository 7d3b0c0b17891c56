// What a gateway process started by a bench or the rehearsal needs before it can take traffic: a
// fresh P-256 key pair whose public half it trusts for applicant tokens (the private half signs
// them; asymmetric, never a shared secret), an identity key, and, for a waiting room, an Ed25519
// admission signing key, all as files in the caller's temporary directory; plus the env that
// points the gateway at them and keeps it on 127.0.0.1 with a port of its own choosing.
import { generateKeyPairSync, randomBytes } from 'node:crypto'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'

export interface GatewayKeys {
  /** PKCS#8 PEM of the applicant-token signing key (ES256). */
  privateKeyPem: string
  /** GATEWAY_HOST, GATEWAY_PORT=0, GATEWAY_ACCESS_LOG=false and the key files' variables. */
  env: Record<string, string>
}

/** Writes the key files into `dir` and returns the base env; `waitingRoom` adds the admission key. */
export async function gatewayKeys (dir: string, options: { waitingRoom?: boolean } = {}): Promise<GatewayKeys> {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' })
  const publicKeyFile = join(dir, 'jwt-public.pem')
  await writeFile(publicKeyFile, publicKey.export({ type: 'spki', format: 'pem' }).toString())
  const identityKeyFile = join(dir, 'identity.key')
  await writeFile(identityKeyFile, randomBytes(32))
  const env: Record<string, string> = {
    GATEWAY_HOST: '127.0.0.1',
    GATEWAY_PORT: '0',
    // The listening line is an info log; one line per request would only cost the load.
    GATEWAY_ACCESS_LOG: 'false',
    GATEWAY_AUTH_PUBLIC_KEY_FILE: publicKeyFile,
    GATEWAY_IDENTITY_KEY_FILE: identityKeyFile
  }
  if (options.waitingRoom === true) {
    const signingKeyFile = join(dir, 'admission.pem')
    await writeFile(signingKeyFile, generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }).toString())
    env.GATEWAY_WAITING_ROOM_SIGNING_KEY_FILE = signingKeyFile
  }
  return { privateKeyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), env }
}
