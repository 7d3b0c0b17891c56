import { describe, expect, it } from 'vitest'
import { foldName, identityHash } from '../../gateway/domain/identity.js'

describe('foldName', () => {
  it.each([
    ['José', 'jose'],
    ['  Pérez-Gómez ', 'perezgomez'],
    ['PEREZ   GOMEZ', 'perezgomez'],
    ["Marie-Ange O'Neil", 'marieangeoneil'],
    ['Jean-Baptiste', 'jeanbaptiste'],
    ['Dieu-Juste Saint.Fleur', 'dieujustesaintfleur'],
    ['Jo\u200Bse', 'jose'],
    ['Ólafur', 'olafur'],
    ['Зинаида', 'зинаида'],
    ['ЁЛКИН', 'елкин']
  ])('%j folds to %j', (name, folded) => {
    expect(foldName(name)).toBe(folded)
  })
})

describe('identityHash', () => {
  const key = Buffer.alloc(32, 3)
  const person = { firstName: 'José', lastName: 'Pérez', dateOfBirth: '1988-03-04' }

  it('is the same for the same person however written, and differs by birth date or key', () => {
    const a = identityHash(key, person)
    expect(identityHash(key, { firstName: 'JOSE', lastName: 'perez', dateOfBirth: '1988-03-04' })).toBe(a)
    expect(identityHash(key, { ...person, dateOfBirth: '1988-03-05' })).not.toBe(a)
    expect(identityHash(Buffer.alloc(32, 4), person)).not.toBe(a)
    expect(a).toMatch(/^[A-Za-z0-9_-]{43}$/)
  })

  it('cannot be confused by moving letters between first and last name', () => {
    expect(identityHash(key, { firstName: 'Ana Maria', lastName: 'Paul', dateOfBirth: '2000-01-01' }))
      .not.toBe(identityHash(key, { firstName: 'Ana', lastName: 'Maria Paul', dateOfBirth: '2000-01-01' }))
  })
})
