// A gateway process killed (SIGKILL) in the middle of delivering, then started again: nothing is
// lost, and what the backend sees twice is only ever the same Idempotency-Key again.
import { randomUUID } from 'node:crypto'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, inject, it } from 'vitest'
import type { OutboxEvent } from '../../gateway/store/ports.js'
import { startBackend, type BackendSimulator } from '../../loadtests/simulators/backend.js'
import { redisStores, uniquePrefix } from '../helpers/app.js'
import { startGateway, stopGateway, type GatewayProcess } from '../helpers/process.js'
import { publicKeyPem } from '../helpers/tokens.js'

const scratch = mkdtempSync(join(tmpdir(), 'gateway-delivery-crash-'))
writeFileSync(join(scratch, 'jwt.pem'), publicKeyPem)
writeFileSync(join(scratch, 'identity.key'), Buffer.alloc(32, 3))

const waitFor = async (what: () => boolean, ms: number) => {
  const until = Date.now() + ms
  while (Date.now() < until) {
    if (what()) return
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  throw new Error(`not within ${ms} ms`)
}

describe('delivery across a crash of the gateway process', () => {
  let gateway: GatewayProcess | undefined
  let backend: BackendSimulator | undefined
  afterEach(async () => {
    stopGateway(gateway)
    await backend?.close()
  })

  it('SIGKILL mid-delivery, restart: every event arrives, repeats only as the same key', async () => {
    backend = await startBackend({ latencyMs: 20 })
    const keyPrefix = uniquePrefix()
    const env = {
      GATEWAY_PORT: '0',
      REDIS_URL: inject('redisUrl'),
      GATEWAY_REDIS_KEY_PREFIX: keyPrefix,
      GATEWAY_AUTH_PUBLIC_KEY_FILE: join(scratch, 'jwt.pem'),
      GATEWAY_IDENTITY_KEY_FILE: join(scratch, 'identity.key'),
      GATEWAY_DELIVERY_URL: `${backend.url}/events`,
      GATEWAY_DELIVERY_RATE_PER_SECOND: '100',
      GATEWAY_DELIVERY_CLAIM_IDLE_MS: '1000'
    }
    // The events wait in the outbox before any gateway runs.
    const stores = await redisStores({ keyPrefix })
    const ids: string[] = []
    for (let i = 0; i < 300; i++) {
      const event: OutboxEvent = { id: `evt_${i}_${randomUUID()}`, type: 'registration.created', time: Date.now(), payload: JSON.stringify({ n: i }) }
      ids.push(event.id)
      await stores.outbox.append(event, `reg_${i}`)
    }
    gateway = startGateway(env)
    await gateway.listening
    await waitFor(() => (backend as BackendSimulator).stats().accepted >= 60, 20_000).catch((err: unknown) => {
      throw new Error(`${(err as Error).message}: ${JSON.stringify((backend as BackendSimulator).stats())}\n${(gateway as GatewayProcess).stdout().slice(-2000)}\n${(gateway as GatewayProcess).stderr().slice(-2000)}`)
    })
    gateway.child.kill('SIGKILL')
    expect(await gateway.exited).toBe('SIGKILL')
    const atCrash = backend.stats().accepted
    expect(atCrash).toBeLessThan(300)

    gateway = startGateway(env)
    await gateway.listening
    await waitFor(() => (backend as BackendSimulator).stats().accepted >= 300, 30_000)
    const stats = backend.stats()
    expect(stats.accepted).toBe(300)
    expect([...backend.received().keys()].sort()).toEqual([...ids].sort())
    // What the killed process had delivered but not yet acknowledged is taken over after the
    // claim idle time and sent again: the backend sees the same key again, never a new event.
    const until = Date.now() + 15_000
    while ((await stores.outbox.stats()).depth > 0 && Date.now() < until) await new Promise((resolve) => setTimeout(resolve, 100))
    expect((await stores.outbox.stats()).depth).toBe(0)
    const after = backend.stats()
    expect(after.accepted).toBe(300)
    expect(after.distinctKeys).toBe(300)
    // At most what was in flight when it died: GATEWAY_DELIVERY_MAX_CONCURRENT (16).
    expect(after.duplicates).toBeLessThanOrEqual(16)
    await stores.close()
  }, 60_000)
})
