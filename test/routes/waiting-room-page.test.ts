// The waiting-room page end to end: a real gateway on loopback, its real WebSocket server, and
// headless Chromium showing the place in line, in the browser's language, moving up as the room
// admits, then the admission.
import { randomUUID } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Browser } from 'playwright-core'
import type { FastifyInstance } from 'fastify'
import { PAGE_TEXT } from '../../gateway/routes/waiting-rooms/page-text.js'
import { launchChromium } from '../helpers/browser.js'
import { buildApp, redisStores, testConfig } from '../helpers/app.js'
import { applicant } from '../helpers/tokens.js'

describe('waiting-room page in headless Chromium', () => {
  let browser: Browser
  let gateway: FastifyInstance
  let base: string

  beforeAll(async () => {
    browser = await launchChromium()
    gateway = await buildApp({
      stores: await redisStores(),
      config: testConfig({
        GATEWAY_RATE_LIMIT_RULES: '[]',
        GATEWAY_WAITING_ROOM_AUTO_ADMIT: 'true',
        GATEWAY_WAITING_ROOMS: JSON.stringify([{ name: 'requests', routes: ['GET /v1/schedule'], openings: [new Date(Date.now() - 60_000).toISOString()], preOpenMinutes: 0, activeMinutes: 30, admitPerSecond: 1, maxActive: 1000 }])
      })
    })
    base = await gateway.listen({ host: '127.0.0.1', port: 0 })
  }, 60_000)
  afterAll(async () => {
    await browser?.close()
    await gateway?.close()
  })

  it('shows the place in line from a real WebSocket, moving up as others are admitted, then the turn', async () => {
    // Five people ahead, asked at once; the room admits one a second.
    await Promise.all(Array.from({ length: 5 }, async () => gateway.inject({ url: '/v1/schedule', headers: applicant(randomUUID(), { sub: randomUUID() }) })))
    const mine = (await gateway.inject({ url: '/v1/schedule', headers: applicant(randomUUID(), { sub: randomUUID() }) })).json()
    expect(mine.status).toBe('waiting')

    const context = await browser.newContext({ locale: 'ht-HT', extraHTTPHeaders: { 'accept-language': 'ht' } })
    const page = await context.newPage()
    await page.goto(`${base}${mine.pageUrl as string}&return=/v1/schedule`)
    expect(await page.title()).toBe(PAGE_TEXT.ht.title)
    // A first place, then a better one: the page moves without a reload.
    // Read through the DOM (selectors and attributes): the page's CSP forbids evaluating strings.
    await page.waitForSelector('body[data-position]', { timeout: 10_000 })
    const first = Number(await page.getAttribute('body', 'data-position'))
    expect(await page.textContent('#position')).toBe(PAGE_TEXT.ht.position.replace('{n}', String(first)))
    const seen = [first]
    const until = Date.now() + 15_000
    while (await page.getAttribute('body', 'data-admitted') !== 'true' && Date.now() < until) {
      const now = await page.getAttribute('body', 'data-position')
      if (now !== null && Number(now) !== seen.at(-1)) seen.push(Number(now))
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
    expect(await page.getAttribute('body', 'data-admitted')).toBe('true')
    // It moved up without a reload, never down.
    expect(first).toBeGreaterThan(1)
    expect(seen.length).toBeGreaterThan(1)
    expect([...seen].sort((a, b) => b - a)).toEqual(seen)
    expect(await page.textContent('#position')).toBe(PAGE_TEXT.ht.admitted)
    expect(await page.getAttribute('#continue', 'href')).toBe('/v1/schedule')
    expect(await page.textContent('#continue')).toBe(PAGE_TEXT.ht.continue)
    // A function (not a string) runs through the debugging protocol, outside the page's CSP.
    const token = await page.evaluate(() => (globalThis as unknown as { sessionStorage: { getItem(k: string): string | null } }).sessionStorage.getItem('admission-token:requests'))
    expect(token).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+$/)
    await context.close()
  }, 40_000)
})
