import type { Clock } from '../clock.js'
import { outboxPartition, type OutboxEntry, type OutboxEvent, type OutboxIntent, type OutboxStats, type OutboxStore } from '../ports.js'

interface Held { event: OutboxEvent, consumer?: string, deliveredAt?: number }

// One partition: entries in append order; `next` is the first never handed out.
interface Partition {
  entries: Map<string, Held>
  order: string[]
  next: number
  dead: Map<string, { event: OutboxEvent, reason: string }>
  intents: Map<string, OutboxIntent & { dueAt: number }>
}

/** The embedded outbox: in memory, per process, with the same semantics as the Redis streams. */
export class MemoryOutboxStore implements OutboxStore {
  readonly partitions: number
  readonly #clock: Clock
  readonly #parts: Partition[]
  #sequence = 0

  constructor (clock: Clock, partitions: number) {
    this.#clock = clock
    this.partitions = partitions
    this.#parts = Array.from({ length: partitions }, () => ({ entries: new Map(), order: [], next: 0, dead: new Map(), intents: new Map() }))
  }

  #part (partition: number): Partition {
    const part = this.#parts[partition]
    if (part === undefined) throw new RangeError(`no outbox partition ${partition}`)
    return part
  }

  #id (): string {
    return `${this.#clock.now()}-${++this.#sequence}`
  }

  async intend (event: OutboxEvent, partitionKey: string, dueAt: number): Promise<void> {
    const part = this.#part(outboxPartition(partitionKey, this.partitions))
    if (!part.intents.has(event.id)) part.intents.set(event.id, { event, partitionKey, dueAt })
  }

  async append (event: OutboxEvent, partitionKey: string): Promise<OutboxEntry> {
    const partition = outboxPartition(partitionKey, this.partitions)
    const part = this.#part(partition)
    const entryId = this.#id()
    part.entries.set(entryId, { event })
    part.order.push(entryId)
    part.intents.delete(event.id)
    return { partition, entryId, event }
  }

  async dueIntents (partition: number, now: number, count: number): Promise<OutboxIntent[]> {
    return [...this.#part(partition).intents.values()]
      .filter((i) => i.dueAt <= now)
      .sort((a, b) => a.dueAt - b.dueAt || (a.event.id < b.event.id ? -1 : 1))
      .slice(0, count)
      .map(({ event, partitionKey }) => ({ event, partitionKey }))
  }

  async dropIntent (partition: number, eventId: string): Promise<void> {
    this.#part(partition).intents.delete(eventId)
  }

  async read (partition: number, consumer: string, count: number): Promise<OutboxEntry[]> {
    const part = this.#part(partition)
    const out: OutboxEntry[] = []
    while (out.length < count && part.next < part.order.length) {
      const entryId = part.order[part.next++] as string
      const held = part.entries.get(entryId)
      if (held === undefined) continue
      held.consumer = consumer
      held.deliveredAt = this.#clock.now()
      out.push({ partition, entryId, event: held.event })
    }
    this.#compact(part)
    return out
  }

  async claim (partition: number, consumer: string, minIdleMs: number, count: number): Promise<OutboxEntry[]> {
    const part = this.#part(partition)
    const now = this.#clock.now()
    const out: OutboxEntry[] = []
    for (let i = 0; i < part.next && out.length < count; i++) {
      const entryId = part.order[i] as string
      const held = part.entries.get(entryId)
      if (held?.deliveredAt === undefined || now - held.deliveredAt < minIdleMs) continue
      held.consumer = consumer
      held.deliveredAt = now
      out.push({ partition, entryId, event: held.event })
    }
    return out
  }

  async hold (entry: Pick<OutboxEntry, 'partition' | 'entryId'>, consumer: string): Promise<void> {
    const held = this.#part(entry.partition).entries.get(entry.entryId)
    if (held?.deliveredAt === undefined) return
    held.consumer = consumer
    held.deliveredAt = this.#clock.now()
  }

  async ack (entry: Pick<OutboxEntry, 'partition' | 'entryId'>): Promise<void> {
    this.#part(entry.partition).entries.delete(entry.entryId)
  }

  async deadLetter (entry: OutboxEntry, reason: string): Promise<void> {
    const part = this.#part(entry.partition)
    if (!part.entries.delete(entry.entryId)) return
    part.dead.set(this.#id(), { event: entry.event, reason })
  }

  async deadLetters (partition: number, count: number): Promise<Array<{ entryId: string, event: OutboxEvent, reason: string }>> {
    return [...this.#part(partition).dead].slice(0, count).map(([entryId, { event, reason }]) => ({ entryId, event, reason }))
  }

  async revive (partition: number, deadEntryId: string): Promise<boolean> {
    const part = this.#part(partition)
    const letter = part.dead.get(deadEntryId)
    if (letter === undefined) return false
    const entryId = this.#id()
    part.entries.set(entryId, { event: letter.event })
    part.order.push(entryId)
    part.dead.delete(deadEntryId)
    return true
  }

  async stats (): Promise<OutboxStats> {
    let depth = 0
    let pending = 0
    let oldestTime: number | null = null
    let deadLetters = 0
    let intents = 0
    for (const part of this.#parts) {
      intents += part.intents.size
      depth += part.entries.size
      deadLetters += part.dead.size
      for (const held of part.entries.values()) {
        if (held.deliveredAt !== undefined) pending++
        if (oldestTime === null || held.event.time < oldestTime) oldestTime = held.event.time
      }
    }
    return { depth, intents, pending, oldestTime, deadLetters }
  }

  // Drops acknowledged ids from the front of the order, so it does not grow without bound.
  #compact (part: Partition): void {
    let drop = 0
    while (drop < part.next && !part.entries.has(part.order[drop] as string)) drop++
    if (drop > 1024) {
      part.order.splice(0, drop)
      part.next -= drop
    }
  }
}
