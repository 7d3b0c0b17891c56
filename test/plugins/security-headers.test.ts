// Security headers (@fastify/helmet) on every answer, set for a JSON API; the two HTML pages keep
// a policy of their own, and the docs UI still works under its policy in a real browser.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Browser } from 'playwright-core'
import type { FastifyInstance } from 'fastify'
import { loadConfig } from '../../config/load.js'
import { DOCS_CSP } from '../../gateway/plugins/openapi.js'
import { API_CSP, apiSecurityHeaders } from '../../gateway/plugins/security-headers.js'
import { launchChromium } from '../helpers/browser.js'
import { buildApp, testConfig } from '../helpers/app.js'
import { applicant, token } from '../helpers/tokens.js'

const COMMON = {
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-resource-policy': 'same-origin',
  'origin-agent-cluster': '?1',
  'x-dns-prefetch-control': 'off',
  'x-download-options': 'noopen',
  'x-permitted-cross-domain-policies': 'none',
  'x-xss-protection': '0',
  'strict-transport-security': 'max-age=31536000; includeSubDomains'
}

describe('security headers', () => {
  let app: FastifyInstance

  beforeAll(async () => {
    app = await buildApp({ config: testConfig({ GATEWAY_WAITING_ROOMS: JSON.stringify([{ name: 'requests', routes: ['GET /v1/schedule'], openings: [new Date(Date.now() - 60_000).toISOString()], preOpenMinutes: 0, activeMinutes: 30, admitPerSecond: 1, maxActive: 1000 }]) }) })
  })
  afterAll(async () => { await app.close() })

  it.each([
    ['a health check', { url: '/healthz' }, 200],
    ['an API answer', { url: '/v1/allocations/2026-11-23', headers: applicant() }, 404],
    ['a refusal before any route (no token)', { url: '/v1/schedule' }, 401],
    ['an unknown route', { url: '/nope' }, 404],
    ['metrics', { url: '/metrics' }, 200],
    ['a body refused before parsing', { method: 'POST' as const, url: '/v1/partner/validations', headers: { authorization: `Bearer ${token({ role: 'partner' })}`, 'content-type': 'application/json' }, payload: 'x'.repeat(20_000) }, 413]
  ])('on %s: the JSON API policy and every hardening header', async (_name, request, status) => {
    const res = await app.inject(request)
    expect(res.statusCode).toBe(status)
    expect(res.headers['content-security-policy']).toBe(API_CSP)
    expect(res.headers).toMatchObject(COMMON)
    expect(res.headers['x-powered-by']).toBeUndefined()
  })

  it('sets the same headers on the router\'s own refusals (a path that does not decode, a parameter too long), which no hook sees', async () => {
    const helmet = Object.fromEntries(Object.entries((await app.inject('/healthz')).headers).filter(([name]) => name in apiSecurityHeaders(31_536_000)))
    expect(helmet).toEqual(apiSecurityHeaders(31_536_000))
    for (const url of ['/v1/registrations/%C0%AF', `/v1/registrations/${'a'.repeat(101)}`]) {
      const res = await app.inject(url)
      expect(res.statusCode, url).toBeLessThan(500)
      expect(res.headers, url).toMatchObject(helmet)
    }
  })

  it('gives the docs UI and its document their own policy, scripts from this origin only', async () => {
    for (const url of ['/docs/', '/docs/json', '/docs/static/swagger-ui-bundle.js', '/docs/static/swagger-initializer.js']) {
      const res = await app.inject(url)
      expect(res.statusCode, url).toBe(200)
      expect(res.headers['content-security-policy'], url).toBe(DOCS_CSP)
      expect(res.headers, url).toMatchObject(COMMON)
    }
    expect(DOCS_CSP).not.toMatch(/unsafe-inline|unsafe-eval/)
  })

  it('leaves the waiting-room page its nonce-based policy, with the other headers', async () => {
    const ticket = (await app.inject({ url: '/v1/schedule', headers: applicant() })).json().ticket as string
    const res = await app.inject({ url: `/waiting-room?room=requests&ticket=${ticket}` })
    expect(res.statusCode).toBe(200)
    expect(res.headers['content-security-policy']).toMatch(/^default-src 'none'; script-src 'nonce-[A-Za-z0-9+/=]{24}'; style-src 'nonce-/)
    expect(res.headers).toMatchObject(COMMON)
  })

  it('leaves Strict-Transport-Security out at GATEWAY_HSTS_MAX_AGE_SECONDS=0, and validates it at boot', async () => {
    const off = await buildApp({ config: testConfig({ GATEWAY_HSTS_MAX_AGE_SECONDS: '0' }) })
    try {
      const res = await off.inject('/healthz')
      expect(res.headers['strict-transport-security']).toBeUndefined()
      expect(res.headers['x-frame-options']).toBe('DENY')
    } finally {
      await off.close()
    }
    expect(() => loadConfig({ env: { GATEWAY_HSTS_MAX_AGE_SECONDS: '-1' } })).toThrow('server.hstsMaxAgeSeconds (GATEWAY_HSTS_MAX_AGE_SECONDS) must be an integer from 0 to 63072000, got -1')
  })
})

describe('the docs UI under its policy in headless Chromium', () => {
  let browser: Browser
  let app: FastifyInstance
  let base: string

  beforeAll(async () => {
    browser = await launchChromium()
    app = await buildApp()
    base = await app.listen({ host: '127.0.0.1', port: 0 })
  }, 60_000)
  afterAll(async () => {
    await browser?.close()
    await app?.close()
  })

  it('renders the operations with no policy violation', async () => {
    const page = await browser.newPage()
    const violations: string[] = []
    page.on('console', (message) => { if (/Content Security Policy|Refused to/i.test(message.text())) violations.push(message.text()) })
    await page.goto(`${base}/docs`)
    await page.waitForSelector('.swagger-ui .info .title', { timeout: 15_000 })
    expect(await page.textContent('.swagger-ui .info .title')).toContain('Appointment gateway')
    await page.waitForSelector('.opblock-summary-path[data-path="/v1/registrations"]', { timeout: 15_000 })
    expect(violations).toEqual([])
  }, 60_000)
})
