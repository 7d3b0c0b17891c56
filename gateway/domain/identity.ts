// Who a person is, for de-duplication: first name, last name and date of birth, folded so that
// "José  Pérez-Gómez" and "jose perez gomez" are one person, then hashed with a secret key so the
// index never holds the clear triple and cannot be reversed by guessing names.
import { createHmac, randomBytes } from 'node:crypto'

/**
 * Case, accents, punctuation, spacing and invisible characters folded, letters and digits kept:
 * "Marie-Ange O'Neil" → "marieangeoneil". Spaces go too, so "Jo se" or "Jo\u200Bse" cannot pass
 * for another person. (Look-alike letters from other scripts are not folded: see the README.)
 */
export function foldName (name: string): string {
  return name
    .normalize('NFKD')
    .replace(/\p{M}/gu, '')
    .toLowerCase()
    .replace(/[^\p{L}\p{N}]+/gu, '')
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

/**
 * A date of birth as partner validation compares it: keyed, so the appointment index never holds
 * a date in clear, and the same length (43 characters) for every date, so comparisons take one time.
 */
export function dateOfBirthDigest (key: Buffer, dateOfBirth: string): string {
  return createHmac('sha256', key).update(`dob\u0000${dateOfBirth}`).digest('base64url')
}

/** A digest no date of birth has, of the same length: the filler of unused slots. */
export function fillerDigest (): string {
  return randomBytes(32).toString('base64url')
}
