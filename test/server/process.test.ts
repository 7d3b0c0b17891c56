import { spawnSync } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { once } from 'node:events'
import { connect } from 'node:net'
import { setTimeout as sleep } from 'node:timers/promises'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, inject, it } from 'vitest'
import { ERRORS } from '../../gateway/errors.js'
import { SERVER_ENTRY, startGateway, stopGateway, type GatewayProcess } from '../helpers/process.js'
import { publicKeyPem } from '../helpers/tokens.js'

const scratch = mkdtempSync(join(tmpdir(), 'gateway-process-'))
const publicKeyFile = join(scratch, 'jwt.pem')
writeFileSync(publicKeyFile, publicKeyPem)
const devKeyFile = join(scratch, 'dev', 'jwt-dev.json')
const identityKeyFile = join(scratch, 'identity.key')
writeFileSync(identityKeyFile, Buffer.alloc(32, 1))
const devIdentityKeyFile = join(scratch, 'dev', 'identity.key')

describe('the gateway process', () => {
  let gateway: GatewayProcess | undefined
  afterEach(() => stopGateway(gateway))

  it('refuses to start on a bad setting, naming it, before it listens', async () => {
    gateway = startGateway({ GATEWAY_PORT: 'abc' })
    expect(await gateway.exited).toBe(78)
    expect(gateway.stderr()).toContain('server.port (GATEWAY_PORT) must be an integer from 0 to 65535, got "abc"')
    expect(gateway.stdout()).not.toContain('listening')
  })

  it('refuses to start on Redis without token keys: development keys serve the embedded store only', async () => {
    gateway = startGateway({ GATEWAY_PORT: '0', REDIS_URL: inject('redisUrl'), GATEWAY_IDENTITY_KEY_FILE: identityKeyFile })
    expect(await gateway.exited).toBe(78)
    expect(gateway.stderr()).toContain('auth.publicKeyFile (GATEWAY_AUTH_PUBLIC_KEY_FILE) or auth.jwksFile (GATEWAY_AUTH_JWKS_FILE) must be set when REDIS_URL is set')
  })

  it('on the embedded store, makes a development key once; `npm run token` mints a token it accepts', async () => {
    gateway = startGateway({ GATEWAY_PORT: '0', GATEWAY_AUTH_DEV_KEY_FILE: devKeyFile, GATEWAY_DEV_IDENTITY_KEY_FILE: devIdentityKeyFile })
    const base = await gateway.listening
    const minted = spawnSync(process.execPath, [SERVER_ENTRY.replace('server.js', 'dev-token.js'), '--role', 'applicant', '--sub', 'u1'], {
      env: { PATH: process.env.PATH ?? '', GATEWAY_AUTH_DEV_KEY_FILE: devKeyFile },
      encoding: 'utf8'
    })
    expect(minted.status).toBe(0)
    const lines = minted.stdout.split('\n').filter((l) => l !== '')
    expect(lines).toHaveLength(1)
    const res = await fetch(`${base}/v1/schedule`, { headers: { authorization: `Bearer ${lines[0]}`, 'x-device-id': randomUUID() } })
    expect(res.status).toBe(200)
    expect(((await res.json()) as { poes: unknown[] }).poes).toHaveLength(8)
    gateway.child.kill('SIGTERM')
    expect(await gateway.exited).toBe(0)
  })

  it('warns once that the memory store is per-process when REDIS_URL is unset', async () => {
    gateway = startGateway({ GATEWAY_PORT: '0', GATEWAY_AUTH_DEV_KEY_FILE: devKeyFile, GATEWAY_DEV_IDENTITY_KEY_FILE: devIdentityKeyFile })
    const base = await gateway.listening
    expect((await fetch(`${base}/healthz`)).status).toBe(200)
    const warnings = gateway.stdout().split('\n').filter((l) => l.includes('embedded memory store'))
    expect(warnings).toHaveLength(1)
    expect(JSON.parse(warnings[0] as string)).toMatchObject({ level: 40 })
    gateway.child.kill('SIGTERM')
    expect(await gateway.exited).toBe(0)
  })

  it('serves on Redis, prints where things are, and on SIGTERM finishes the request in flight, closes Redis and exits 0', async () => {
    gateway = startGateway({ GATEWAY_PORT: '0', REDIS_URL: inject('redisUrl'), GATEWAY_AUTH_PUBLIC_KEY_FILE: publicKeyFile, GATEWAY_IDENTITY_KEY_FILE: identityKeyFile })
    const base = await gateway.listening
    expect(gateway.stdout()).not.toContain('embedded memory store')
    const listening = gateway.stdout().split('\n').map((l) => l.trim()).filter((l) => l.includes('gateway listening')).map((l) => JSON.parse(l))[0]
    expect(listening).toMatchObject({ metrics: `${base}/metrics`, docs: `${base}/docs`, healthz: `${base}/healthz`, store: 'redis' })

    expect(await (await fetch(`${base}/readyz`)).json()).toEqual({ status: 'ready' })
    const metrics = await fetch(`${base}/metrics`)
    expect(metrics.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8')
    expect(await metrics.text()).toContain('# TYPE http_request_duration_seconds histogram')

    // A request whose body is still arriving when SIGTERM lands.
    const { port } = new URL(base)
    const socket = connect(Number(port), '127.0.0.1')
    await once(socket, 'connect')
    let response = ''
    socket.setEncoding('utf8').on('data', (chunk: string) => { response += chunk })
    const body = '{"members":[1,2,3]}'
    socket.write(`POST /v1/unknown HTTP/1.1\r\nHost: localhost\r\nAccept-Language: ru\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body.slice(0, 8)}`)
    await sleep(100)

    gateway.child.kill('SIGTERM')
    while (!gateway.stdout().includes('closing: finishing in-flight requests')) await sleep(10)
    // The listener is gone: new connections are refused while the old one finishes.
    await expect(fetch(`${base}/healthz`)).rejects.toThrow()
    socket.write(body.slice(8))
    await once(socket, 'close')

    expect(response, response).toMatch(/^HTTP\/1\.1 404 Not Found\r\n/)
    expect(JSON.parse(response.split('\r\n\r\n')[1] ?? '')).toEqual({ code: 'GW_ERR_ROUTE_NOT_FOUND', message: ERRORS.GW_ERR_ROUTE_NOT_FOUND.messages.ru })
    expect(response).toMatch(/\r\nconnection: close\r\n/i)
    expect(await gateway.exited).toBe(0)
    expect(gateway.stdout()).toContain('"msg":"closed"')
  })
})
