// The OpenAPI document is generated from the route schemas: /docs/json, with the UI at /docs.
import swagger from '@fastify/swagger'
import swaggerUi from '@fastify/swagger-ui'
import fp from 'fastify-plugin'
import { ErrorBodySchema } from '../schemas/error.js'
import { AppointmentRequestSchema, RegistrationSchema } from '../schemas/registration.js'

export interface OpenApiOptions {
  enabled: boolean
  version: string
}

export default fp<OpenApiOptions>(async function openapi (fastify, opts) {
  // Shared schemas are registered even without docs: routes reference them by $ref.
  fastify.addSchema(ErrorBodySchema)
  fastify.addSchema(RegistrationSchema)
  fastify.addSchema(AppointmentRequestSchema)
  if (!opts.enabled) return
  await fastify.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'Appointment gateway',
        description: 'Public edge for registrations, appointment requests and confirmations. Every error body is { code, message, retryAfterSeconds?, fields? } in the language chosen by Accept-Language (en, es, ht, ru).',
        version: opts.version
      },
      tags: [
        { name: 'health', description: 'Liveness and readiness' },
        { name: 'schedule', description: 'When requests are accepted and drawn' },
        { name: 'registrations', description: 'Groups that ask for appointments' },
        { name: 'appointment requests', description: 'Requests in a day\'s pool' },
        { name: 'ops', description: 'Officers and operators' },
        { name: 'partner', description: 'Partner agencies: yes-or-no appointment checks' }
      ],
      components: {
        securitySchemes: {
          bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT', description: 'Signed by the identity provider; the role claim decides which routes answer. Applicant routes also need X-Device-Id (a UUID).' }
        }
      }
    },
    // Shared schemas keep their $id as their name under components/schemas (ErrorBody, ...).
    refResolver: {
      buildLocalReference: (json, _baseUri, _fragment, i) => typeof json.$id === 'string' ? json.$id : `def-${i}`
    }
  })
  await fastify.register(swaggerUi, { routePrefix: '/docs' })
}, { name: 'openapi' })
