// US addresses as the shared-address trend report compares them: the same house written five
// ways ("12 North Elm Street, Apt. #3" / "12 n elm st unit 3") is one key. Pure: no Fastify, no
// Redis. The key is a keyed hash (HMAC with the identity key), so the index never holds an
// address in clear, and the officer's copy is sealed (AES-256-GCM) with a key derived from it.
//
// What the key is made of, and why:
// - the street line with its unit: a 200-flat building is 200 addresses, not one cluster; the
//   evaluation's case was one house (the unit is what line2 holds, or what follows apt, unit,
//   suite, ste or # in line1; a line2 with no designator is taken as the unit);
// - the state and the 5-digit ZIP, never the city: one ZIP has several city names USPS accepts
//   ("Brooklyn" and "New York"), and the ZIP and street already name the house. The city is kept
//   for the officer's display only.
import { createCipheriv, createDecipheriv, createHmac, hkdfSync, randomBytes } from 'node:crypto'
import { foldName } from './identity.js'

export interface UsAddress {
  line1: string
  line2?: string
  city: string
  state: string
  zip: string
}

// One canonical token per line, then the spellings that map to it.
function table (rows: string[][]): Map<string, string> {
  return new Map(rows.flatMap(([canonical, ...spellings]) => [canonical as string, ...spellings].map((s) => [s, canonical as string])))
}

// USPS Publication 28, appendix C1 (street suffixes), the common ones, and the words that prefix
// names (Saint, Fort, Mount).
const SUFFIXES = table([
  ['st', 'street', 'str', 'saint'],
  ['ave', 'avenue', 'av', 'aven', 'avenu', 'avn'],
  ['rd', 'road'],
  ['dr', 'drive', 'drv'],
  ['blvd', 'boulevard', 'boul'],
  ['ln', 'lane'],
  ['ct', 'court'],
  ['pl', 'place'],
  ['cir', 'circle', 'circ'],
  ['ter', 'terrace', 'terr'],
  ['pkwy', 'parkway', 'pkway', 'pky'],
  ['hwy', 'highway', 'hiway'],
  ['rte', 'route'],
  ['sq', 'square'],
  ['trl', 'trail'],
  ['way', 'wy'],
  ['cres', 'crescent'],
  ['expy', 'expressway'],
  ['fwy', 'freeway'],
  ['ctr', 'center', 'centre'],
  ['hts', 'heights'],
  ['mt', 'mount'],
  ['ft', 'fort']
])

const DIRECTIONS = table([
  ['n', 'north'], ['s', 'south'], ['e', 'east'], ['w', 'west'],
  ['ne', 'northeast'], ['nw', 'northwest'], ['se', 'southeast'], ['sw', 'southwest']
])

const ORDINALS = table([
  ['1st', 'first'], ['2nd', 'second'], ['3rd', 'third'], ['4th', 'fourth'], ['5th', 'fifth'],
  ['6th', 'sixth'], ['7th', 'seventh'], ['8th', 'eighth'], ['9th', 'ninth'], ['10th', 'tenth']
])

// USPS Publication 28, appendix C2 (secondary unit designators), the common ones, and "#".
// All become "unit", followed by the unit's id.
const UNIT_WORDS = new Set(['apartment', 'apt', 'unit', 'suite', 'ste', 'number', 'no', 'room', 'rm', 'lot', 'space', 'spc', 'trailer', 'trlr'])

// Lower case, accents off, "." and "'" dropped inside words ("N.E." → "ne", "O'Hara" → "ohara"),
// "#" read as a unit designator, any other punctuation a space.
function tokens (text: string): string[] {
  return text
    .normalize('NFKD')
    .replace(/\p{M}/gu, '')
    .toLowerCase()
    .replace(/[.'’]/g, '')
    .replace(/#/g, ' unit ')
    // "Apt2", "Ste400": a designator run into its id.
    .replace(/\b(apt|unit|suite|ste|rm|spc|trlr)(?=[0-9])/g, '$1 ')
    .replace(/\bp\s*o\s*box\b|\bpost\s+office\s+box\b/g, ' pobox ')
    .replace(/[^\p{L}\p{N}]+/gu, ' ')
    .trim()
    .split(' ')
    .filter((t) => t !== '')
}

function mapWord (word: string): string {
  return SUFFIXES.get(word) ?? DIRECTIONS.get(word) ?? ORDINALS.get(word) ?? word
}

// What can be a unit's id: it holds a digit, or it is one letter ("3B", "12", "B"). So "12 Lot Rd",
// "12 Room Rd" and "Rue Ste Anne" keep their street words, and "Apt 2" is a unit.
const idLike = (word: string | undefined): boolean => word !== undefined && (/[0-9]/.test(word) || /^[a-z]$/.test(word))

// Care-of and attention lines name a person, not a dwelling: "c/o Maria Lopez" would otherwise
// give one house as many keys as its sponsors have names.
const CARE_OF = /\b(?:in\s+care\s+of|care\s+of|c\s*\/\s*o|attn|attention)\b[^,;]*/gi

// A unit id is everything after its designator, run together, leading zeros off:
// "Apt 09-Q", "#9q" and "Unit 9 Q" are all "9q".
function unitId (parts: string[]): string {
  return parts.join('').replace(/^0+(?=[0-9a-z])/, '')
}

/** The street line with its unit, normalised: "12 n elm st unit 3". */
export function normaliseStreet (line1: string, line2 = ''): string {
  const words: string[] = []
  const units: string[][] = []
  let unit: string[] | undefined
  const push = (list: string[], isLine2: boolean): void => {
    for (const [i, word] of list.entries()) {
      const next = list[i + 1]
      // A designator before an id, or before another designator ("apt no 3", "unit #3").
      const designator = UNIT_WORDS.has(word) && (idLike(next) || (next !== undefined && UNIT_WORDS.has(next) && idLike(list[i + 2])))
      if (designator) {
        // "unit #3" and "apt no 3" are one designator, not two.
        if (unit !== undefined && unit.length === 0) continue
        unit = []
        units.push(unit)
      } else if (unit !== undefined) {
        unit.push(word)
      } else if (isLine2 && i === 0 && idLike(word)) {
        // A line2 without a designator ("3B") is the unit itself.
        unit = [word]
        units.push(unit)
      } else if (!isLine2) {
        words.push(mapWord(word))
      }
      // Other words of line2 ("Rear", "Floor 2" without a designator) are not part of the key.
    }
  }
  push(tokens(line1), false)
  unit = undefined
  push(tokens(line2.replace(CARE_OF, ' ')), true)
  // A unit written in both lines is one unit.
  const ids = [...new Set(units.map(unitId).filter((id) => id !== ''))]
  return [...words, ...ids.flatMap((id) => ['unit', id])].join(' ')
}

/** A city, folded the same way: "St. Louis" and "Saint Louis" are one. Display only. */
export function normaliseCity (city: string): string {
  return tokens(city).map(mapWord).join(' ')
}

/** ZIP+4 or ZIP, to its 5 digits. */
export function normaliseZip (zip: string): string {
  return zip.replace(/[^0-9]/g, '').slice(0, 5)
}

/** What two spellings of one address have in common: street with unit, state, ZIP (no city). */
export function normaliseAddress (address: UsAddress): string {
  return `${normaliseStreet(address.line1, address.line2)}|${address.state.trim().toLowerCase()}|${normaliseZip(address.zip)}`
}

/** A readable normalised form for officers: "12 n elm st unit 3, miami, fl 33101". */
export function displayAddress (address: UsAddress): string {
  return `${normaliseStreet(address.line1, address.line2)}, ${normaliseCity(address.city)}, ${address.state.trim().toLowerCase()} ${normaliseZip(address.zip)}`
}

/** HMAC-SHA256 of the normalised address, base64url: the only form the index keys on. */
export function addressKey (key: Buffer, address: UsAddress): string {
  return createHmac('sha256', key).update(`address\u0000${normaliseAddress(address)}`).digest('base64url')
}

/** HMAC-SHA256 of a folded last name: the index counts distinct ones without holding any. */
export function lastNameKey (key: Buffer, lastName: string): string {
  return createHmac('sha256', key).update(`last-name\u0000${foldName(lastName)}`).digest('base64url')
}

function sealingKey (key: Buffer): Buffer {
  return Buffer.from(hkdfSync('sha256', key, Buffer.alloc(0), 'address-display', 32))
}

/** The display form encrypted (AES-256-GCM, random IV) for the store: iv | tag | ciphertext, base64url. */
export function sealAddress (key: Buffer, display: string): string {
  const iv = randomBytes(12)
  const cipher = createCipheriv('aes-256-gcm', sealingKey(key), iv)
  const body = Buffer.concat([cipher.update(display, 'utf8'), cipher.final()])
  return Buffer.concat([iv, cipher.getAuthTag(), body]).toString('base64url')
}

/** The display form back; null when the seal is not ours (another key, tampered). */
export function openAddress (key: Buffer, sealed: string): string | null {
  try {
    const raw = Buffer.from(sealed, 'base64url')
    const decipher = createDecipheriv('aes-256-gcm', sealingKey(key), raw.subarray(0, 12))
    decipher.setAuthTag(raw.subarray(12, 28))
    return Buffer.concat([decipher.update(raw.subarray(28)), decipher.final()]).toString('utf8')
  } catch {
    return null
  }
}
