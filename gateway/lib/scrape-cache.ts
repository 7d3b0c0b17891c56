/**
 * One store read shared by every gauge of a scrape (for a second), and undefined while the store
 * is away: a gauge then keeps its last value, since a scrape must never fail because Redis did.
 */
export function perScrape<T> (read: () => Promise<T>): () => Promise<T | undefined> {
  let pending: Promise<T | undefined> | undefined
  return async () => {
    pending ??= read().catch(() => undefined).finally(() => { setTimeout(() => { pending = undefined }, 1_000).unref() })
    return pending
  }
}
