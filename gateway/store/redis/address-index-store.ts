import { storeKey, type StoreKey } from '../keys.js'
import type { AddressClaim, AddressCluster, AddressIndexStore } from '../ports.js'
import type { ScriptedRedis } from './client.js'
import { guard } from './guard.js'

// Each address its own hash tag, so its claim is one script on one slot of a Cluster:
//   {addr.<hash>}:people  set of identity hashes      {addr.<hash>}:names  set of last-name hashes
//   {addr.<hash>}:regs    set of registration ids     {addr.<hash>}:poes   set of "<poe>:<person>"
//   {addr.<hash>}:meta    hash: display (sealed), firstSeen, lastSeen, poe:<slug> counts
// and one ranking of addresses scored by claimants, {trends}:addresses, beside the time each was
// last claimed or asked for, {trends}:addresses:seen.
//
// Retention: every key of an address expires its retention after its last claim or request
// (PEXPIRE, Redis' own clock), and each ranking step forgets up to FORGET_PER_STEP addresses
// unseen for longer (by the writers' clock), so neither the index nor the ranking grows forever.
//
// A claim is two steps on two slots: the address's script, then ZADD GT of the count it returned.
// If the second never happens (the process dies, Redis is away), the registration fails and
// its retry runs both again: the script changes nothing the second time, and ZADD GT of an
// absolute count is idempotent and never lowers a score, so the ranking converges on the true
// count whatever the order two racing claims land in. Until then the address ranks by its old
// count (or not at all, on its first claim): the next claim on it repairs that too.
const addressKeys = (address: string): StoreKey[] => ['people', 'names', 'regs', 'meta'].map((part) => storeKey(`addr.${address}`, part))
const requestsKey = (address: string): StoreKey => storeKey(`addr.${address}`, 'poes')
const RANKING = storeKey('trends', 'addresses')
const SEEN = storeKey('trends', 'addresses', 'seen')
const FORGET_PER_STEP = 64

export class RedisAddressIndexStore implements AddressIndexStore {
  readonly #redis: ScriptedRedis

  constructor (redis: ScriptedRedis) {
    this.#redis = redis
  }

  async claim (address: string, claim: AddressClaim): Promise<number> {
    const claimants = Number(await guard(this.#redis.gwAddressClaim(...addressKeys(address), requestsKey(address), claim.at, claim.sealedDisplay, claim.registrationId, claim.retentionMs, claim.people.length, ...claim.people, ...claim.lastNames)))
    if (claimants > 0) await guard(this.#redis.gwAddressRank(RANKING, SEEN, address, claimants, claim.at, claim.retentionMs, FORGET_PER_STEP))
    return claimants
  }

  async requested (address: string, poe: string, people: string[], at: number, retentionMs: number): Promise<void> {
    if (people.length === 0) return
    const [claimants, names, regs, meta] = addressKeys(address) as [StoreKey, StoreKey, StoreKey, StoreKey]
    const added = Number(await guard(this.#redis.gwAddressRequest(requestsKey(address), meta, claimants, names, regs, poe, at, retentionMs, ...people)))
    // An address never claimed or already forgotten is not kept in (or put back in) the ranking.
    if (added >= 0) await guard(this.#redis.gwAddressRank(RANKING, SEEN, address, 0, at, retentionMs, FORGET_PER_STEP))
  }

  async top (minClaimants: number, offset: number, count: number): Promise<Array<{ address: string, claimants: number }>> {
    const flat = await guard(this.#redis.zrevrangebyscore(RANKING, '+inf', minClaimants, 'WITHSCORES', 'LIMIT', offset, count))
    const out: Array<{ address: string, claimants: number }> = []
    for (let i = 0; i < flat.length; i += 2) out.push({ address: flat[i] as string, claimants: Number(flat[i + 1]) })
    return out
  }

  // One key, so one slot: a pipeline is legal on a Cluster too.
  async extent (minClaimants: number): Promise<{ atOrAbove: number, most: number }> {
    const replies = await guard(this.#redis.pipeline().zcount(RANKING, minClaimants, '+inf').zrevrange(RANKING, 0, 0, 'WITHSCORES').exec())
    if (replies === null) throw new Error('address ranking pipeline was discarded')
    for (const [err] of replies) if (err !== null) throw err
    const [[, atOrAbove], [, best]] = replies as [[null, number], [null, string[]]]
    return { atOrAbove: Number(atOrAbove), most: best.length === 2 ? Number(best[1]) : 0 }
  }

  // One script per address, all sent at once: a Cluster pipeline could not span their slots.
  async clusters (addresses: readonly string[]): Promise<Array<AddressCluster | null>> {
    return Promise.all(addresses.map(async (address) => {
      const [claimants, names, registrations, meta] = await guard(this.#redis.gwAddressRead(...addressKeys(address)))
      if (meta.length === 0) return null
      const fields = new Map<string, string>()
      for (let i = 0; i < meta.length; i += 2) fields.set(meta[i] as string, meta[i + 1] as string)
      const perPoe: Record<string, number> = {}
      for (const [field, value] of fields) if (field.startsWith('poe:')) perPoe[field.slice(4)] = Number(value)
      return {
        address,
        claimants,
        distinctLastNames: names,
        registrations,
        perPoe,
        firstSeen: Number(fields.get('firstSeen')),
        lastSeen: Number(fields.get('lastSeen')),
        sealedDisplay: fields.get('display') ?? ''
      }
    }))
  }
}
