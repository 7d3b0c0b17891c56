// The cross-POE shared-address view for officers (issue 11; the evaluation's Table 3: 358 people,
// 266 last names, one house, all eight ports). Kept up to date as people register and ask for
// ports, in the store's address index, so the report reads the addresses it shows and never
// all registrations: its cost grows with the clusters it examines, not with registrants.
//
// What counts:
// - a claimant is a person (identity hash: first name, last name, date of birth) who named the
//   address in a registration; the same person in a second registration counts once;
// - last names are counted distinct, as keyed hashes: the proxy for "unrelated";
// - per port: claimants of the address whose registration asked for that port, once each;
// - claims made are claims counted: a withdrawn or expired registration still counts, as in the
//   evaluation, and so does a registration that failed after its claim was recorded (an attempt
//   to claim the address all the same; its people are counted once however often they retry).
import type { AddressCluster, Stores } from '../store/ports.js'
import { addressKey, displayAddress, lastNameKey, openAddress, sealAddress } from './address.js'
import type { RegistrationRecord } from './registrations.js'

export interface SharedAddressFilter {
  minClaimants: number
  minDistinctLastNames: number
  /** Only addresses claimed or asked for at or after this instant (epoch ms). */
  since?: number
  limit: number
}

export interface SharedAddressRow {
  rank: number
  /** The first 16 characters of the address's keyed hash: a stable reference that is not the address. */
  addressKey: string
  /** The normalised address as first claimed (officers are authorised to see it; logs never do). */
  address: string | null
  claimants: number
  distinctLastNames: number
  registrations: number
  /** Every configured port, 0 where nobody at this address asked for it. */
  perPoe: Record<string, number>
  firstSeen: string
  lastSeen: string
}

export interface SharedAddressReport {
  generatedAt: string
  filter: { minClaimants: number, minDistinctLastNames: number, since: string | null, limit: number }
  /** Addresses read from the ranking to build this answer. */
  examined: number
  /** False when the examination cap stopped the walk before the ranking's end: narrow the filter. */
  complete: boolean
  clusters: SharedAddressRow[]
}

export interface SharedAddressOptions {
  stores: Stores
  identityKey: Buffer
  /** Port slugs, in the order reports list them. */
  poes: readonly string[]
  /** Most addresses one report reads from the ranking (its cost bound). */
  maxExamined: number
  /** An address unclaimed and unasked for this long leaves the index, ms. */
  retentionMs: number
}

// Candidates are read from the ranking in pages of this many, each page's clusters in one round trip.
const PAGE = 200

export class SharedAddressIndex {
  readonly #stores: Stores
  readonly #key: Buffer
  readonly #poes: readonly string[]
  readonly #maxExamined: number
  readonly #retentionMs: number

  constructor (options: SharedAddressOptions) {
    this.#stores = options.stores
    this.#key = options.identityKey
    this.#poes = options.poes
    this.#maxExamined = options.maxExamined
    this.#retentionMs = options.retentionMs
  }

  /** Records a registration's claims: one per address its members named. */
  async recordRegistration (record: RegistrationRecord): Promise<void> {
    for (const [address, group] of this.#byAddress(record)) {
      await this.#stores.addresses.claim(address, {
        registrationId: record.registrationId,
        people: group.people,
        lastNames: [...new Set(group.lastNames)],
        sealedDisplay: sealAddress(this.#key, group.display),
        at: record.createdAtMs,
        retentionMs: this.#retentionMs
      })
    }
  }

  /** Records that a registration asked for a port: its claimants count once for that port. */
  async recordRequest (record: RegistrationRecord, poe: string, at: number): Promise<void> {
    for (const [address, group] of this.#byAddress(record)) await this.#stores.addresses.requested(address, poe, group.people, at, this.#retentionMs)
  }

  async report (filter: SharedAddressFilter, now: number): Promise<SharedAddressReport> {
    const { addresses } = this.#stores
    const found: AddressCluster[] = []
    // Pages are read by offset from a ranking whose scores only rise: an address that climbs
    // between two pages can be read twice. It is listed once.
    const seen = new Set<string>()
    let examined = 0
    let exhausted = false
    while (found.length < filter.limit && examined < this.#maxExamined) {
      const want = Math.min(PAGE, this.#maxExamined - examined)
      const page = await addresses.top(filter.minClaimants, examined, want)
      examined += page.length
      const clusters = await addresses.clusters(page.map((p) => p.address))
      for (const cluster of clusters) {
        if (cluster === null || seen.has(cluster.address)) continue
        seen.add(cluster.address)
        if (cluster.claimants < filter.minClaimants || cluster.distinctLastNames < filter.minDistinctLastNames) continue
        if (filter.since !== undefined && cluster.lastSeen < filter.since) continue
        found.push(cluster)
      }
      if (page.length < want) {
        exhausted = true
        break
      }
    }
    // The ranking can trail a count that a failed step did not raise yet: order by the counts read.
    found.sort((a, b) => b.claimants - a.claimants || b.distinctLastNames - a.distinctLastNames || (a.address < b.address ? 1 : -1))
    return {
      generatedAt: new Date(now).toISOString(),
      filter: { minClaimants: filter.minClaimants, minDistinctLastNames: filter.minDistinctLastNames, since: filter.since === undefined ? null : new Date(filter.since).toISOString(), limit: filter.limit },
      examined,
      complete: exhausted || found.length >= filter.limit,
      clusters: found.slice(0, filter.limit).map((cluster, i) => this.#row(cluster, i + 1))
    }
  }

  #row (cluster: AddressCluster, rank: number): SharedAddressRow {
    return {
      rank,
      addressKey: cluster.address.slice(0, 16),
      // Null when sealed under another identity key (rotated): the counts stand, the address cannot be shown.
      address: openAddress(this.#key, cluster.sealedDisplay),
      claimants: cluster.claimants,
      distinctLastNames: cluster.distinctLastNames,
      registrations: cluster.registrations,
      perPoe: Object.fromEntries(this.#poes.map((poe) => [poe, cluster.perPoe[poe] ?? 0])),
      firstSeen: new Date(cluster.firstSeen).toISOString(),
      lastSeen: new Date(cluster.lastSeen).toISOString()
    }
  }

  #byAddress (record: RegistrationRecord): Map<string, { people: string[], lastNames: string[], display: string }> {
    const groups = new Map<string, { people: string[], lastNames: string[], display: string }>()
    record.members.forEach((member, i) => {
      const key = addressKey(this.#key, member.usAddress)
      let group = groups.get(key)
      if (group === undefined) {
        group = { people: [], lastNames: [], display: displayAddress(member.usAddress) }
        groups.set(key, group)
      }
      group.people.push(record.identities[i] as string)
      group.lastNames.push(lastNameKey(this.#key, member.lastName))
    })
    return groups
  }
}
