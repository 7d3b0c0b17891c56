// Security headers on every answer (@fastify/helmet), set for a JSON API: a Content-Security-Policy
// that lets nothing load or run, no framing, no sniffing, no referrer. The two HTML pages set a
// policy of their own that wins over this one: the waiting-room page (nonce-based, see
// routes/waiting-rooms/page.ts) and the docs UI (scripts and styles from itself only, openapi.ts).
import helmet from '@fastify/helmet'
import fp from 'fastify-plugin'

export interface SecurityHeadersOptions {
  /** Strict-Transport-Security max-age; 0 leaves the header out. */
  hstsMaxAgeSeconds: number
}

/** The policy of every JSON answer: a browser that renders one loads and runs nothing. */
export const API_CSP = "default-src 'none';base-uri 'none';form-action 'none';frame-ancestors 'none'"

/**
 * The headers the plugin below sets on a JSON answer, for the few answers no hook sees (the router's
 * own refusals, server-options.ts); test/plugins/security-headers.test.ts holds the two equal.
 */
export function apiSecurityHeaders (hstsMaxAgeSeconds: number): Record<string, string> {
  return {
    'content-security-policy': API_CSP,
    'cross-origin-opener-policy': 'same-origin',
    'cross-origin-resource-policy': 'same-origin',
    'origin-agent-cluster': '?1',
    'referrer-policy': 'no-referrer',
    ...(hstsMaxAgeSeconds === 0 ? {} : { 'strict-transport-security': `max-age=${hstsMaxAgeSeconds}; includeSubDomains` }),
    'x-content-type-options': 'nosniff',
    'x-dns-prefetch-control': 'off',
    'x-download-options': 'noopen',
    'x-frame-options': 'DENY',
    'x-permitted-cross-domain-policies': 'none',
    'x-xss-protection': '0'
  }
}

export default fp<SecurityHeadersOptions>(async function securityHeaders (fastify, opts) {
  await fastify.register(helmet, {
    global: true,
    contentSecurityPolicy: {
      useDefaults: false,
      directives: { defaultSrc: ["'none'"], baseUri: ["'none'"], formAction: ["'none'"], frameAncestors: ["'none'"] }
    },
    frameguard: { action: 'deny' },
    referrerPolicy: { policy: 'no-referrer' },
    // The API is read cross-origin only through CORS (an allow-list, plugins/cors.ts); CORP
    // same-origin stops other sites embedding answers without it.
    crossOriginResourcePolicy: { policy: 'same-origin' },
    strictTransportSecurity: opts.hstsMaxAgeSeconds === 0 ? false : { maxAge: opts.hstsMaxAgeSeconds, includeSubDomains: true }
  })
}, { name: 'security-headers' })
