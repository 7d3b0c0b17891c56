import { describe, expect, it } from 'vitest'
import { addressKey, displayAddress, lastNameKey, normaliseAddress, normaliseStreet, normaliseZip, openAddress, sealAddress, type UsAddress } from '../../gateway/domain/address.js'

const key = Buffer.alloc(32, 9)
const at = (line1: string, extra: Partial<UsAddress> = {}): UsAddress => ({ line1, city: 'Brockton', state: 'MA', zip: '02301', ...extra })

describe('normaliseStreet', () => {
  it.each([
    // Suffixes, case, punctuation, spacing.
    ['123 Main Street', undefined, '123 main st'],
    ['123 MAIN ST.', undefined, '123 main st'],
    ['123  main   st', undefined, '123 main st'],
    ['123 Main Str', undefined, '123 main st'],
    ['45 Ocean Avenue', undefined, '45 ocean ave'],
    ['45 Ocean Av.', undefined, '45 ocean ave'],
    ['7 Willow Road', undefined, '7 willow rd'],
    ['7 Willow Rd.', undefined, '7 willow rd'],
    ['900 Sunset Boulevard', undefined, '900 sunset blvd'],
    ['900 Sunset Blvd', undefined, '900 sunset blvd'],
    ['18 Pine Lane', undefined, '18 pine ln'],
    ['3 Harbor Court', undefined, '3 harbor ct'],
    ['3 Harbor Ct', undefined, '3 harbor ct'],
    ['66 Mission Place', undefined, '66 mission pl'],
    ['2 Oak Drive', undefined, '2 oak dr'],
    ['1200 Blue Ridge Parkway', undefined, '1200 blue ridge pkwy'],
    ['4417 Magnolia Crescent', undefined, '4417 magnolia cres'],
    ['88 Quonset Wy', undefined, '88 quonset way'],
    // Directions, spelled out, abbreviated or dotted.
    ['12 North Elm Street', undefined, '12 n elm st'],
    ['12 N. Elm St', undefined, '12 n elm st'],
    ['500 Northeast 2nd Avenue', undefined, '500 ne 2nd ave'],
    ['500 N.E. 2nd Ave', undefined, '500 ne 2nd ave'],
    ['500 NE Second Ave', undefined, '500 ne 2nd ave'],
    ['88 West 42nd Street', undefined, '88 w 42nd st'],
    // Units: designators all read as "unit", ids run together, leading zeros off.
    ['12 Elm St Apt 3', undefined, '12 elm st unit 3'],
    ['12 Elm St, Apartment 3', undefined, '12 elm st unit 3'],
    ['12 Elm St #3', undefined, '12 elm st unit 3'],
    ['12 Elm St', 'Unit 3', '12 elm st unit 3'],
    ['12 Elm St', '#03', '12 elm st unit 3'],
    ['12 Elm St', 'Apt. No. 3', '12 elm st unit 3'],
    ['12 Elm St', '3', '12 elm st unit 3'],
    ['4417 Magnolia Crescent', 'Apt 9Q', '4417 magnolia cres unit 9q'],
    ['4417 Magnolia Cres', 'apt 9-q', '4417 magnolia cres unit 9q'],
    ['200 Congress Ave Suite 400', undefined, '200 congress ave unit 400'],
    ['200 Congress Ave', 'Ste 400', '200 congress ave unit 400'],
    // Accents and apostrophes.
    ['15 Rue Sainte-Anne', undefined, '15 rue sainte anne'],
    ["9 O'Hara Ct", undefined, '9 ohara ct'],
    ['10 Calle Peñasco', undefined, '10 calle penasco'],
    // Care-of lines and other free text in line2 name no dwelling; a unit needs an id.
    ['12 Elm St', 'c/o Maria Lopez', '12 elm st'],
    ['12 Elm St', 'C/O Jean Pierre, Apt 2', '12 elm st unit 2'],
    ['12 Elm St', 'In care of Rosa Díaz', '12 elm st'],
    ['12 Elm St', 'Attn: Oleg', '12 elm st'],
    ['12 Elm St', 'Rear', '12 elm st'],
    ['12 Elm St', 'Apt2', '12 elm st unit 2'],
    ['12 Elm St Apt 2', 'Apt 2', '12 elm st unit 2'],
    ['12 Lot Rd', undefined, '12 lot rd'],
    ['12 Room Rd', undefined, '12 room rd'],
    ['12 Rue Ste Anne', undefined, '12 rue ste anne'],
    ['7 Space Way', undefined, '7 space way'],
    ['40 Park Ave Ste400', undefined, '40 park ave unit 400'],
    ['40 Park Ave', 'Suite B', '40 park ave unit b'],
    // PO boxes.
    ['P.O. Box 77', undefined, 'pobox 77'],
    ['Post Office Box 77', undefined, 'pobox 77'],
    ['PO Box 77', undefined, 'pobox 77']
  ])('%j %j → %j', (line1, line2, expected) => {
    expect(normaliseStreet(line1, line2)).toBe(expected)
  })
})

describe('normaliseZip', () => {
  it.each([['02301', '02301'], ['02301-4417', '02301'], ['33101-0001', '33101']])('%j → %j', (zip, expected) => {
    expect(normaliseZip(zip)).toBe(expected)
  })
})

describe('addressKey', () => {
  it('is one key for the same house written five ways', () => {
    const ways: UsAddress[] = [
      { line1: '1208 North Maple Avenue', city: 'Houston', state: 'TX', zip: '77009' },
      { line1: '1208 N. Maple Ave.', city: 'HOUSTON', state: 'TX', zip: '77009-1234' },
      { line1: '1208 n maple ave', city: 'houston', state: 'TX', zip: '77009' },
      { line1: '1208  NORTH  MAPLE  AV', city: 'Houston ', state: 'TX', zip: '77009-0000' },
      { line1: '1208 N Maple Avenue', line2: '', city: 'Houston Heights', state: 'TX', zip: '77009' }
    ]
    const keys = new Set(ways.map((w) => addressKey(key, w)))
    expect(keys.size).toBe(1)
    expect(normaliseAddress(ways[0] as UsAddress)).toBe('1208 n maple ave|tx|77009')
  })

  it('tells units, houses, streets, ZIPs and states apart', () => {
    const base = at('12 Elm St', { line2: 'Apt 3' })
    const others = [
      at('12 Elm St', { line2: 'Apt 4' }),
      at('12 Elm St'),
      at('14 Elm St', { line2: 'Apt 3' }),
      at('12 Elm Ave', { line2: 'Apt 3' }),
      at('12 Elm St', { line2: 'Apt 3', zip: '02302' }),
      at('12 Elm St', { line2: 'Apt 3', state: 'RI' }),
      at('12 South Elm St', { line2: 'Apt 3' })
    ]
    const k = addressKey(key, base)
    for (const other of others) expect(addressKey(key, other), JSON.stringify(other)).not.toBe(k)
  })

  it('depends on the key and holds nothing readable', () => {
    const a = addressKey(key, at('12 Elm St'))
    expect(addressKey(Buffer.alloc(32, 1), at('12 Elm St'))).not.toBe(a)
    expect(a).toMatch(/^[A-Za-z0-9_-]{43}$/)
  })
})

describe('lastNameKey', () => {
  it('folds like identities do and differs by name', () => {
    expect(lastNameKey(key, 'Pérez-Gómez')).toBe(lastNameKey(key, 'PEREZ GOMEZ'))
    expect(lastNameKey(key, 'Perez')).not.toBe(lastNameKey(key, 'Gomez'))
  })
})

describe('sealed display', () => {
  it('shows the normalised form with the city, and opens only with its key', () => {
    const display = displayAddress({ line1: '12 N. Elm St.', line2: '#3', city: 'St. Louis', state: 'MO', zip: '63101-1111' })
    expect(display).toBe('12 n elm st unit 3, st louis, mo 63101')
    const sealed = sealAddress(key, display)
    expect(sealed).not.toContain('elm')
    expect(sealAddress(key, display)).not.toBe(sealed)
    expect(openAddress(key, sealed)).toBe(display)
    expect(openAddress(Buffer.alloc(32, 1), sealed)).toBe(null)
    expect(openAddress(key, 'garbage')).toBe(null)
  })
})
