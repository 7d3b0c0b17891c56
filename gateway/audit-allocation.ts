// `npm run audit:allocation -- --file draw.json`: replays a published draw (its revealed seed,
// its pool and slots) and says whether it matches. Exit 0 when it does, 1 when it does not,
// 2 when the file cannot be read.
import { readFileSync } from 'node:fs'
import { parseArgs } from 'node:util'
import { auditDraw, type DrawRecord } from './domain/draw-audit.js'

const { values } = parseArgs({ options: { file: { type: 'string' } } })
if (values.file === undefined) {
  process.stderr.write('audit:allocation: --file <draw record JSON> is required\n')
  process.exit(2)
}
let record: DrawRecord
try {
  record = JSON.parse(readFileSync(values.file, 'utf8')) as DrawRecord
} catch (err) {
  process.stderr.write(`audit:allocation: cannot read ${values.file}: ${(err as Error).message}\n`)
  process.exit(2)
}
const findings = auditDraw(record)
if (findings.length === 0) {
  process.stdout.write(`draw ${record.date}: matches (commitment, pool digest and ${record.entries.length} entries replayed)\n`)
} else {
  process.stdout.write(`draw ${record.date}: DOES NOT MATCH\n${findings.map((f) => `  - ${f}`).join('\n')}\n`)
  process.exit(1)
}
