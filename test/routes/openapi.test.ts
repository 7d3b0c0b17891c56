import { describe, expect, it } from 'vitest'
import { buildApp, testConfig } from '../helpers/app.js'

describe('/docs', () => {
  it('serves an OpenAPI 3.1 document generated from the route schemas', async () => {
    const app = await buildApp()
    try {
      const res = await app.inject('/docs/json')
      expect(res.statusCode).toBe(200)
      const doc = res.json()
      expect(doc.openapi).toBe('3.1.0')
      expect(doc.info.title).toBe('Appointment gateway')
      expect(Object.keys(doc.paths)).toEqual(expect.arrayContaining(['/healthz', '/readyz']))
      expect(doc.paths['/readyz'].get.responses['503'].content['application/json'].schema).toEqual({ $ref: '#/components/schemas/ErrorBody' })
      expect(doc.components.schemas.ErrorBody.properties.code.enum).toContain('GW_ERR_STORE_UNAVAILABLE')
      expect(doc.paths).not.toHaveProperty('/metrics')
      const ui = await app.inject('/docs')
      expect(ui.statusCode).toBe(200)
      expect(ui.headers['content-type']).toBe('text/html; charset=utf-8')
    } finally {
      await app.close()
    }
  })

  it('is absent when docs are disabled', async () => {
    const app = await buildApp({ config: testConfig({ GATEWAY_DOCS_ENABLED: 'false' }) })
    try {
      expect((await app.inject('/docs/json')).json().code).toBe('GW_ERR_ROUTE_NOT_FOUND')
    } finally {
      await app.close()
    }
  })
})
