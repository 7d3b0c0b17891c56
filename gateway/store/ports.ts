// The ports the domain keeps its state behind. Each has a memory adapter (embedded, one process)
// and a Redis adapter (shared by every gateway instance); one contract suite runs against both
// (test/store/contract.ts). Times are epoch milliseconds from the injected Clock; durations are ms.
import type { Cluster, Redis } from 'ioredis'
import type { StoreKey } from './keys.js'

export interface TtlOptions {
  /** Expire the entry this many ms after the write; omitted means it never expires. */
  ttlMs?: number
}

/** Strings by key, each with an optional time to live. */
export interface KeyValueStore {
  get(key: StoreKey): Promise<string | null>
  set(key: StoreKey, value: string, options?: TtlOptions): Promise<void>
  /** Writes only when the key is absent; true when this call wrote it. */
  setIfAbsent(key: StoreKey, value: string, options?: TtlOptions): Promise<boolean>
  /** True when a key was removed. */
  delete(key: StoreKey): Promise<boolean>
  /** Removes the key only while it still holds `value` (releasing a claim that is still ours). */
  deleteIfEquals(key: StoreKey, value: string): Promise<boolean>
  /**
   * Writes `value` only while the key still holds `expected` (compare-and-set), with the TTL as
   * set() gives it; true when this call wrote. A read-change-write of one record uses it so that
   * a change made in between is never overwritten.
   */
  replaceIfEquals(key: StoreKey, expected: string, value: string, options?: TtlOptions): Promise<boolean>
  /** Sets a new TTL on a key that exists; never creates one. True when the key existed. */
  expire(key: StoreKey, ttlMs: number): Promise<boolean>
  /** Sets a new TTL only while the key still holds `value` (renewing a claim that is still ours). */
  expireIfEquals(key: StoreKey, value: string, ttlMs: number): Promise<boolean>
  /** Remaining time to live in ms; null when the key is absent or never expires. */
  ttl(key: StoreKey): Promise<number | null>
}

export interface IncrementOptions {
  by?: number
  /** Time to live set when the counter is created by this call (a fixed window); later calls keep it. */
  ttlMs?: number
}

/** Integer counters that start at 0. */
export interface CounterStore {
  /** Adds `by` (default 1) atomically and returns the new value. */
  increment(key: StoreKey, options?: IncrementOptions): Promise<number>
  get(key: StoreKey): Promise<number>
}

export interface ScoredMember {
  member: string
  score: number
}

/** Sorted sets: members ordered by score, then by member for equal scores (Redis order). */
export interface SortedSetStore {
  /** Adds or re-scores a member; true when it was new. With onlyIfAbsent an existing member keeps its score. */
  add(key: StoreKey, member: string, score: number, options?: { onlyIfAbsent?: boolean } & TtlOptions): Promise<boolean>
  score(key: StoreKey, member: string): Promise<number | null>
  /** Zero-based position in ascending order; null when absent. */
  rank(key: StoreKey, member: string): Promise<number | null>
  count(key: StoreKey): Promise<number>
  /** Members with min <= score <= max. */
  countByScore(key: StoreKey, min: number, max: number): Promise<number>
  /** Ascending, by zero-based inclusive positions; negative positions count from the end. */
  rangeByRank(key: StoreKey, start: number, stop: number): Promise<ScoredMember[]>
  /** Ascending, members with min <= score <= max, at most `limit` of them. */
  rangeByScore(key: StoreKey, min: number, max: number, limit: number): Promise<ScoredMember[]>
  remove(key: StoreKey, member: string): Promise<boolean>
  /** Removes members with min <= score <= max; returns how many. */
  removeByScore(key: StoreKey, min: number, max: number): Promise<number>
  /** Removes and returns up to `count` members with the lowest scores. */
  popMin(key: StoreKey, count: number): Promise<ScoredMember[]>
}

export interface WindowRule {
  /** Length of the rolling window. */
  windowMs: number
  /** Entries admitted per window. */
  max: number
  /** Least time between two entries; 0 for none. */
  minIntervalMs?: number
}

export interface WindowAdmission {
  admitted: boolean
  /** Why not: too many in the window, or too soon after the last one. */
  refusedFor?: 'limit' | 'interval'
  /** Entries in the window after this decision. */
  count: number
  /** 0 when admitted; otherwise ms until an entry would be admitted. */
  retryAfterMs: number
}

/**
 * Rolling windows of named entries (registrations per device, per subject, per network): exact
 * counts, unlike a bucket, because a person asks "how many in the last 24 hours".
 */
export interface WindowStore {
  /** Atomically: drop entries older than the window, then admit `member` at now if the rule allows; a member already in the window is admitted again, unchanged. */
  /**
   * `at` (epoch ms, default the store's clock now) is the instant the entry is admitted at: a
   * caller admitting several entries as one decision stamps them all with its decision's time.
   */
  admit(key: StoreKey, member: string, rule: WindowRule, at?: number): Promise<WindowAdmission>
  /** Takes an admitted entry back (undoing a step that failed later). */
  release(key: StoreKey, member: string): Promise<void>
}

/** One bucket to draw from: a sustained rate and the burst it may absorb at once. */
export interface BucketSpec {
  key: StoreKey
  ratePerSecond: number
  burst: number
}

export interface BucketDecision {
  allowed: boolean
  /** The bucket's capacity (its burst). */
  limit: number
  /** Whole requests the bucket could still admit right now, after this decision. */
  remaining: number
  /** 0 when allowed; otherwise ms until this request would be admitted. */
  retryAfterMs: number
  /** ms until the bucket is full again. */
  resetMs: number
}

/**
 * Rate-limit decisions by GCRA (the generic cell rate algorithm, a token bucket that stores one
 * timestamp per key instead of a count and a refill time: one key, one read, one write).
 * Buckets that share a hash tag are decided together, all or nothing, in one atomic step;
 * buckets under different tags are decided independently, in the same round trip.
 */
export interface RateLimitStore {
  decide(buckets: readonly BucketSpec[], cost?: number): Promise<BucketDecision[]>
}

/** An event a backend service must receive: the outbox keeps it until delivery is acknowledged. */
export interface OutboxEvent {
  /** Unique and stable: the Idempotency-Key of every delivery attempt. */
  id: string
  type: string
  /** When it happened, epoch ms. */
  time: number
  /** JSON text; never personal data beyond what the backend must have. */
  payload: string
}

/** An event as one consumer of the delivery group holds it. */
export interface OutboxEntry {
  partition: number
  /** The store's id of this entry (a stream id on Redis); what ack and deadLetter take. */
  entryId: string
  event: OutboxEvent
}

/** An event about to be appended: kept until its append, or until recovery decides on it. */
export interface OutboxIntent {
  event: OutboxEvent
  partitionKey: string
}

export interface OutboxStats {
  /** Events not yet delivered (acknowledged), pending ones included. */
  depth: number
  /** Intents neither appended nor decided by recovery yet. */
  intents: number
  /** Events handed to a consumer and not acknowledged yet. */
  pending: number
  /** The time of the oldest undelivered event (epoch ms), or null when there is none. */
  oldestTime: number | null
  deadLetters: number
}

/**
 * A durable outbox of events for backend services, in `partitions` streams, each with one
 * delivery group: an event goes to the partition its key hashes to (on Redis Cluster each
 * partition is its own hash slot, so no one slot carries the whole outbox). A consumer reads new
 * entries, acknowledges each once delivered, and takes over entries that another consumer left
 * pending too long (a crashed instance).
 */
export interface OutboxStore {
  readonly partitions: number
  /**
   * Records, before a state change, the event it will cause, due for recovery at `dueAt` (epoch
   * ms) should its append never come (the process died in between). Kept in the event's own
   * partition; recording the same event id again keeps the first record and its due time.
   */
  intend(event: OutboxEvent, partitionKey: string, dueAt: number): Promise<void>
  /**
   * Appends durably (on Redis: once XADD is acknowledged) and, in the same atomic step, drops
   * the event's intent, if any.
   */
  append(event: OutboxEvent, partitionKey: string): Promise<OutboxEntry>
  /** Up to `count` intents of the partition due at `now` or earlier, oldest due first. */
  dueIntents(partition: number, now: number, count: number): Promise<OutboxIntent[]>
  /** Drops an intent without appending (recovery found its state change never happened). */
  dropIntent(partition: number, eventId: string): Promise<void>
  /** Up to `count` entries never handed out before, now pending for `consumer`. */
  read(partition: number, consumer: string, count: number): Promise<OutboxEntry[]>
  /** Up to `count` entries pending for at least `minIdleMs` (with any consumer), now pending for `consumer`. */
  claim(partition: number, consumer: string, minIdleMs: number, count: number): Promise<OutboxEntry[]>
  /**
   * Keeps an entry pending for `consumer` and starts its idle time again: a consumer still
   * retrying an entry says so, or claim() would hand it to another one after minIdleMs.
   */
  hold(entry: Pick<OutboxEntry, 'partition' | 'entryId'>, consumer: string): Promise<void>
  /** Delivered: the entry leaves the outbox. */
  ack(entry: Pick<OutboxEntry, 'partition' | 'entryId'>): Promise<void>
  /** Given up on: the entry moves to the partition's dead letters, with why. */
  deadLetter(entry: OutboxEntry, reason: string): Promise<void>
  /** The partition's dead letters, oldest first. */
  deadLetters(partition: number, count: number): Promise<Array<{ entryId: string, event: OutboxEvent, reason: string }>>
  /** Moves a dead letter back into the outbox as a new entry; false when there is no such letter. */
  revive(partition: number, deadEntryId: string): Promise<boolean>
  stats(): Promise<OutboxStats>
}

/** The partition of a key: FNV-1a over its UTF-16 code units, modulo the partitions. */
export function outboxPartition (key: string, partitions: number): number {
  let hash = 0x811c9dc5
  for (let i = 0; i < key.length; i++) {
    hash ^= key.charCodeAt(i)
    hash = Math.imul(hash, 0x01000193)
  }
  return (hash >>> 0) % partitions
}

/** One notification of the feed, for the clients subscribed to its topic. */
export interface FeedEntry {
  topic: string
  message: string
}

/**
 * A short shared log of notifications for clients (results pushed over the WebSocket). Every
 * instance reads all of it from where it left off and passes on what its own clients listen to;
 * the oldest entries fall off past a bound, so a reader far behind loses them (clients can
 * always ask over HTTP). Not durable delivery: that is the outbox.
 */
export interface FeedStore {
  append(entry: FeedEntry): Promise<void>
  /** Up to `count` entries after `cursor`; a null cursor starts at the end (nothing before now). */
  read(cursor: string | null, count: number): Promise<{ entries: FeedEntry[], cursor: string }>
}

/** People claiming one address in one registration: keyed hashes only, never the clear values. */
export interface AddressClaim {
  registrationId: string
  /** Identity hashes of the people (gateway/domain/identity.ts): a person counts once, however often they claim. */
  people: string[]
  /** Keyed hashes of their folded last names. */
  lastNames: string[]
  /** The address's display form, sealed (gateway/domain/address.ts); the first claim's is kept. */
  sealedDisplay: string
  /** When, epoch ms. */
  at: number
  /** How long the address is kept after its last claim or request, ms: then it leaves the index. */
  retentionMs: number
}

/** What the index knows of one address. */
export interface AddressCluster {
  /** The address's keyed hash. */
  address: string
  /** Distinct people who claimed it. */
  claimants: number
  distinctLastNames: number
  /** Distinct registrations that claimed it. */
  registrations: number
  /** Distinct claimants who asked for each port of entry (by slug); ports never asked for are absent. */
  perPoe: Record<string, number>
  /** The first and the last claim or request, epoch ms. */
  firstSeen: number
  lastSeen: number
  sealedDisplay: string
}

/**
 * The shared-address index, kept up to date as people register and ask for ports, so a report
 * reads only the addresses it shows: never all registrations. Each address is its own hash tag
 * (one atomic step per claim); one ranking of addresses by claimants sits in a tag of its own.
 * Every write is idempotent (sets of people, names, registrations and port requests), so a
 * retried step never counts twice.
 */
export interface AddressIndexStore {
  /**
   * Adds the claim atomically on the address, then raises the address's place in the ranking to
   * its new claimant count (never lowers it: a retry or a late write converges on the true
   * count). Returns the claimant count.
   */
  claim(address: string, claim: AddressClaim): Promise<number>
  /** These people (claimants of the address) asked for `poe`: each counts once per port. Keeps the address `retentionMs` longer. */
  requested(address: string, poe: string, people: string[], at: number, retentionMs: number): Promise<void>
  /** Addresses with at least `minClaimants`, most claimants first (ties: address descending), from position `offset`, at most `count`. */
  top(minClaimants: number, offset: number, count: number): Promise<Array<{ address: string, claimants: number }>>
  /** How many addresses have at least `minClaimants`, and the most claimants any one has (0 when none), for the dashboards: two reads of the ranking, no scan. */
  extent(minClaimants: number): Promise<{ atOrAbove: number, most: number }>
  /** The clusters of these addresses, in order; null for an address never claimed. */
  clusters(addresses: readonly string[]): Promise<Array<AddressCluster | null>>
}

export interface Stores {
  readonly kind: 'memory' | 'redis'
  /**
   * The Redis connection behind the ports (Redis adapter only), for the one edge adapter that
   * needs Redis beyond them: the vendor's contract limiter (gateway/vendor/contract-limiter.ts).
   */
  readonly redisClient?: Redis | Cluster
  readonly kv: KeyValueStore
  readonly counters: CounterStore
  readonly sortedSets: SortedSetStore
  readonly rateLimits: RateLimitStore
  readonly windows: WindowStore
  readonly outbox: OutboxStore
  readonly feed: FeedStore
  readonly addresses: AddressIndexStore
  /** Resolves when the backing store answers; rejects otherwise. */
  ping(): Promise<void>
  close(): Promise<void>
}
