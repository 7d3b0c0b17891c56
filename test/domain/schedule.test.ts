import { describe, expect, it } from 'vitest'
import { addDays, lastDrawDate, poolDayTimes, scheduleAt, scheduleViewer } from '../../gateway/domain/schedule.js'

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

describe('poolDayTimes', () => {
  const iso = (t: { opensAt: number, closesAt: number, drawAt: number }) => ({ opensAt: new Date(t.opensAt).toISOString(), closesAt: new Date(t.closesAt).toISOString(), drawAt: new Date(t.drawAt).toISOString() })

  it.each([
    // pool date     opens (UTC)                   closes                       drawn                        hours open
    ['2026-11-24', '2026-11-23T17:00:00.000Z', '2026-11-24T16:00:00.000Z', '2026-11-24T16:00:00.000Z', 23],
    ['2026-03-08', '2026-03-07T17:00:00.000Z', '2026-03-08T15:00:00.000Z', '2026-03-08T15:00:00.000Z', 22],
    ['2026-03-09', '2026-03-08T16:00:00.000Z', '2026-03-09T15:00:00.000Z', '2026-03-09T15:00:00.000Z', 23],
    ['2026-11-01', '2026-10-31T16:00:00.000Z', '2026-11-01T16:00:00.000Z', '2026-11-01T16:00:00.000Z', 24]
  ])('pool %s opens %s, closes %s, is drawn %s (%i hours open)', (date, opensAt, closesAt, drawAt, hours) => {
    const times = poolDayTimes(date, rules)
    expect(iso(times)).toEqual({ opensAt, closesAt, drawAt })
    expect((times.closesAt - times.opensAt) / 3600_000).toBe(hours)
  })

  it('agrees with scheduleAt: a request made while the window is open joins the pool that window belongs to', () => {
    for (const date of ['2026-03-08', '2026-11-01', '2026-11-24']) {
      const { opensAt, closesAt } = poolDayTimes(date, rules)
      expect(scheduleAt(opensAt, rules)).toMatchObject({ poolDate: date, requestWindow: { open: true } })
      expect(scheduleAt(closesAt - 1, rules)).toMatchObject({ poolDate: date, requestWindow: { open: true } })
      expect(scheduleAt(closesAt, rules).requestWindow.open).toBe(false)
    }
  })

  it('handles a window inside one day, and a draw after midnight', () => {
    const day = { ...rules, requestWindowOpensAt: '09:00', requestWindowClosesAt: '17:00', allocationAt: '18:00' }
    expect(iso(poolDayTimes('2026-11-24', day))).toEqual({ opensAt: '2026-11-24T14:00:00.000Z', closesAt: '2026-11-24T22:00:00.000Z', drawAt: '2026-11-24T23:00:00.000Z' })
    const late = { ...rules, requestWindowOpensAt: '08:00', requestWindowClosesAt: '23:00', allocationAt: '01:00' }
    expect(iso(poolDayTimes('2026-11-24', late))).toEqual({ opensAt: '2026-11-23T13:00:00.000Z', closesAt: '2026-11-24T04:00:00.000Z', drawAt: '2026-11-24T06:00:00.000Z' })
  })
})

describe('lastDrawDate and addDays', () => {
  it('names the pool date whose draw time is the latest passed', () => {
    expect(lastDrawDate(Date.parse('2026-11-24T15:59:59.999Z'), rules)).toBe('2026-11-23')
    expect(lastDrawDate(Date.parse('2026-11-24T16:00:00.000Z'), rules)).toBe('2026-11-24')
    // 10:30 EDT on the day clocks go forward: the day's 11:00 has not come yet.
    expect(lastDrawDate(Date.parse('2026-03-08T14:30:00Z'), rules)).toBe('2026-03-07')
    expect(lastDrawDate(Date.parse('2026-03-08T15:00:00Z'), rules)).toBe('2026-03-08')
  })

  it('moves calendar dates, across months and years', () => {
    expect(addDays('2026-03-01', -1)).toBe('2026-02-28')
    expect(addDays('2026-12-31', 1)).toBe('2027-01-01')
  })
})
