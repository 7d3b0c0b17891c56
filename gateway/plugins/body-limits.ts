// Body limits per route: the server's default (GATEWAY_BODY_LIMIT_BYTES, small) for every route
// that sets none of its own (the registration takes one from its schema, the photo upload from the
// photo size), and GATEWAY_ROUTE_BODY_LIMITS over both for the routes it names. A name that matches
// no route stops the boot: a typo would otherwise leave the route on the default in silence.
import fp from 'fastify-plugin'

export interface BodyLimitsOptions {
  /** "METHOD /route/template" to bytes. */
  routes: Readonly<Record<string, number>>
}

export default fp<BodyLimitsOptions>(async function bodyLimits (fastify, opts) {
  const unmatched = new Set(Object.keys(opts.routes))
  fastify.addHook('onRoute', (route) => {
    for (const method of [route.method].flat()) {
      const name = `${method} ${route.url}`
      const limit = opts.routes[name]
      if (limit === undefined) continue
      route.bodyLimit = limit
      unmatched.delete(name)
    }
  })
  fastify.addHook('onReady', async () => {
    if (unmatched.size > 0) throw new Error(`server.routeBodyLimits (GATEWAY_ROUTE_BODY_LIMITS) must name routes of the gateway, got ${[...unmatched].map((n) => JSON.stringify(n)).join(', ')}`)
  })
}, { name: 'body-limits' })
