// Looks for personal data in logs: the names, dates of birth and street lines a test or rehearsal
// sent (the synthetic population's, or any others), the tokens it used and pieces of the photos it
// uploaded. A hit says where (file, line, column, the JSON field when the line is JSON) and what
// kind of datum, never the datum itself: the report of a leak must not leak it again.
//
// Usage, from a test or a run that kept its logs:
//   const needles = needlesFromRegistrations(registrationsSent, { tokens, photos })
//   const hits = [...scanText('gateway stdout', stdout, needles), ...await scanFiles(files, needles)]
//   if (hits.length > 0) throw new Error(formatHits(hits))
import { readFile } from 'node:fs/promises'

export type PiiKind = 'name' | 'date-of-birth' | 'street' | 'token' | 'photo'

/** What to look for. Every list may be empty; duplicates are fine. */
export interface PiiNeedles {
  /** Whole names as sent ("First Last"), matched case- and accent-insensitively. */
  fullNames: readonly string[]
  /** Single given or family names, matched as whole words, case- and accent-insensitively (see MIN_NAME_LENGTH). */
  nameParts: readonly string[]
  /** YYYY-MM-DD; also found written 1987/03/09, 03/09/1987, 09/03/1987, 09.03.1987 and 19870309 (a whole token). */
  datesOfBirth: readonly string[]
  /**
   * Street lines (line1, line2), matched case- and accent-insensitively; a line that starts with a
   * house number also by its number and first word ("1420 Maple" of "1420 Maple Avenue") and by its
   * street without the number when that is at least MIN_STREET_NAME_LENGTH long.
   */
  streets: readonly string[]
  /** Bearer tokens, admission tokens, keys: matched exactly, and by their last dot-separated part (a JWT's signature). */
  tokens: readonly string[]
  /** Pieces of base64 photos (a slice past the format's fixed header), matched exactly. */
  photoPieces: readonly string[]
  /** Data made by a rule rather than listed (a rehearsal's "Person <n>-<k> <run>"): each match is a hit. */
  patterns?: ReadonlyArray<{ kind: PiiKind, pattern: RegExp }>
}

/** One occurrence: where it is and what kind of datum, never the datum. */
export interface PiiHit {
  source: string
  /** 1-based. */
  line: number
  /** 1-based, in characters of the line as read. */
  column: number
  kind: PiiKind
  /** The JSON path of the value holding it, when the line is a JSON object (a pino line). */
  field?: string
}

/** A single name shorter than this is too common a string to judge alone (Li, Sow). */
export const MIN_NAME_LENGTH = 3

/**
 * A street without its house number is matched alone from this many characters: "Maple Avenue"
 * (12) or "Calle Ocho" (10) name one street of one town in a log of registrations, while "Elm St"
 * (6) or "Main St" (7) read as ordinary text too often to tell a leak from noise. The number and
 * first word ("55 Elm") still find the short ones.
 */
export const MIN_STREET_NAME_LENGTH = 10

/** Any registration-shaped thing: the synthetic population's, the rehearsal driver's, a test's. */
export interface PersonLike {
  firstName: string
  lastName: string
  dateOfBirth: string
  usAddress?: { line1: string, line2?: string }
}

/** Needles from the members of registrations sent, plus tokens and photos used. */
export function needlesFromRegistrations (registrations: Iterable<{ members: readonly PersonLike[] }>, extra: { tokens?: readonly string[], photos?: readonly string[] } = {}): PiiNeedles {
  const fullNames = new Set<string>()
  const nameParts = new Set<string>()
  const datesOfBirth = new Set<string>()
  const streets = new Set<string>()
  for (const registration of registrations) {
    for (const m of registration.members) {
      fullNames.add(`${m.firstName} ${m.lastName}`)
      for (const part of `${m.firstName} ${m.lastName}`.split(/\s+/)) if (part.length >= MIN_NAME_LENGTH) nameParts.add(part)
      datesOfBirth.add(m.dateOfBirth)
      if (m.usAddress !== undefined) {
        streets.add(m.usAddress.line1)
        if (m.usAddress.line2 !== undefined && m.usAddress.line2.length >= 4) streets.add(m.usAddress.line2)
      }
    }
  }
  return {
    fullNames: [...fullNames],
    nameParts: [...nameParts],
    datesOfBirth: [...datesOfBirth],
    streets: [...streets],
    tokens: [...(extra.tokens ?? [])],
    photoPieces: (extra.photos ?? []).map(photoPiece).filter((p): p is string => p !== undefined)
  }
}

/**
 * 40 base64 characters from past a photo's first kilobyte: every JPEG starts alike (/9j/4AAQ...),
 * so a prefix would match any photo; this slice is the photo's own.
 */
export function photoPiece (base64: string): string | undefined {
  const start = Math.min(1368, Math.max(0, base64.length - 40))
  const piece = base64.slice(start, start + 40)
  return piece.length === 40 ? piece : undefined
}

/** Lower case without accents, so "Hernández" and "HERNANDEZ" compare equal. */
export function fold (text: string): string {
  return text.normalize('NFD').replace(/\p{M}/gu, '').toLowerCase()
}

/**
 * Percent-decodes each run of %XX escapes (a name in a URL: Hern%C3%A1ndez), leaving a run that is
 * not valid UTF-8 as it is. `origin[i]` is the index in `text` of decoded character i, so that a
 * hit still says where it is in the line as read.
 */
export function percentDecode (text: string): { text: string, origin: number[] } {
  let out = ''
  const origin: number[] = []
  let last = 0
  for (const match of text.matchAll(/(?:%[0-9A-Fa-f]{2})+/g)) {
    for (let k = last; k < match.index; k++) origin.push(k)
    out += text.slice(last, match.index)
    let decoded: string
    try {
      decoded = decodeURIComponent(match[0])
    } catch {
      decoded = match[0]
    }
    for (let k = 0; k < decoded.length; k++) origin.push(decoded === match[0] ? match.index + k : match.index)
    out += decoded
    last = match.index + match[0].length
  }
  for (let k = last; k < text.length; k++) origin.push(k)
  return { text: out + text.slice(last), origin }
}

interface Compiled {
  // Folded needle by its first folded word, for whole-phrase matching.
  phrases: Map<string, Array<{ text: string, kind: PiiKind }>>
  dates: Set<string>
  exact: Array<{ text: string, kind: PiiKind }>
}

const compiledCache = new WeakMap<PiiNeedles, Compiled>()

function compile (needles: PiiNeedles): Compiled {
  const cached = compiledCache.get(needles)
  if (cached !== undefined) return cached
  const phrases = new Map<string, Array<{ text: string, kind: PiiKind }>>()
  const addPhrase = (raw: string, kind: PiiKind): void => {
    const text = fold(raw).trim()
    const first = /[\p{L}\p{N}]+/u.exec(text)?.[0]
    if (first === undefined) return
    const list = phrases.get(first) ?? []
    list.push({ text, kind })
    phrases.set(first, list)
  }
  for (const name of needles.fullNames) addPhrase(name, 'name')
  // Folded like whole names: a lone HERNANDEZ, hernández or its NFD spelling is the same datum.
  for (const part of needles.nameParts) if (fold(part).trim().length >= MIN_NAME_LENGTH) addPhrase(part, 'name')
  for (const street of needles.streets) {
    addPhrase(street, 'street')
    for (const piece of streetPieces(street)) addPhrase(piece, 'street')
  }
  const exact: Array<{ text: string, kind: PiiKind }> = []
  for (const token of needles.tokens) {
    if (token.length < 8) continue
    exact.push({ text: token, kind: 'token' })
    const last = token.split('.').at(-1) ?? ''
    if (last.length >= 16 && last !== token) exact.push({ text: last, kind: 'token' })
  }
  for (const piece of needles.photoPieces) exact.push({ text: piece, kind: 'photo' })
  const compiled = { phrases, dates: new Set(needles.datesOfBirth), exact }
  compiledCache.set(needles, compiled)
  return compiled
}

/**
 * The parts of a street line that still point at one address: house number with the words up to
 * the first of three letters or more ("1420 Maple", "1420 N Maple"), and the street without the
 * number when it is long enough (MIN_STREET_NAME_LENGTH). None for a line without a house number.
 */
function streetPieces (street: string): string[] {
  const words = fold(street).trim().split(/\s+/)
  if (words.length < 2 || !/^\d+[a-z]?$/.test(words[0] as string)) return []
  const firstLong = words.findIndex((word, i) => i > 0 && word.length >= 3)
  const pieces = [words.slice(0, firstLong === -1 ? words.length : firstLong + 1).join(' ')]
  const name = words.slice(1).join(' ')
  if (name.length >= MIN_STREET_NAME_LENGTH) pieces.push(name)
  return pieces
}

// Other ways to write a date of birth, each turned back into YYYY-MM-DD candidates. The 8-digit
// form only as a whole token (not a piece of a longer number, an id or a decimal's digits).
const DATE_FORMS: ReadonlyArray<{ pattern: RegExp, iso: (m: RegExpMatchArray) => string[] }> = [
  { pattern: /\d{4}-\d{2}-\d{2}/g, iso: (m) => [m[0]] },
  { pattern: /(?<!\d)(\d{4})\/(\d{2})\/(\d{2})(?!\d)/g, iso: (m) => [`${m[1]}-${m[2]}-${m[3]}`] },
  // US month first, and day first as most of the world writes it.
  { pattern: /(?<!\d)(\d{2})\/(\d{2})\/(\d{4})(?!\d)/g, iso: (m) => [`${m[3]}-${m[1]}-${m[2]}`, `${m[3]}-${m[2]}-${m[1]}`] },
  { pattern: /(?<![\d.])(\d{2})\.(\d{2})\.(\d{4})(?![\d]|\.\d)/g, iso: (m) => [`${m[3]}-${m[2]}-${m[1]}`] },
  { pattern: /(?<![\p{L}\p{N}_.])(\d{4})(\d{2})(\d{2})(?![\p{L}\p{N}_]|\.\d)/gu, iso: (m) => [`${m[1]}-${m[2]}-${m[3]}`] }
]

/** Every occurrence of a needle in `text`, line by line; each line also read percent-decoded. */
export function scanText (source: string, text: string, needles: PiiNeedles): PiiHit[] {
  const c = compile(needles)
  const hits: PiiHit[] = []
  text.split('\n').forEach((line, i) => {
    const found: Array<{ column: number, kind: PiiKind, value: string }> = []
    const decoded = line.includes('%') ? percentDecode(line) : undefined
    findIn(c, needles, line, found)
    if (decoded !== undefined && decoded.text !== line) {
      const more: typeof found = []
      findIn(c, needles, decoded.text, more)
      for (const f of more) found.push({ ...f, column: decoded.origin[f.column] ?? f.column })
    }
    if (found.length === 0) return
    const fields = jsonFields(line)
    // One hit per kind and field (per kind and line outside JSON): a full name also matches as
    // its parts, a token as its signature, a decoded line as the line.
    const reported = new Set<string>()
    for (const f of found.sort((a, b) => a.column - b.column)) {
      const field = fields === undefined ? undefined : fieldHolding(fields, f.value, f.kind)
      const key = `${f.kind}|${field ?? ''}`
      if (reported.has(key)) continue
      reported.add(key)
      hits.push({ source, line: i + 1, column: f.column + 1, kind: f.kind, ...(field === undefined ? {} : { field }) })
    }
  })
  return hits
}

function findIn (c: Compiled, needles: PiiNeedles, line: string, found: Array<{ column: number, kind: PiiKind, value: string }>): void {
  // Names and streets: phrases starting with a word of the line, found in the folded line at word edges.
  const folded = fold(line)
  const seen = new Set<string>()
  for (const word of folded.match(/[\p{L}\p{N}]+/gu) ?? []) {
    if (seen.has(word)) continue
    seen.add(word)
    for (const phrase of c.phrases.get(word) ?? []) {
      const at = indexOfWord(folded, phrase.text)
      if (at !== -1) found.push({ column: at, kind: phrase.kind, value: phrase.text })
    }
  }
  for (const form of DATE_FORMS) {
    for (const match of line.matchAll(form.pattern)) {
      if (form.iso(match).some((iso) => c.dates.has(iso))) found.push({ column: match.index ?? 0, kind: 'date-of-birth', value: match[0] })
    }
  }
  for (const needle of c.exact) {
    const at = line.indexOf(needle.text)
    if (at !== -1) found.push({ column: at, kind: needle.kind, value: needle.text })
  }
  for (const { kind, pattern } of needles.patterns ?? []) {
    for (const match of line.matchAll(new RegExp(pattern.source, pattern.flags.includes('g') ? pattern.flags : `${pattern.flags}g`))) {
      found.push({ column: match.index, kind, value: match[0] })
    }
  }
}

/** Reads each file (as UTF-8) and scans it; a file that does not exist is an error, not a pass. */
export async function scanFiles (paths: readonly string[], needles: PiiNeedles): Promise<PiiHit[]> {
  const hits: PiiHit[] = []
  for (const path of paths) hits.push(...scanText(path, await readFile(path, 'utf8'), needles))
  return hits
}

/** One line per hit, where and what kind, never the value: safe to print in CI. */
export function formatHits (hits: readonly PiiHit[]): string {
  if (hits.length === 0) return 'pii-scan: no personal data found'
  const lines = hits.map((h) => `  ${h.source}:${h.line}:${h.column} ${h.kind}${h.field === undefined ? '' : ` in ${h.field}`}`)
  return `pii-scan: ${hits.length} occurrence(s) of personal data:\n${lines.join('\n')}`
}

function indexOfWord (haystack: string, needle: string): number {
  for (let at = haystack.indexOf(needle); at !== -1; at = haystack.indexOf(needle, at + 1)) {
    const before = at === 0 ? '' : haystack[at - 1] as string
    const after = haystack[at + needle.length] ?? ''
    if (!/[\p{L}\p{N}]/u.test(before) && !/[\p{L}\p{N}]/u.test(after)) return at
  }
  return -1
}

/** The string values of a JSON object line by path, or undefined when the line is not one. */
function jsonFields (line: string): Array<[string, string]> | undefined {
  const trimmed = line.trim()
  if (!trimmed.startsWith('{')) return undefined
  let value: unknown
  try {
    value = JSON.parse(trimmed)
  } catch {
    return undefined
  }
  const out: Array<[string, string]> = []
  const walk = (node: unknown, path: string): void => {
    if (typeof node === 'string') out.push([path, node])
    else if (Array.isArray(node)) node.forEach((v, i) => walk(v, `${path}[${i}]`))
    else if (node !== null && typeof node === 'object') for (const [k, v] of Object.entries(node)) walk(v, path === '' ? k : `${path}.${k}`)
  }
  walk(value, '')
  return out
}

function fieldHolding (fields: Array<[string, string]>, value: string, kind: PiiKind): string | undefined {
  const folds = kind === 'name' || kind === 'street'
  const wanted = folds ? fold(value) : value
  for (const [path, raw] of fields) {
    for (const text of raw.includes('%') ? [raw, percentDecode(raw).text] : [raw]) {
      if ((folds ? fold(text) : text).includes(wanted)) return path
    }
  }
  return undefined
}
