// When the request window is open and when the next draw runs, in the configured time zone.
// Pure: time comes in as an argument. Luxon does the zone arithmetic, DST included.
import { DateTime } from 'luxon'

export interface ScheduleRules {
  timezone: string
  requestWindowOpensAt: string
  requestWindowClosesAt: string
  allocationAt: string
}

export interface ScheduleState {
  now: string
  timezone: string
  requestWindow: {
    open: boolean
    opensAt: string
    closesAt: string
    /** When the window next opens (if closed) or closes (if open). */
    nextChangeAt: string
  }
  nextAllocationAt: string
  /** The local date of the draw a request made now joins. */
  poolDate: string
}

function parts (hhmm: string): { hour: number, minute: number } {
  const [hour, minute] = hhmm.split(':').map(Number) as [number, number]
  return { hour, minute }
}

// The first moment strictly after `from` whose local wall time is hh:mm. Strictly, so that at
// 12:00:00.000 the window has just opened and the next opening is tomorrow's.
function nextLocal (from: DateTime, hhmm: string): DateTime {
  const at = from.set({ ...parts(hhmm), second: 0, millisecond: 0 })
  return at > from ? at : from.plus({ days: 1 }).set({ ...parts(hhmm), second: 0, millisecond: 0 })
}

export function scheduleAt (epochMs: number, rules: ScheduleRules): ScheduleState {
  const local = DateTime.fromMillis(epochMs, { zone: rules.timezone })
  const nextOpen = nextLocal(local, rules.requestWindowOpensAt)
  const nextClose = nextLocal(local, rules.requestWindowClosesAt)
  // Open exactly when the next closing comes before the next opening.
  const open = nextClose < nextOpen
  const nextAllocation = nextLocal(local, rules.allocationAt)
  return {
    now: local.toISO() as string,
    timezone: rules.timezone,
    requestWindow: {
      open,
      opensAt: rules.requestWindowOpensAt,
      closesAt: rules.requestWindowClosesAt,
      nextChangeAt: (open ? nextClose : nextOpen).toISO() as string
    },
    nextAllocationAt: nextAllocation.toISO() as string,
    poolDate: nextAllocation.toISODate() as string
  }
}

export interface PoeCapacity {
  slug: string
  name: string
  state: string
  dailyCapacity: number
}

export interface ScheduleView extends ScheduleState {
  poes: readonly PoeCapacity[]
}

/**
 * The schedule every phone polls, recomputed at most once a second: it changes by the minute,
 * and zone arithmetic per request would cost more than the rest of the route.
 */
export function scheduleViewer (rules: ScheduleRules, poes: readonly PoeCapacity[], now: () => number): () => ScheduleView {
  let second = -1
  let view: ScheduleView | undefined
  return () => {
    const epochMs = now()
    const current = Math.floor(epochMs / 1000)
    if (view === undefined || current !== second) {
      second = current
      view = { ...scheduleAt(current * 1000, rules), poes }
    }
    return view
  }
}

/** The instants (epoch ms) that bound one pool day: its window opens, closes, and it is drawn. */
export interface PoolDayTimes {
  opensAt: number
  closesAt: number
  drawAt: number
}

function atLocal (date: DateTime, hhmm: string): DateTime {
  return date.set({ ...parts(hhmm), second: 0, millisecond: 0 })
}

/**
 * When pool day `date` (YYYY-MM-DD, local) opens, closes and is drawn: the draw at allocationAt
 * on that date, the last closing at or before it, and the last opening before that. Computed in
 * local wall time, so a window across a daylight-saving change is 22 or 24 hours long, never
 * shifted by one.
 */
export function poolDayTimes (date: string, rules: ScheduleRules): PoolDayTimes {
  const day = DateTime.fromISO(date, { zone: rules.timezone })
  const drawAt = atLocal(day, rules.allocationAt)
  let closesAt = atLocal(day, rules.requestWindowClosesAt)
  if (closesAt > drawAt) closesAt = atLocal(day.minus({ days: 1 }), rules.requestWindowClosesAt)
  let opensAt = atLocal(closesAt.startOf('day'), rules.requestWindowOpensAt)
  if (opensAt >= closesAt) opensAt = atLocal(closesAt.startOf('day').minus({ days: 1 }), rules.requestWindowOpensAt)
  return { opensAt: opensAt.toMillis(), closesAt: closesAt.toMillis(), drawAt: drawAt.toMillis() }
}

/** The pool date whose draw time is the latest at or before `epochMs`. */
export function lastDrawDate (epochMs: number, rules: ScheduleRules): string {
  const local = DateTime.fromMillis(epochMs, { zone: rules.timezone })
  const today = atLocal(local, rules.allocationAt)
  return (today.toMillis() <= epochMs ? today : atLocal(local.minus({ days: 1 }), rules.allocationAt)).toISODate() as string
}

/** The local date `days` after `date` (negative for before). */
export function addDays (date: string, days: number): string {
  return DateTime.fromISO(date, { zone: 'UTC' }).plus({ days }).toISODate() as string
}
