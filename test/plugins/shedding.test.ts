import { setTimeout as sleep } from 'node:timers/promises'
import { describe, expect, it } from 'vitest'
import { ERRORS } from '../../gateway/errors.js'
import { buildApp, testConfig } from '../helpers/app.js'
import { applicant } from '../helpers/tokens.js'

function blockEventLoop (ms: number): void {
  const until = Date.now() + ms
  while (Date.now() < until) { /* the stall a slow synchronous step would cause */ }
}

describe('load shedding', () => {
  it('answers with a localized 503 and Retry-After at once after the event loop stalled, and keeps health answering', async () => {
    const gateway = await buildApp({
      config: testConfig({ GATEWAY_SHED_MAX_EVENT_LOOP_DELAY_MS: '100', GATEWAY_SHED_SAMPLE_INTERVAL_MS: '10', GATEWAY_SHED_RETRY_AFTER_SECONDS: '7' })
    })
    try {
      expect((await gateway.inject({ url: '/v1/schedule', headers: applicant() })).statusCode).toBe(200)
      blockEventLoop(600)
      await sleep(30)
      const shed = await gateway.inject({ url: '/v1/schedule', headers: { ...applicant(), 'accept-language': 'es' } })
      expect(shed.statusCode).toBe(503)
      expect(shed.headers['retry-after']).toBe('7')
      expect(shed.json()).toEqual({ code: 'GW_ERR_SERVER_OVERLOADED', message: ERRORS.GW_ERR_SERVER_OVERLOADED.messages.es, retryAfterSeconds: 7 })
      expect((await gateway.inject('/healthz')).statusCode).toBe(200)
      const metrics = await gateway.inject('/metrics')
      expect(metrics.statusCode).toBe(200)
      expect(metrics.body).toMatch(/^gateway_shed_total\{reason="eventLoopDelay"\} [1-9]\d*$/m)
      // A shed 503 carries Retry-After: a deliberate refusal, outside the availability SLI.
      expect(metrics.body).toContain('gateway_http_deliberate_refusals_total{route="/v1/schedule",method="GET"} 1\n')
    } finally {
      await gateway.close()
    }
  })

  it('exports every shedding reason at 0 from the start', async () => {
    const gateway = await buildApp()
    try {
      const { body } = await gateway.inject('/metrics')
      expect(body.split('\n').filter((l) => l.startsWith('gateway_shed_total'))).toEqual([
        'gateway_shed_total{reason="eventLoopDelay"} 0',
        'gateway_shed_total{reason="eventLoopUtilization"} 0',
        'gateway_shed_total{reason="heapUsedBytes"} 0',
        'gateway_shed_total{reason="rssBytes"} 0'
      ])
    } finally {
      await gateway.close()
    }
  })

  it('does not shed the first requests after a start because the loop was busy booting', async () => {
    const gateway = await buildApp({ config: testConfig({ GATEWAY_SHED_MAX_EVENT_LOOP_DELAY_MS: '1000', GATEWAY_SHED_SAMPLE_INTERVAL_MS: '100' }) })
    try {
      // Busy right up to the first sample, as a process loading its modules is: no sample at all
      // in that interval, which under-pressure reads as an infinite delay.
      blockEventLoop(120)
      await sleep(5)
      expect((await gateway.inject({ url: '/v1/schedule', headers: applicant() })).statusCode).toBe(200)
    } finally {
      await gateway.close()
    }
  })
})
