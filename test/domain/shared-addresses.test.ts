import { afterEach, describe, expect, it } from 'vitest'
import { identityHash } from '../../gateway/domain/identity.js'
import type { Member, RegistrationRecord } from '../../gateway/domain/registrations.js'
import { SharedAddressIndex } from '../../gateway/domain/shared-addresses.js'
import { createMemoryStores } from '../../gateway/store/memory/index.js'
import type { Stores } from '../../gateway/store/ports.js'

const key = Buffer.alloc(32, 5)
const POES = ['laredo', 'nogales']
let stores: Stores
afterEach(async () => { await stores.close() })

let n = 0
function registration (people: Array<{ lastName: string, line1: string }>, at = 1_000): RegistrationRecord {
  n += 1
  const members: Member[] = people.map((p, i) => ({ firstName: `F${n}x${i}`, lastName: p.lastName, dateOfBirth: '1990-01-01', nationality: 'HTI', usAddress: { line1: p.line1, city: 'Laredo', state: 'TX', zip: '78040' } }))
  return { registrationId: `reg_${n}`, owner: 's', createdAt: new Date(at).toISOString(), createdAtMs: at, preferredLanguage: 'es', members, identities: members.map((m) => identityHash(key, m)) }
}

describe('SharedAddressIndex', () => {
  it('pages through addresses the last-name filter drops, and says when the examination cap cut it short', async () => {
    stores = createMemoryStores()
    const build = (maxExamined: number) => new SharedAddressIndex({ stores, identityKey: key, poes: POES, maxExamined, retentionMs: 90 * 86_400_000 })
    const index = build(10_000)
    // 450 families of four at their own addresses (one last name each), then one house of three strangers.
    for (let i = 0; i < 450; i++) await index.recordRegistration(registration([0, 1, 2, 3].map(() => ({ lastName: `Fam${i}`, line1: `${i} Family St` }))))
    const house = registration([{ lastName: 'A', line1: '1 Shared Way' }, { lastName: 'B', line1: '1 shared way' }, { lastName: 'C', line1: '1 Shared Wy' }])
    await index.recordRegistration(house)
    await index.recordRequest(house, 'nogales', 5_000)

    // The house ranks below every family: the walk reads three pages of the ranking to reach it.
    const found = await index.report({ minClaimants: 3, minDistinctLastNames: 2, limit: 10 }, 9_000)
    expect(found.clusters).toEqual([{
      rank: 1,
      addressKey: expect.any(String),
      address: '1 shared way, laredo, tx 78040',
      claimants: 3,
      distinctLastNames: 3,
      registrations: 1,
      perPoe: { laredo: 0, nogales: 3 },
      firstSeen: '1970-01-01T00:00:01.000Z',
      lastSeen: '1970-01-01T00:00:05.000Z'
    }])
    expect(found).toMatchObject({ examined: 451, complete: true })
    expect((await index.report({ minClaimants: 4, minDistinctLastNames: 2, limit: 10 }, 9_000))).toMatchObject({ examined: 450, complete: true, clusters: [] })

    const capped = await build(100).report({ minClaimants: 3, minDistinctLastNames: 2, limit: 10 }, 9_000)
    expect(capped).toMatchObject({ examined: 100, complete: false, clusters: [] })
    expect(capped.generatedAt).toBe('1970-01-01T00:00:09.000Z')
  })
})
