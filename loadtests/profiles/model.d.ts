// Types of model.js (plain JavaScript so that k6 can import it too).

export type TxType = 'schedule' | 'status-poll' | 'registration' | 'appointment-request' | 'liveness-upload'
export type Behaviour = 'naive' | 'polite'
export type TimeUnit = '1s' | '1m' | '1h'

export const TX_TYPES: readonly TxType[]
export const BEHAVIOURS: readonly Behaviour[]

export interface ConstantArrival {
  model: 'open'
  kind: 'constant'
  /** Arrivals per timeUnit. */
  rate: number
  timeUnit: TimeUnit
  durationSeconds: number
}

export interface SurgeSegment {
  durationSeconds: number
  /** Share of all devices arriving in this segment, spread evenly over it. */
  share: number
}

export interface SurgeArrival {
  model: 'open'
  kind: 'surge'
  /** Unique devices arriving in all. */
  devices: number
  timeUnit: TimeUnit
  /** Which opening the surge is aimed at: the request window's, a waiting room's, or now. */
  opening: { source: 'request-window' | 'waiting-room' | 'now', room?: string, maxWaitSeconds: number }
  /** Seconds of the shape before the opening (whole segments). */
  leadSeconds: number
  shape: SurgeSegment[]
}

export interface LatencySlo {
  p95: number
  p99: number
}

export interface Profile {
  name: string
  description: string
  arrival: ConstantArrival | SurgeArrival
  /** One transaction per arrival, picked by share. */
  mix?: Partial<Record<TxType, number>>
  /** One new device per arrival, going through these steps. */
  journey?: { steps: TxType[], thinkSeconds: number }
  client: { behaviour: Behaviour, maxAttempts: number, maxWaitSeconds: number }
  /** Synthetic client addresses (X-Forwarded-For): 0 gives each arrival its own. */
  network: { addresses: number }
  /** Distinct accounts (bearer tokens) at scale 1; absent: one per arrival. */
  accounts?: number
  vus: { preAllocated: number, max: number }
  slo: {
    /** Share of requests answered 5xx or not at all. */
    serverErrorRate?: number
    /** Share of requests answered 5xx other than a deliberate 503 with Retry-After, or not at all. */
    unexpectedServerErrorRate: number
    droppedIterations: number
    latencyMs: Partial<Record<TxType, LatencySlo>>
  }
}

export interface SurgePlan {
  timeUnit: TimeUnit
  startRate: number
  stages: Array<{ durationSeconds: number, target: number }>
}

export class ProfileError extends Error {}
export function validateProfile (value: unknown, source: string, expectedName?: string): Profile
export function checkScale (scale: number): number
export function parseScale (text: string | undefined | null): number
export function timeUnitSeconds (unit: string): number
export function perSecond (profile: Profile, scale: number): number
export function surgeStages (profile: Profile, scale: number): SurgePlan
export function durationSeconds (profile: Profile): number
export function constantRate (profile: Profile, scale: number): number
export function totalArrivals (profile: Profile, scale: number): number
export function surgeArrivalsBetween (profile: Profile, scale: number, fromSecond: number, toSecond: number): number
export function vusFor (profile: Profile, scale: number): { preAllocatedVUs: number, maxVUs: number }
export function tokensNeeded (profile: Profile, scale: number): number
export function transactionsPerArrival (profile: Profile): number
export function mixPick (mix: Partial<Record<TxType, number>>, k: number): TxType
