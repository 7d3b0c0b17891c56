// npm run synth -- --registrants 264554 [--seed S] [--days 9] [--out DIR]
// Writes a synthetic population (population.ts) as DIR/registrations.ndjson (one registration
// attempt a line, in time order) and DIR/truth.json (the ground truth: planted clusters with
// their counts per port of entry, languages, multi-registrants), prints a summary, and ends with
//   synth: registrants=<n> registrations=<n> people=<n> clusters=<k> seed=<s>
// Exit 0, or 2 on a bad option. The default DIR is synthetic-population/<seed>/.
import { createWriteStream } from 'node:fs'
import { mkdir, writeFile } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { once } from 'node:events'
import { parseArgs } from 'node:util'
import { defaults } from '../../config/defaults.js'
import { PopulationError, population } from './population.js'

class OptionError extends Error {}

function options (args: string[]): { registrants: number, seed: string, days: number, out: string } {
  let values: Record<string, string | undefined>
  try {
    values = parseArgs({ args, options: { registrants: { type: 'string' }, seed: { type: 'string' }, days: { type: 'string' }, out: { type: 'string' } }, strict: true, allowPositionals: false }).values
  } catch (err) {
    throw new OptionError((err as Error).message)
  }
  const raw = values.registrants
  if (raw === undefined) throw new OptionError('--registrants is required, for example --registrants 264554')
  if (!/^\d+$/.test(raw)) throw new OptionError(`--registrants must be a whole number, got "${raw}"`)
  const days = values.days === undefined ? 9 : Number(values.days)
  if (values.days !== undefined && !/^\d+(\.\d+)?$/.test(values.days)) throw new OptionError(`--days must be a number of days, got "${values.days}"`)
  const seed = values.seed ?? 'synthetic-2023'
  if (!/^[A-Za-z0-9._-]{1,64}$/.test(seed)) throw new OptionError(`--seed must be 1 to 64 letters, digits, dots, dashes or underscores, got "${seed}"`)
  return { registrants: Number(raw), seed, days, out: resolve(values.out ?? join('synthetic-population', seed)) }
}

async function main (): Promise<void> {
  const o = options(process.argv.slice(2))
  const poes = defaults.poes.map((p) => p.slug)
  let pop
  try {
    pop = population({ registrants: o.registrants, seed: o.seed, days: o.days, poes })
  } catch (err) {
    if (err instanceof PopulationError) throw new OptionError(err.message)
    throw err
  }
  await mkdir(o.out, { recursive: true })
  const file = join(o.out, 'registrations.ndjson')
  const out = createWriteStream(file)
  for (const r of pop.registrations()) {
    if (!out.write(`${JSON.stringify(r)}\n`)) await once(out, 'drain')
  }
  out.end()
  await once(out, 'finish')
  const truth = pop.truth
  await writeFile(join(o.out, 'truth.json'), `${JSON.stringify({ seed: o.seed, registrants: o.registrants, days: o.days, ...truth }, null, 2)}\n`)

  const lines: string[] = []
  lines.push(`households ${truth.households}, registration attempts ${truth.registrations}, people ${truth.people}`)
  lines.push(`multi-registrants ${truth.multiRegistrants} (10 to 30 registrations each) and ${truth.heavyRegistrants} heavy (100 to 400)`)
  lines.push(`languages: ${Object.entries(truth.languages).sort((a, b) => b[1] - a[1]).map(([l, n]) => `${l} ${(100 * n / truth.households).toFixed(1)}%`).join(', ')}`)
  lines.push('| planted address | claimants | family names | households | POEs |')
  lines.push('| --- | --- | --- | --- | --- |')
  for (const c of truth.clusters) lines.push(`| ${c.address.line1}, ${c.address.city} ${c.address.state} | ${c.claimants} | ${c.distinctLastNames} | ${c.households} | ${c.poes} |`)
  lines.push(`wrote ${file} and ${join(o.out, 'truth.json')}`)
  lines.push(`synth: registrants=${o.registrants} registrations=${truth.registrations} people=${truth.people} clusters=${truth.clusters.length} seed=${o.seed}`)
  process.stdout.write(`${lines.join('\n')}\n`)
}

main().catch((err: unknown) => {
  process.stderr.write(`synth: ${err instanceof OptionError ? err.message : err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`)
  process.exitCode = 2
})
