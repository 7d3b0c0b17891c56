// Vary lists every request header an answer depends on; each part of the gateway that picks an
// answer by a header adds its own (@fastify/cors adds Origin in onRequest, the error handler
// Accept-Language, the shared-address report Accept). Setting the header would drop the others: a
// cache could then serve one origin's answer to another.
import type { FastifyReply } from 'fastify'

/** Adds `field` to the reply's Vary header, keeping what is there (no duplicate; `*` stays `*`). */
export function appendVary (reply: FastifyReply, field: string): FastifyReply {
  const current = reply.getHeader('vary')
  const listed = (Array.isArray(current) ? current.join(',') : current === undefined ? '' : String(current))
    .split(',').map((name) => name.trim()).filter((name) => name !== '')
  if (listed.includes('*') || listed.some((name) => name.toLowerCase() === field.toLowerCase())) return reply
  return reply.header('vary', [...listed, field].join(', '))
}
