import { describe, expect, it } from 'vitest'
import { maxInAnyWindow } from '../../../loadtests/lib/sliding-window.js'

describe('maxInAnyWindow', () => {
  it('counts the busiest window [t, t + width), whatever the calendar seconds', () => {
    // 3 in the second [0, 1000) and 3 in [1000, 2000), but 4 in [300, 1300).
    expect(maxInAnyWindow([0, 300, 700, 1000, 1299.9, 1300])).toBe(4)
  })

  it('leaves out an event exactly one width later', () => {
    expect(maxInAnyWindow([0, 500, 1000])).toBe(2)
    expect(maxInAnyWindow([0, 500, 999.999])).toBe(3)
  })

  it('takes times in any order, repeated times and other widths', () => {
    expect(maxInAnyWindow([1300, 0, 1000, 300, 1299.9, 700])).toBe(4)
    expect(maxInAnyWindow([5, 5, 5, 5])).toBe(4)
    expect(maxInAnyWindow([0, 100, 200, 300], 150)).toBe(2)
    expect(maxInAnyWindow([])).toBe(0)
  })

  it('refuses a window that is not positive', () => {
    expect(() => maxInAnyWindow([1], 0)).toThrow('widthMs must be a positive number')
  })
})
