// Where a request may come from: north of a latitude and inside a polygon, with a fix precise
// enough to tell. Pure; the numbers come from config.

export interface Geofence {
  minLatitude: number
  /** [latitude, longitude] vertices, in order. */
  polygon: ReadonlyArray<readonly number[]>
  maxAccuracyMeters: number
}

export interface Fix {
  latitude: number
  longitude: number
  accuracyMeters: number
}

export type FixVerdict = 'inside' | 'south' | 'outside' | 'imprecise'

export function judgeFix (fix: Fix, fence: Geofence): FixVerdict {
  if (fix.accuracyMeters > fence.maxAccuracyMeters) return 'imprecise'
  if (fix.latitude < fence.minLatitude) return 'south'
  return insidePolygon(fix.latitude, fix.longitude, fence.polygon) ? 'inside' : 'outside'
}

// Ray casting on latitude/longitude as plane coordinates: exact enough for a fence drawn in
// degrees over a few hundred kilometres, and no fence here crosses the antimeridian.
export function insidePolygon (lat: number, lon: number, polygon: ReadonlyArray<readonly number[]>): boolean {
  let inside = false
  for (let i = 0, j = polygon.length - 1; i < polygon.length; j = i++) {
    const [latI, lonI] = polygon[i] as [number, number]
    const [latJ, lonJ] = polygon[j] as [number, number]
    if ((latI > lat) !== (latJ > lat) && lon < ((lonJ - lonI) * (lat - latI)) / (latJ - latI) + lonI) inside = !inside
  }
  return inside
}
