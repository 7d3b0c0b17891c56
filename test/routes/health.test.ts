import { describe, expect, it } from 'vitest'
import { ERRORS } from '../../gateway/errors.js'
import { buildApp, redisStores } from '../helpers/app.js'
import { closedPort } from '../helpers/ports.js'

describe('/healthz and /readyz', () => {
  it('report up and ready on the memory store', async () => {
    const app = await buildApp()
    try {
      expect((await app.inject('/healthz')).json()).toEqual({ status: 'ok' })
      const ready = await app.inject('/readyz')
      expect(ready.statusCode).toBe(200)
      expect(ready.json()).toEqual({ status: 'ready' })
    } finally {
      await app.close()
    }
  })

  it('report ready on a reachable Redis', async () => {
    const app = await buildApp({ stores: await redisStores() })
    try {
      const ready = await app.inject('/readyz')
      expect(ready.statusCode).toBe(200)
    } finally {
      await app.close()
    }
  })

  it('report not ready, with Retry-After, while Redis cannot be reached; healthz stays up', async () => {
    const app = await buildApp({ stores: await redisStores({ url: `redis://127.0.0.1:${await closedPort()}` }) })
    try {
      const ready = await app.inject({ url: '/readyz', headers: { 'accept-language': 'es' } })
      expect(ready.statusCode).toBe(503)
      expect(ready.headers['retry-after']).toBe('5')
      expect(ready.json()).toEqual({ code: 'GW_ERR_STORE_UNAVAILABLE', message: ERRORS.GW_ERR_STORE_UNAVAILABLE.messages.es, retryAfterSeconds: 5 })
      expect((await app.inject('/healthz')).statusCode).toBe(200)
    } finally {
      await app.close()
    }
  })
})
