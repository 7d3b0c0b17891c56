// appendVary adds to Vary without dropping what another part of the gateway put there.
import Fastify from 'fastify'
import { describe, expect, it } from 'vitest'
import { appendVary } from '../../gateway/lib/vary.js'

async function varyAfter (before: string | undefined, field: string): Promise<string | undefined> {
  const app = Fastify()
  app.get('/', async (_request, reply) => {
    if (before !== undefined) reply.header('vary', before)
    appendVary(reply, field)
    return {}
  })
  try {
    const vary = (await app.inject('/')).headers.vary
    return vary === undefined ? undefined : String(vary)
  } finally {
    await app.close()
  }
}

describe('appendVary', () => {
  it.each([
    [undefined, 'Accept-Language', 'Accept-Language'],
    ['Origin', 'Accept-Language', 'Origin, Accept-Language'],
    ['Origin, Accept-Language', 'Accept', 'Origin, Accept-Language, Accept'],
    ['origin,accept-language', 'Accept-Language', 'origin,accept-language'],
    ['*', 'Accept', '*']
  ])('Vary %j plus %s gives %j', async (before, field, after) => {
    expect(await varyAfter(before, field)).toBe(after)
  })
})
