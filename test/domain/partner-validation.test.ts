// The service on its own, with records written by hand: what an unknown number reads, and that
// the stand-in it leaves never answers yes. The route and its timing: test/routes/partner.test.ts
// and `npm run bench:partner`.
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { appointmentKey } from '../../gateway/domain/allocations.js'
import { requestKey } from '../../gateway/domain/appointment-requests.js'
import { dateOfBirthDigest, fillerDigest } from '../../gateway/domain/identity.js'
import { PartnerValidationService } from '../../gateway/domain/partner-validation.js'
import { createMemoryStores } from '../../gateway/store/memory/index.js'
import type { Stores } from '../../gateway/store/ports.js'

const NUMBER = 'ABCDEFGHJKMNPQRS'
const KEY = Buffer.alloc(32, 9)
const digest = (dob: string) => dateOfBirthDigest(KEY, dob)
const held = { poe: 'nogales', date: '2026-11-24', slot: '08:00', confirmationNumber: NUMBER, confirmBy: '2026-11-25T15:00:00.000Z' }

describe('PartnerValidationService', () => {
  let stores: Stores
  let service: PartnerValidationService

  beforeEach(async () => {
    stores = createMemoryStores()
    service = new PartnerValidationService(stores, { dobDigest: digest, slots: 4 })
    await stores.kv.set(appointmentKey(NUMBER), JSON.stringify({ requestId: 'apr_1', registrationId: 'reg_1', dobs: [digest('1984-12-24'), digest('2010-02-03'), fillerDigest(), fillerDigest()] }))
    await stores.kv.set(requestKey('apr_1'), JSON.stringify({ requestId: 'apr_1', registrationId: 'reg_1', status: 'selected', appointment: held }))
  })
  afterEach(async () => { await stores.close() })

  it('says yes for any holder of a held appointment, whatever the number\'s case and dashes', async () => {
    expect(await service.validate(NUMBER, '1984-12-24')).toBe(true)
    expect(await service.validate('abcd-efgh-jkmn-pqrs', '2010-02-03')).toBe(true)
    expect(await service.validate(NUMBER, '1984-12-25')).toBe(false)
  })

  it('stores the stand-in an unknown number reads, which belongs to nobody and holds nothing', async () => {
    expect(await service.validate('ZZZZZZZZZZZZZZZZ', '1984-12-24')).toBe(false)
    await new Promise((resolve) => setImmediate(resolve))
    expect(JSON.parse(await stores.kv.get(requestKey('reg_none')) as string)).toMatchObject({ owner: '', status: 'withdrawn' })
    expect(await service.validate('ZZZZZZZZZZZZZZZZ', '1984-12-24')).toBe(false)
  })

  it('says no once the request is gone or the appointment no longer held, and keys the dates', async () => {
    await stores.kv.set(requestKey('apr_1'), JSON.stringify({ requestId: 'apr_1', registrationId: 'reg_1', status: 'lapsed', appointment: held }))
    expect(await service.validate(NUMBER, '1984-12-24')).toBe(false)
    await stores.kv.delete(requestKey('apr_1'))
    expect(await service.validate(NUMBER, '1984-12-24')).toBe(false)
    await stores.kv.set(requestKey('apr_1'), JSON.stringify({ requestId: 'apr_1', registrationId: 'reg_1', status: 'confirmed', appointment: held }))
    expect(await service.validate(NUMBER, '1984-12-24')).toBe(true)
    // An index whose request holds another number (left by a crashed draw) leads nowhere.
    await stores.kv.set(requestKey('apr_1'), JSON.stringify({ requestId: 'apr_1', registrationId: 'reg_1', status: 'confirmed', appointment: { ...held, confirmationNumber: 'ZZZZZZZZZZZZZZZZ' } }))
    expect(await service.validate(NUMBER, '1984-12-24')).toBe(false)
    await stores.kv.set(requestKey('apr_1'), JSON.stringify({ requestId: 'apr_1', registrationId: 'reg_1', status: 'confirmed', appointment: held }))
    // Another key's digests match nothing: the index never holds a date in clear.
    const other = new PartnerValidationService(stores, { dobDigest: (dob) => dateOfBirthDigest(Buffer.alloc(32, 1), dob), slots: 4 })
    expect(await other.validate(NUMBER, '1984-12-24')).toBe(false)
    expect(await stores.kv.get(appointmentKey(NUMBER))).not.toContain('1984')
  })

  it('never throws on an index with fewer or malformed slots (written under an older config)', async () => {
    await stores.kv.set(appointmentKey(NUMBER), JSON.stringify({ requestId: 'apr_1', registrationId: 'reg_1', dobs: [digest('1984-12-24'), 'short'] }))
    expect(await service.validate(NUMBER, '1984-12-24')).toBe(true)
    expect(await service.validate(NUMBER, '2010-02-03')).toBe(false)
  })
})
