import { describe, expect, it } from 'vitest'
import { ManualClock } from '../../gateway/store/clock.js'
import { buildApp } from '../helpers/app.js'
import { applicant } from '../helpers/tokens.js'

describe('GET /v1/schedule', () => {
  it('says whether the window is open, when the next draw runs and each POE\'s capacity', async () => {
    const clock = new ManualClock(Date.parse('2026-11-23T14:00:00Z'))
    const gateway = await buildApp({ clock })
    try {
      const res = await gateway.inject({ url: '/v1/schedule', headers: applicant() })
      expect(res.statusCode).toBe(200)
      const body = res.json()
      expect(body).toMatchObject({
        now: '2026-11-23T09:00:00.000-05:00',
        timezone: 'America/New_York',
        requestWindow: { open: true, opensAt: '12:00', closesAt: '11:00', nextChangeAt: '2026-11-23T11:00:00.000-05:00' },
        nextAllocationAt: '2026-11-23T11:00:00.000-05:00',
        poolDate: '2026-11-23'
      })
      expect(body.poes).toHaveLength(8)
      expect(body.poes[0]).toEqual({ slug: 'brownsville', name: 'Brownsville', state: 'TX', dailyCapacity: 200 })
      expect(body.poes.reduce((sum: number, p: { dailyCapacity: number }) => sum + p.dailyCapacity, 0)).toBe(1450)
    } finally {
      await gateway.close()
    }
  })
})
