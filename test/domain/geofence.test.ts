import { describe, expect, it } from 'vitest'
import { defaults } from '../../config/defaults.js'
import { judgeFix } from '../../gateway/domain/geofence.js'

const fence = defaults.geofence

describe('judgeFix with the default fence', () => {
  it.each([
    ['Matamoros, across from Brownsville', 25.87, -97.5, 20, 'inside'],
    ['Ciudad Juárez', 31.69, -106.42, 50, 'inside'],
    ['Tijuana', 32.51, -117.04, 30, 'inside'],
    ['Querétaro, north of Mexico City', 20.59, -100.39, 10, 'inside'],
    ['Mexico City itself, just south of the line', 19.4, -99.13, 10, 'south'],
    ['Oaxaca', 17.07, -96.72, 10, 'south'],
    ['New York', 40.71, -74.0, 10, 'outside'],
    ['the Pacific, west of Baja California', 25.0, -120.0, 10, 'outside'],
    ['Matamoros with a 6 km fix', 25.87, -97.5, 6_000, 'imprecise']
  ])('%s is %s', (_place, latitude, longitude, accuracyMeters, verdict) => {
    expect(judgeFix({ latitude, longitude, accuracyMeters }, fence)).toBe(verdict)
  })
})
