// Store keys carry a Redis Cluster hash tag: `{tag}:part:part`. Everything one atomic step
// touches shares a tag, so it hashes to one slot and a multi-key Lua script stays legal on a
// Cluster (https://redis.io/docs/latest/operate/oss_and_stack/reference/cluster-spec/#hash-tags).
// The Redis adapter prepends its deployment prefix outside the braces.

declare const keyBrand: unique symbol
/** A store key built by storeKey(); the brand stops raw strings reaching a store. */
export type StoreKey = string & { readonly [keyBrand]: true }

// Braces would move the hash tag and colons would blur part boundaries, so both are escaped,
// as is the escape character itself. Client-supplied ids (device ids) pass through here.
function escapePart (part: string): string {
  return part.replace(/[%{}:]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)
}

export function storeKey (tag: string, ...parts: string[]): StoreKey {
  if (tag === '') throw new TypeError('storeKey needs a non-empty hash tag')
  return [`{${escapePart(tag)}}`, ...parts.map(escapePart)].join(':') as StoreKey
}

/** The hash tag of a key: what decides its Cluster slot and its atomic group. */
export function hashTagOf (key: StoreKey): string {
  return key.slice(1, key.indexOf('}'))
}
