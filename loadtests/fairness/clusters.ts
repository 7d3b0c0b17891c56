// How many of the planted clusters (addresses claimed by many unrelated households across ports
// of entry) the officers' shared-address report finds, and whether it lists anything else. A
// planted cluster counts as found only with the claimant, family-name, registration and per-port
// counts its truth gives; any other address the report lists is a unique address flagged.
import type { SharedAddressReport } from '../../gateway/domain/shared-addresses.js'
import type { ClusterTruth } from '../synth/population.js'

export interface ClusterSearch {
  /** The officers' report over the run (the default floor, every cluster it finds). */
  report: SharedAddressReport
  /** What was planted (claimants and households per port). */
  planted: readonly ClusterTruth[]
}

export interface ClusterFinding {
  /** Planted clusters found with every count right (k of K = planted.length). */
  found: number
  /** Addresses the report lists that were not planted: households flagged as clusters. */
  unplanted: number
  /** A line per planted cluster not found exactly, saying what differed. */
  problems: string[]
}

export function plantedClustersFound (search: ClusterSearch): ClusterFinding {
  const rows = [...search.report.clusters]
  const problems: string[] = []
  let found = 0
  search.planted.forEach((t, i) => {
    const row = rows.find((r) => r.claimants === t.claimants && r.distinctLastNames === t.distinctLastNames)
    if (row === undefined) {
      problems.push(`planted cluster ${i + 1} (${t.claimants} people, ${t.distinctLastNames} family names) is not in the report`)
      return
    }
    rows.splice(rows.indexOf(row), 1)
    const perPoe = JSON.stringify(row.perPoe)
    if (perPoe !== JSON.stringify(t.claimantsPerPoe)) problems.push(`planted cluster ${i + 1}: per port ${perPoe}, planted ${JSON.stringify(t.claimantsPerPoe)}`)
    else if (row.registrations !== t.households) problems.push(`planted cluster ${i + 1}: ${row.registrations} registrations, planted ${t.households}`)
    else found++
  })
  return { found, unplanted: rows.length, problems }
}
