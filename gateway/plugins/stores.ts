import fp from 'fastify-plugin'
import type { Stores } from '../store/ports.js'

declare module 'fastify' {
  interface FastifyInstance {
    /** The state ports (memory or Redis); routes reach them only through domain code. */
    stores: Stores
  }
}

export interface StoresPluginOptions {
  stores: Stores
}

export default fp<StoresPluginOptions>(async function stores (fastify, opts) {
  fastify.decorate('stores', opts.stores)
  fastify.addHook('onClose', async () => { await opts.stores.close() })
}, { name: 'stores' })
