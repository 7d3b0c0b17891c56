import type { FeedEntry, FeedStore } from '../ports.js'

/** The embedded feed: the last `maxLength` notifications of this process, by sequence number. */
export class MemoryFeedStore implements FeedStore {
  readonly #maxLength: number
  #entries: FeedEntry[] = []
  /** Sequence number of #entries[0]. */
  #first = 1

  constructor (maxLength: number) {
    this.#maxLength = maxLength
  }

  async append (entry: FeedEntry): Promise<void> {
    this.#entries.push(entry)
    // Trimmed in steps, not per append, as Redis' MAXLEN ~ does.
    if (this.#entries.length > this.#maxLength * 1.1) {
      const drop = this.#entries.length - this.#maxLength
      this.#entries = this.#entries.slice(drop)
      this.#first += drop
    }
  }

  async read (cursor: string | null, count: number): Promise<{ entries: FeedEntry[], cursor: string }> {
    const end = this.#first + this.#entries.length - 1
    if (cursor === null) return { entries: [], cursor: String(end) }
    const from = Math.max(Number(cursor) + 1, this.#first)
    const entries = this.#entries.slice(from - this.#first, from - this.#first + count)
    return { entries, cursor: entries.length === 0 ? cursor : String(from + entries.length - 1) }
  }
}
