// The one place where the shared-address report plugs into the fairness run: how many of the
// planted clusters (addresses claimed by many unrelated households across ports of entry) the
// officers' report finds among the registrations the gateway accepted. That report is built
// elsewhere (issue 11, the shared-address trend report); until it is wired here this throws, and
// the run prints `planted_clusters_found=n/a` instead of a made-up count.
import type { RegistrationView } from '../../gateway/domain/registrations.js'
import type { ClusterTruth } from '../synth/population.js'

export class NotWiredError extends Error {}

export interface ClusterSearch {
  /** The accepted registrations, as the store holds them. */
  registrations: readonly RegistrationView[]
  /** What was planted (addresses as first written, claimants and households per port). */
  planted: readonly ClusterTruth[]
}

/** How many planted clusters the shared-address report finds (k of K = planted.length). */
export function plantedClustersFound (_search: ClusterSearch): number {
  throw new NotWiredError('not wired: the shared-address report is not in this build yet')
}
