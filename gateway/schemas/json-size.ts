// The largest JSON text a body schema admits from an honest client, so that a route's body limit
// follows its schema instead of a number picked by hand (a registration of 8 members with long
// names in a script outside the BMP, sent by Python's json.dumps, outgrew a fixed 64 KiB).
//
// Worst case per value: a string at its maxLength with every code point escaped as a surrogate
// pair (\uD835\uDD04, 12 bytes: ensure_ascii, the default of Python's json.dumps, does that to
// every character outside the BMP; it is also the most any one code point can take, since
// maxLength counts code points); every optional property present; arrays at maxItems; separators
// as json.dumps writes them (", " and ": "). Indented (pretty-printed) bodies are not covered.
// A string or array without an upper bound has no worst case: that throws, so a schema change that
// drops a bound is found when the app is built, not on launch day.

/** Bytes of a JSON number at its longest (-1.2345678901234567e-308). */
const NUMBER_BYTES = 24
/** A code point escaped as a surrogate pair: \uD835\uDD04. */
export const ESCAPED_CODE_POINT_BYTES = 12
const SEPARATOR_BYTES = 2

interface SchemaNode {
  type?: unknown
  properties?: Record<string, SchemaNode>
  items?: SchemaNode
  maxItems?: number
  maxLength?: number
  enum?: unknown[]
  anyOf?: SchemaNode[]
}

/** The largest JSON text, in bytes, of a value the schema admits (see above). */
export function worstCaseJsonBytes (schema: unknown, where = '#'): number {
  const node = schema as SchemaNode
  if (Array.isArray(node.enum)) return Math.max(...node.enum.map((value) => escapedBytes(JSON.stringify(value))))
  if (Array.isArray(node.anyOf)) return Math.max(...node.anyOf.map((option, i) => worstCaseJsonBytes(option, `${where}/anyOf/${i}`)))
  switch (node.type) {
    case 'object': {
      const entries = Object.entries(node.properties ?? {})
      const members = entries.map(([key, value]) => escapedBytes(JSON.stringify(key)) + SEPARATOR_BYTES + worstCaseJsonBytes(value, `${where}/${key}`))
      return 2 + sum(members) + SEPARATOR_BYTES * Math.max(0, entries.length - 1)
    }
    case 'array': {
      if (node.maxItems === undefined || node.items === undefined) throw new Error(`${where}: an array without maxItems and items has no largest size`)
      return 2 + node.maxItems * worstCaseJsonBytes(node.items, `${where}/items`) + SEPARATOR_BYTES * Math.max(0, node.maxItems - 1)
    }
    case 'string': {
      if (node.maxLength === undefined) throw new Error(`${where}: a string without maxLength has no largest size`)
      return 2 + ESCAPED_CODE_POINT_BYTES * node.maxLength
    }
    case 'number':
    case 'integer': return NUMBER_BYTES
    case 'boolean': return 5
    case 'null': return 4
    default: throw new Error(`${where}: no largest size for a schema of type ${JSON.stringify(node.type)}`)
  }
}

/** A key or enum value is ASCII here; escaping each of its characters would take 6 bytes. */
function escapedBytes (json: string): number {
  return 2 + 6 * (json.length - 2)
}

function sum (values: number[]): number {
  return values.reduce((total, value) => total + value, 0)
}
