// npm run report:fairness -- --synthetic [--registrants 50000] [--seed synthetic-2023] [--days 9] [--redis-url URL]
// Drives the synthetic population through the gateway's domain services (simulate.ts), then
// prints the draws' fairness figures added up, the multi-registrant advantage and the group check,
// and ends with
//   fairness: multi_registrant_advantage=<ratio> z=<z> planted_clusters_found=<k>/<K> groups_split=<n>
// where planted_clusters_found counts the planted addresses the officers' shared-address report
// (kept up by the same run) lists with every count right (clusters.ts).
// Exit 0 when z < 3, groups_split = 0, every planted cluster is found and no other address is
// flagged; 1 otherwise (an advantage that cannot be computed included); 2 on a bad option. The rules are the configured ones (GATEWAY_* as the gateway runs).
import { parseArgs } from 'node:util'
import { ConfigError, loadConfig } from '../../config/load.js'
import { fairnessTable } from '../../gateway/domain/fairness.js'
import { formatStat, multiRegistrantAdvantage } from './advantage.js'
import { plantedClustersFound } from './clusters.js'
import { MULTI_ATTEMPTS, simulate } from './simulate.js'

class OptionError extends Error {}

interface FairnessOptions { registrants: number, seed: string, days: number, redisUrl?: string }

function options (args: string[]): FairnessOptions {
  let values: Record<string, string | boolean | undefined>
  try {
    values = parseArgs({ args, options: { synthetic: { type: 'boolean' }, registrants: { type: 'string' }, seed: { type: 'string' }, days: { type: 'string' }, 'redis-url': { type: 'string' } }, strict: true, allowPositionals: false }).values
  } catch (err) {
    throw new OptionError((err as Error).message)
  }
  if (values.synthetic !== true) throw new OptionError('--synthetic is required: the fairness run works on the synthetic population (the gateway\'s own draws publish their figures; see npm run audit:allocation)')
  const registrants = values.registrants as string | undefined
  if (registrants !== undefined && !(/^\d+$/.test(registrants) && Number(registrants) >= 1_000 && Number(registrants) <= 1_000_000)) throw new OptionError(`--registrants must be a whole number from 1000 to 1000000, got "${registrants}"`)
  const days = values.days as string | undefined
  if (days !== undefined && !(/^\d+$/.test(days) && Number(days) >= 1 && Number(days) <= 60)) throw new OptionError(`--days must be a whole number of days from 1 to 60, got "${days}"`)
  const seed = (values.seed as string | undefined) ?? 'synthetic-2023'
  if (!/^[A-Za-z0-9._-]{1,64}$/.test(seed)) throw new OptionError(`--seed must be 1 to 64 letters, digits, dots, dashes or underscores, got "${seed}"`)
  const redisUrl = values['redis-url'] as string | undefined
  if (redisUrl !== undefined && !/^rediss?:\/\/\S+$/.test(redisUrl)) throw new OptionError(`--redis-url must be a redis:// or rediss:// URL, got "${redisUrl}"`)
  return { registrants: registrants === undefined ? 50_000 : Number(registrants), seed, days: days === undefined ? 9 : Number(days), ...(redisUrl === undefined ? {} : { redisUrl }) }
}

const pct = (winners: number, n: number): string => n === 0 ? 'n/a' : `${(100 * winners / n).toFixed(2)}%`

async function main (): Promise<number> {
  const o = options(process.argv.slice(2))
  let config
  try {
    config = loadConfig()
  } catch (err) {
    if (err instanceof ConfigError) throw new OptionError(err.message)
    throw err
  }
  const started = process.hrtime.bigint()
  const run = await simulate({ ...o, config, progress: (line) => process.stderr.write(`report:fairness: ${line}\n`) })
  const seconds = Number(process.hrtime.bigint() - started) / 1e9
  const advantage = multiRegistrantAdvantage(run.multi, run.single)
  // A planted house whose registrations came after the last close in part is expected with the
  // counts the run made; one left below the report's floor is not expected at all.
  const expected = run.plantedMade.filter((c) => c.claimants >= config.trends.defaultMinClaimants)
  const finding = plantedClustersFound({ report: run.sharedAddresses, planted: expected })
  const clusters = `${finding.found}/${expected.length}`
  const clusterNote = `shared-address report (at least ${config.trends.defaultMinClaimants} claimants): ${finding.found} of ${expected.length} planted clusters found with every count right (${run.truth.clusters.length} planted; counts as registered before the last close), ${finding.unplanted} other addresses flagged${finding.problems.length > 0 ? `; ${finding.problems.join('; ')}` : ''}`

  const lines: string[] = []
  lines.push(`synthetic population: seed ${o.seed}, ${run.truth.households} households (${run.truth.people} people), ${run.attempts} registration attempts over ${o.days} days`)
  lines.push(`registrations accepted ${run.created}; refused ${Object.entries(run.refused).sort((a, b) => b[1] - a[1]).map(([code, n]) => `${code} ${n}`).join(', ') || 'none'}; ${run.afterHorizon} attempts after the last draw's close not made`)
  lines.push(`daily places per port (scaled from the configured capacity × ${o.registrants} / 264,554, at least one full group per slot): ${Object.entries(run.capacity).map(([poe, n]) => `${poe} ${n}`).join(', ')}`)
  lines.push(`${run.draws} draws: ${run.figures.entrants} entries (registration-draws), ${run.figures.winners} given a place`)
  lines.push('')
  lines.push(fairnessTable(run.figures.rows))
  lines.push('')
  lines.push('| households | households | with a place | chance per person |')
  lines.push('| --- | ---: | ---: | ---: |')
  lines.push(`| tried ${MULTI_ATTEMPTS} or more times | ${run.multi.households} | ${run.multi.winners} | ${pct(run.multi.winners, run.multi.households)} |`)
  lines.push(`| tried once | ${run.single.households} | ${run.single.winners} | ${pct(run.single.winners, run.single.households)} |`)
  lines.push(`| of them at a planted address | ${run.planted.households} | ${run.planted.winners} | ${pct(run.planted.winners, run.planted.households)} |`)
  lines.push('')
  lines.push(`multi-registrant advantage ${formatStat(advantage.ratio, 3)} (SE ${formatStat(advantage.se, 3)}, z ${formatStat(advantage.z, 2)}; significant at z >= 3)`)
  lines.push(`groups given a place ${run.groupsPlaced}, split ${run.groupsSplit}`)
  lines.push(clusterNote)
  lines.push(`took ${seconds.toFixed(1)} s`)
  lines.push(`fairness: multi_registrant_advantage=${formatStat(advantage.ratio, 3)} z=${formatStat(advantage.z, 2)} planted_clusters_found=${clusters} groups_split=${run.groupsSplit}`)
  process.stdout.write(`${lines.join('\n')}\n`)
  return advantage.z < 3 && run.groupsSplit === 0 && finding.found === expected.length && finding.unplanted === 0 ? 0 : 1
}

main().then((code) => { process.exitCode = code }, (err: unknown) => {
  process.stderr.write(`report:fairness: ${err instanceof OptionError ? err.message : err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`)
  process.exitCode = err instanceof OptionError ? 2 : 1
})
