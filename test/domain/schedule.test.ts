import { describe, expect, it } from 'vitest'
import { scheduleAt, scheduleViewer } from '../../gateway/domain/schedule.js'

const rules = { timezone: 'America/New_York', requestWindowOpensAt: '12:00', requestWindowClosesAt: '11:00', allocationAt: '11:00' }

describe('scheduleAt', () => {
  it.each([
    // instant (UTC)              open   next change                       next draw                        pool date
    ['2026-11-23T16:59:59.999Z', false, '2026-11-23T12:00:00.000-05:00', '2026-11-24T11:00:00.000-05:00', '2026-11-24'],
    ['2026-11-23T17:00:00.000Z', true, '2026-11-24T11:00:00.000-05:00', '2026-11-24T11:00:00.000-05:00', '2026-11-24'],
    ['2026-11-24T14:00:00.000Z', true, '2026-11-24T11:00:00.000-05:00', '2026-11-24T11:00:00.000-05:00', '2026-11-24'],
    ['2026-11-24T16:00:00.000Z', false, '2026-11-24T12:00:00.000-05:00', '2026-11-25T11:00:00.000-05:00', '2026-11-25'],
    // The night clocks go forward (8 March 2026): 11:00 and 12:00 are EDT, UTC-4.
    ['2026-03-08T06:30:00.000Z', true, '2026-03-08T11:00:00.000-04:00', '2026-03-08T11:00:00.000-04:00', '2026-03-08'],
    // The night clocks go back (1 November 2026).
    ['2026-11-01T05:30:00.000Z', true, '2026-11-01T11:00:00.000-05:00', '2026-11-01T11:00:00.000-05:00', '2026-11-01']
  ])('at %s: open=%s, next change %s, next draw %s, pool %s', (instant, open, nextChange, nextDraw, poolDate) => {
    const state = scheduleAt(Date.parse(instant), rules)
    expect(state.requestWindow).toEqual({ open, opensAt: '12:00', closesAt: '11:00', nextChangeAt: nextChange })
    expect(state.nextAllocationAt).toBe(nextDraw)
    expect(state.poolDate).toBe(poolDate)
    expect(state.timezone).toBe('America/New_York')
  })

  it('handles a window inside one day', () => {
    const day = { ...rules, requestWindowOpensAt: '09:00', requestWindowClosesAt: '17:00', allocationAt: '18:00' }
    expect(scheduleAt(Date.parse('2026-11-23T15:00:00Z'), day).requestWindow.open).toBe(true)
    expect(scheduleAt(Date.parse('2026-11-23T23:00:00Z'), day).requestWindow.open).toBe(false)
  })
})

describe('scheduleViewer', () => {
  it('recomputes once a second, not once a request', () => {
    let now = Date.parse('2026-11-23T16:59:59.200Z')
    const view = scheduleViewer(rules, [], () => now)
    const a = view()
    now += 500
    expect(view()).toBe(a)
    now += 400
    const b = view()
    expect(b).not.toBe(a)
    expect(b.requestWindow.open).toBe(true)
    expect(b.now).toBe('2026-11-23T12:00:00.000-05:00')
  })
})
