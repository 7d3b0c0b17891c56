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
      // The registration routes, with their bodies and error answers.
      expect(Object.keys(doc.paths)).toEqual(expect.arrayContaining(['/v1/registrations', '/v1/registrations/{id}', '/v1/appointment-requests', '/v1/appointment-requests/{id}']))
      const create = doc.paths['/v1/registrations'].post
      expect(create.requestBody.content['application/json'].schema.properties.members.maxItems).toBe(8)
      expect(Object.keys(create.responses).sort()).toEqual(['201', '400', '401', '403', '409', '422', '429', '503'])
      expect(create.responses['409'].content['application/json'].schema).toEqual({ $ref: '#/components/schemas/ErrorBody' })
      expect(doc.paths['/v1/appointment-requests'].post.requestBody.content['application/json'].schema.properties.poe.enum).toHaveLength(8)
      expect(doc.paths['/v1/registrations/{id}'].delete.responses['200'].content['application/json'].schema.properties.status.enum).toEqual(['withdrawn'])
      expect(doc.paths['/v1/appointment-requests/{id}'].get.responses['404'].content['application/json'].schema).toEqual({ $ref: '#/components/schemas/ErrorBody' })
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
