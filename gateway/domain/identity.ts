// Who a person is, for de-duplication: first name, last name and date of birth, folded so that
// "José  Pérez-Gómez" and "jose perez gomez" are one person, then hashed with a secret key so the
// index never holds the clear triple and cannot be reversed by guessing names.
import { createHmac } from 'node:crypto'

/** Case, accents, punctuation and spacing folded: "Marie-Ange O'Neil" → "marie ange oneil". */
export function foldName (name: string): string {
  return name
    .normalize('NFKD')
    .replace(/\p{M}/gu, '')
    .toLowerCase()
    .replace(/['’ʼ`´.]/g, '')
    .replace(/[^\p{L}\p{N}]+/gu, ' ')
    .trim()
}

export interface PersonIdentity {
  firstName: string
  lastName: string
  dateOfBirth: string
}

/** HMAC-SHA256 of the folded identity, base64url: the only form the identity index stores. */
export function identityHash (key: Buffer, person: PersonIdentity): string {
  return createHmac('sha256', key)
    .update(`${foldName(person.firstName)}\u0000${foldName(person.lastName)}\u0000${person.dateOfBirth}`)
    .digest('base64url')
}
