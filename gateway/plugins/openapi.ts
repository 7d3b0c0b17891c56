// The OpenAPI document is generated from the route schemas: /docs/json, with the UI at /docs.
import swagger from '@fastify/swagger'
import swaggerUi from '@fastify/swagger-ui'
import fp from 'fastify-plugin'
import { ErrorBodySchema } from '../schemas/error.js'
import { AppointmentRequestSchema, RegistrationSchema } from '../schemas/registration.js'

/** Content-Security-Policy of every /docs answer. */
// The one hash: an inline style Swagger UI applies as it starts (Chromium names it in its
// violation report; test/plugins/security-headers.test.ts fails on any new one after an upgrade).
export const DOCS_CSP = "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-hashes' 'sha256-RL3ie0nH+Lzz2YNqQN83mnU0J1ot4QL7b99vMdIX99w='; img-src 'self' data:; font-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

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
  // The UI's own policy (it replaces the API's, security-headers.ts): its scripts, styles, fonts
  // and the document from this origin only; data: images are its icons. No inline script runs.
  await fastify.register(swaggerUi, { routePrefix: '/docs', staticCSP: DOCS_CSP })
}, { name: 'openapi' })
