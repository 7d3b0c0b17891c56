// Replays a published draw (its revealed seed, its sealed pool and slots) and says whether it
// matches:
//   npm run audit:allocation -- --date 2026-11-24   the record kept in the gateway's Redis
//                                                   (REDIS_URL and GATEWAY_* as the gateway runs)
//   npm run audit:allocation -- --file draw.json    a record exported from
//                                                   GET /v1/ops/allocations/:date/record
// It prints the draw's fairness figures as published (entrants and winners by language,
// nationality, registration age and group size), then the verdict.
// Exit 0 when it matches, 1 when it does not, 2 when the record cannot be had.
import { readFileSync } from 'node:fs'
import { parseArgs } from 'node:util'
import { ConfigError, loadConfig, usesRedis } from '../config/load.js'
import { AllocationService } from './domain/allocations.js'
import { EventPublisher } from './domain/events.js'
import { auditDraw, type DrawRecord } from './domain/draw-audit.js'
import { fairnessTable } from './domain/fairness.js'
import { GatewayError, LANGUAGES } from './errors.js'
import { createStores } from './store/index.js'

function fail (message: string): never {
  process.stderr.write(`audit:allocation: ${message}\n`)
  process.exit(2)
}

async function fromStore (date: string): Promise<DrawRecord> {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(date)) fail(`--date must be a pool date as YYYY-MM-DD, got "${date}"`)
  let config
  try {
    config = loadConfig()
  } catch (err) {
    if (err instanceof ConfigError) fail(err.message)
    throw err
  }
  if (!usesRedis(config.store)) {
    fail('--date reads the record from Redis, and neither REDIS_URL nor REDIS_CLUSTER_NODES is set. The embedded store lives inside the gateway process: export the record with GET /v1/ops/allocations/:date/record and use --file')
  }
  const stores = await createStores(config.store)
  try {
    const allocations = new AllocationService({
      stores,
      clock: { now: () => Date.now() },
      rules: { ...config.allocation, confirmationHours: config.schedule.confirmationHours, sealGraceMs: 0, lapseGraceMs: 0, poes: config.poes, schedule: config.schedule, validationSlots: config.registrations.maxMembers, fairness: { languages: LANGUAGES, ...config.fairness } },
      // Reading a record never draws nor writes an index.
      draw: async () => { throw new Error('the audit replays the draw itself') },
      dobDigest: () => { throw new Error('the audit writes no index') },
      // Nor produces an event.
      events: new EventPublisher({ outbox: stores.outbox, clock: { now: () => Date.now() }, recoverAfterMs: config.delivery.recoverAfterSeconds * 1000 })
    })
    return await allocations.record(date)
  } catch (err) {
    if (err instanceof GatewayError && err.code === 'GW_ERR_ALLOC_NOT_FOUND') fail(`no draw record for ${date} in this store (not drawn yet, or older than 60 days)`)
    fail(`cannot read the record for ${date}: ${(err as Error).message}`)
  } finally {
    await stores.close()
  }
}

function fromFile (file: string): DrawRecord {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as DrawRecord
  } catch (err) {
    fail(`cannot read ${file}: ${(err as Error).message}`)
  }
}

const { values } = parseArgs({ options: { file: { type: 'string' }, date: { type: 'string' } } })
if ((values.file === undefined) === (values.date === undefined)) fail('give one of --date <YYYY-MM-DD> (read from REDIS_URL) or --file <draw record JSON>')
const record = values.date !== undefined ? await fromStore(values.date) : fromFile(values.file as string)
const findings = auditDraw(record)
// The published fairness figures, before the verdict so the verdict stays the last line.
if (record.fairness !== undefined) process.stdout.write(`fairness of the draw of ${record.date} (registrations; ages at ${record.fairness.at}):\n${fairnessTable(record.fairness.rows)}\n`)
if (findings.length === 0) {
  process.stdout.write(`draw ${record.date}: matches (commitment, pool digest and ${record.entries.length} entries replayed)\n`)
} else {
  process.stdout.write(`draw ${record.date}: DOES NOT MATCH\n${findings.map((f) => `  - ${f}`).join('\n')}\n`)
  process.exit(1)
}
