// GET /v1/ops/trends/shared-addresses (officer): addresses claimed by many people across all
// ports, ranked by claimants with the per-port breakdown, as JSON or CSV (Accept: text/csv).
// Every access is audit-logged by who, when and which filter, never by what it showed.
import Negotiator from 'negotiator'
import Type from 'typebox'
import type { FastifyPluginAsync } from 'fastify'
import type { SharedAddressFilter, SharedAddressReport } from '../../domain/shared-addresses.js'
import { GatewayError } from '../../errors.js'
import { toCsv } from '../../lib/csv.js'
import { appendVary } from '../../lib/vary.js'
import { errorResponses } from '../../schemas/error.js'

// Query strings are strings (the server never coerces types): counts are digits, checked below.
const COUNT = (description: string) => Type.Optional(Type.String({ pattern: '^[0-9]{1,7}$', description }))
const MEDIA_TYPES = ['application/json', 'text/csv']

interface Query {
  minClaimants?: string
  minDistinctLastNames?: string
  since?: string
  limit?: string
}

const trends: FastifyPluginAsync = async function (fastify) {
  const { trends: rules, poes, registrations } = fastify.config
  // One registration holds at most maxMembers people: at or below that, an address is a family
  // at home unless their last names differ, and a report of such addresses would be a directory.
  const familyFloor = registrations.maxMembers + 1
  const slugs = poes.map((p) => p.slug)

  fastify.get('/v1/ops/trends/shared-addresses', {
    config: { roles: ['officer'] },
    // Every access is audited, refused ones too (a bad filter, a format it cannot give, the store
    // away): who, the answer's status and which filter fields were named; never their values,
    // which a refused query may have filled with anything.
    onResponse: async function (request, reply) {
      if (reply.statusCode < 400) return
      request.log.info({ audit: 'shared-address-report', officer: request.principal?.subject, status: reply.statusCode, fields: Object.keys(request.query ?? {}).sort() }, 'shared-address report refused')
    },
    schema: {
      tags: ['ops'],
      summary: 'Addresses claimed by many people across all ports of entry, most claimants first, with the per-port breakdown; JSON, or CSV with Accept: text/csv',
      security: [{ bearer: [] }],
      querystring: Type.Object({
        minClaimants: COUNT(`least claimants (people) an address needs, at least 2, and above ${registrations.maxMembers} (a registration's largest group) unless minDistinctLastNames is 2 or more; default ${rules.defaultMinClaimants}`),
        minDistinctLastNames: COUNT('least distinct last names among them, at least 1; default 1'),
        since: Type.Optional(Type.String({ format: 'date-time', description: 'only addresses claimed or asked for at or after this instant (ISO 8601 with offset)' })),
        limit: COUNT(`most clusters listed, 1 to ${rules.maxLimit}; default ${rules.defaultLimit}`)
      }, { additionalProperties: false }),
      response: {
        200: Type.Object({
          generatedAt: Type.String(),
          filter: Type.Object({ minClaimants: Type.Integer(), minDistinctLastNames: Type.Integer(), since: Type.Union([Type.String(), Type.Null()]), limit: Type.Integer() }),
          examined: Type.Integer({ description: 'addresses read from the ranking for this answer' }),
          complete: Type.Boolean({ description: `false when GATEWAY_TRENDS_MAX_EXAMINED (${rules.maxExamined}) addresses were read before the filter was satisfied: narrow it` }),
          clusters: Type.Array(Type.Object({
            rank: Type.Integer(),
            addressKey: Type.String({ description: 'the start of the address\'s keyed hash: a reference that is not the address' }),
            address: Type.Union([Type.String(), Type.Null()], { description: 'normalised, as first claimed; null if sealed under a former identity key' }),
            claimants: Type.Integer(),
            distinctLastNames: Type.Integer(),
            registrations: Type.Integer(),
            perPoe: Type.Object(Object.fromEntries(slugs.map((slug) => [slug, Type.Integer()])), { description: 'claimants who asked for each port' }),
            firstSeen: Type.String(),
            lastSeen: Type.String()
          }))
        }),
        ...errorResponses(400, 401, 403, 406, 429, 503)
      }
    }
  }, async function (request, reply) {
    const query = request.query as Query
    const filter = filterOf(query, rules, familyFloor)
    const csv = new Negotiator({ headers: { accept: bareMediaTypes(request.headers.accept) } }).mediaType(MEDIA_TYPES)
    if (csv === undefined) throw new GatewayError('GW_ERR_REQUEST_NOT_ACCEPTABLE')
    const report = await fastify.sharedAddresses.report(filter, fastify.clock.now())
    // Who, when (the line's time) and which filter; never an address or a count per address.
    request.log.info({ audit: 'shared-address-report', officer: request.principal?.subject, filter: report.filter, format: csv === 'text/csv' ? 'csv' : 'json', clusters: report.clusters.length, examined: report.examined }, 'shared-address report read')
    appendVary(reply, 'Accept')
    // Officers' answers hold addresses: no cache keeps them.
    reply.header('cache-control', 'no-store')
    if (csv !== 'text/csv') return report
    const date = report.generatedAt.slice(0, 10)
    return reply
      .type('text/csv; charset=utf-8')
      .header('content-disposition', `attachment; filename="shared-addresses-${date}.csv"`)
      .send(csvOf(report, slugs))
  })
}

function filterOf (query: Query, rules: { defaultMinClaimants: number, defaultLimit: number, maxLimit: number }, familyFloor: number): SharedAddressFilter {
  const fields: string[] = []
  const count = (name: keyof Query, fallback: number, min: number, max: number): number => {
    const raw = query[name]
    if (raw === undefined) return fallback
    const value = Number(raw)
    if (value < min || value > max) fields.push(`/querystring/${name}`)
    return value
  }
  const minClaimants = count('minClaimants', rules.defaultMinClaimants, 2, 1_000_000)
  const minDistinctLastNames = count('minDistinctLastNames', 1, 1, 1_000_000)
  const limit = count('limit', rules.defaultLimit, 1, rules.maxLimit)
  // Fewer claimants than one registration can hold only with unrelated names among them.
  if (minClaimants < familyFloor && minDistinctLastNames < 2 && !fields.includes('/querystring/minClaimants')) fields.push('/querystring/minClaimants')
  // The date-time format takes what Date cannot read (a leap second, 23:59:60): refused, not a 500.
  const since = query.since === undefined ? undefined : Date.parse(query.since)
  if (since !== undefined && !Number.isFinite(since)) fields.push('/querystring/since')
  if (fields.length > 0) throw new GatewayError('GW_ERR_REQUEST_INVALID', { fields })
  return { minClaimants, minDistinctLastNames, limit, ...(since === undefined ? {} : { since }) }
}

// Negotiator matches a type's parameters exactly, so "text/csv; charset=utf-8" would find no
// type; only q counts here.
function bareMediaTypes (accept: string | undefined): string | undefined {
  if (accept === undefined) return undefined
  return accept.split(',').map((part) => {
    const [type, ...params] = part.split(';').map((p) => p.trim())
    const q = params.find((p) => /^q=/i.test(p))
    return q === undefined ? type : `${type ?? ''};${q}`
  }).join(',')
}

function csvOf (report: SharedAddressReport, slugs: readonly string[]): string {
  const header = ['rank', 'address_key', 'address', 'claimants', 'distinct_last_names', 'registrations', ...slugs.map((s) => `poe_${s}`), 'first_seen', 'last_seen']
  const rows = report.clusters.map((c) => [c.rank, c.addressKey, c.address, c.claimants, c.distinctLastNames, c.registrations, ...slugs.map((s) => c.perPoe[s] ?? 0), c.firstSeen, c.lastSeen])
  return toCsv(header, rows)
}

export default trends
