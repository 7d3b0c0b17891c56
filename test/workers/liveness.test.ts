import fc from 'fast-check'
import { Piscina } from 'piscina'
import sharp from 'sharp'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { dhashDistance } from '../../gateway/domain/photo-hash.js'
import { workerFile } from '../../gateway/plugins/workers.js'
import { defaults } from '../../config/defaults.js'
import checkPhoto, { judge, type PhotoCheckInput, type PhotoCheckResult, type PhotoMeasures } from '../../workers/liveness.js'
import { jpegBomb, PORTRAITS, portraitJpeg, portraitPng, pngBomb, renderPortrait, strayBytes, TEST_LIMITS, type PortraitName } from '../fixtures/photos.js'

const VENDOR_MAX_SIDE = 1024
const input = (photo: Uint8Array): PhotoCheckInput => ({ photo, limits: TEST_LIMITS, thresholds: { ...defaults.liveness.thresholds }, vendorMaxSide: VENDOR_MAX_SIDE })
const check = async (photo: Uint8Array) => checkPhoto(input(photo))

// Every fixture and the verdict it must get. Backlit faces get 'backlit' (not 'too_dark'): the
// advice differs (turn around, not find more light).
const EXPECTED: Record<PortraitName, 'pass' | 'too_dark' | 'too_bright' | 'backlit' | 'blurred'> = {
  'deep-well-lit': 'pass',
  'medium-well-lit': 'pass',
  'light-well-lit': 'pass',
  'deep-window-lit': 'pass',
  'deep-under-exposed': 'too_dark',
  'light-under-exposed': 'too_dark',
  'light-blown-out': 'too_bright',
  'light-backlit': 'backlit',
  'deep-backlit': 'backlit',
  'light-blurred': 'blurred',
  'deep-blurred': 'blurred'
}
const names = Object.keys(PORTRAITS) as PortraitName[]

const jpegs = {} as Record<PortraitName, Buffer>
const results = {} as Record<PortraitName, PhotoCheckResult>
beforeAll(async () => {
  for (const name of names) {
    jpegs[name] = await portraitJpeg(PORTRAITS[name])
    results[name] = await check(jpegs[name])
  }
}, 60_000)

const verdict = (r: PhotoCheckResult) => r.ok ? 'pass' : r.reason

describe('checkPhoto on the synthetic portraits', () => {
  it.each(names)('%s', (name) => {
    expect(verdict(results[name])).toBe(EXPECTED[name])
  })

  it('passes deep- and light-toned well-lit faces alike, and fails both under-exposed ones as too_dark', () => {
    for (const name of ['deep-well-lit', 'light-well-lit'] as const) expect(results[name].ok).toBe(true)
    for (const name of ['deep-under-exposed', 'light-under-exposed'] as const) expect(verdict(results[name])).toBe('too_dark')
  })

  it('gives the same verdicts on other seeds (other rooms, colours, noise) and as PNG', async () => {
    for (const name of names) {
      const scene = PORTRAITS[name]
      expect(verdict(await check(await portraitJpeg({ ...scene, seed: scene.seed + 1000 })))).toBe(EXPECTED[name])
    }
    for (const name of ['deep-well-lit', 'light-backlit', 'deep-blurred'] as const) {
      expect(verdict(await check(await portraitPng(PORTRAITS[name])))).toBe(EXPECTED[name])
    }
  }, 60_000)

  it('decodes every JPEG and PNG flavour to the same verdict: grey, grey with alpha, 16-bit, palette, CMYK', async () => {
    const raw = await renderPortrait(PORTRAITS['deep-well-lit'])
    const img = () => sharp(raw.data, { raw: { width: raw.width, height: raw.height, channels: raw.channels } })
    const flavours = [
      img().toColourspace('b-w').png(),
      img().toColourspace('b-w').ensureAlpha(1).png(),
      img().toColourspace('rgb16').png(),
      img().png({ palette: true }),
      img().toColourspace('b-w').jpeg(),
      img().toColourspace('cmyk').jpeg()
    ]
    for (const flavour of flavours) {
      const r = await check(await flavour.toBuffer())
      expect(verdict(r)).toBe('pass')
      expect(dhashDistance(r.dhash as string, results['deep-well-lit'].dhash as string)).toBeLessThanOrEqual(6)
    }
  }, 30_000)

  it('keeps every measure at least 15 % away from the threshold that would flip its verdict', () => {
    const t = defaults.liveness.thresholds
    const m = (name: PortraitName) => results[name].measures as PhotoMeasures
    const margin = 1.15
    for (const name of names) {
      const x = m(name)
      const expected = EXPECTED[name]
      if (expected !== 'too_bright') expect(x.faceWhite * margin).toBeLessThan(t.maxFaceWhite)
      if (expected !== 'backlit' && x.backgroundWhite >= t.minBacklightWhite) expect(x.faceToBackground).toBeGreaterThan(t.maxBacklitRatio * margin)
      if (expected === 'pass' || expected === 'blurred') {
        expect(x.highlight).toBeGreaterThan(t.minHighlight * margin)
        expect(x.faceBlack * margin).toBeLessThan(t.maxFaceBlack)
      }
      if (expected === 'pass') expect(x.sharpness).toBeGreaterThan(t.minSharpness * margin)
    }
    expect(m('light-blown-out').faceWhite).toBeGreaterThan(t.maxFaceWhite * margin)
    for (const name of ['light-backlit', 'deep-backlit'] as const) {
      expect(m(name).backgroundWhite).toBeGreaterThan(t.minBacklightWhite * margin)
      expect(m(name).faceToBackground * margin).toBeLessThan(t.maxBacklitRatio)
    }
    for (const name of ['light-under-exposed', 'deep-under-exposed'] as const) expect(m(name).highlight * margin).toBeLessThan(t.minHighlight)
    for (const name of ['light-blurred', 'deep-blurred'] as const) expect(m(name).sharpness * margin).toBeLessThan(t.minSharpness)
  })

  it('reports what it measured on a failure, and the displayed size', () => {
    const r = results['light-backlit']
    expect(r).toMatchObject({ ok: false, reason: 'backlit', format: 'jpeg', width: 960, height: 1280 })
    expect(r.dhash).toMatch(/^[0-9a-f]{16}$/)
    expect(Object.keys(r.measures ?? {}).sort()).toEqual(['analysisHeight', 'analysisWidth', 'backgroundBright', 'backgroundMean', 'backgroundWhite', 'faceBlack', 'faceMean', 'faceToBackground', 'faceWhite', 'highlight', 'laplacianVariance', 'p1', 'p50', 'sharpness'])
  })

  it('judges in a fixed order: too_bright, backlit, too_dark, blurred', () => {
    const base = results['light-well-lit'].measures as PhotoMeasures
    const t = defaults.liveness.thresholds
    expect(judge(base, t)).toBeUndefined()
    const all = { ...base, faceWhite: 0.9, backgroundWhite: 0.9, faceToBackground: 0.01, highlight: 10, faceBlack: 0.9, sharpness: 0 }
    expect(judge(all, t)).toBe('too_bright')
    expect(judge({ ...all, faceWhite: 0 }, t)).toBe('backlit')
    expect(judge({ ...all, faceWhite: 0, backgroundWhite: 0 }, t)).toBe('too_dark')
    expect(judge({ ...base, sharpness: 0 }, t)).toBe('blurred')
  })
})

describe('dHash', () => {
  it('stays within 6 bits for a re-encoded, resized or PNG copy, and differs far more between photos', async () => {
    for (const name of ['deep-well-lit', 'medium-well-lit', 'light-well-lit', 'deep-window-lit'] as const) {
      const original = results[name].dhash as string
      const copies = [
        await sharp(jpegs[name]).jpeg({ quality: 50 }).toBuffer(),
        await sharp(jpegs[name]).resize(480).jpeg({ quality: 75 }).toBuffer(),
        await sharp(jpegs[name]).png().toBuffer()
      ]
      for (const copy of copies) expect(dhashDistance(original, (await check(copy)).dhash as string)).toBeLessThanOrEqual(6)
    }
    // Different people in different rooms: at least twice that (12 to 36 bits on these).
    const rooms = ['deep-well-lit', 'medium-well-lit', 'light-well-lit', 'deep-blurred', 'light-blurred', 'deep-under-exposed', 'light-blown-out'] as const
    for (let i = 0; i < rooms.length; i++) {
      for (let j = i + 1; j < rooms.length; j++) expect(dhashDistance(results[rooms[i] as PortraitName].dhash as string, results[rooms[j] as PortraitName].dhash as string)).toBeGreaterThanOrEqual(12)
    }
  }, 30_000)

  it('counts differing bits', () => {
    expect(dhashDistance('0000000000000000', '0000000000000000')).toBe(0)
    expect(dhashDistance('ffffffffffffffff', '0000000000000000')).toBe(64)
    expect(dhashDistance('8000000000000001', '0000000000000000')).toBe(2)
    expect(() => dhashDistance('xyz', '0000000000000000')).toThrow(RangeError)
  })
})

describe('the vendor photo', () => {
  it('is a JPEG, at most vendorMaxSide on its long side, without EXIF, GPS, ICC profile or orientation', async () => {
    const raw = await renderPortrait({ ...PORTRAITS['medium-well-lit'], width: 1500, height: 2000 })
    // Stored sideways with orientation 6, as phones do, with GPS in its EXIF (25°54'4" N).
    const latitude = Buffer.from(new Uint32Array([25, 1, 54, 1, 4, 1]).buffer)
    const photo = await sharp(raw.data, { raw: { width: raw.width, height: raw.height, channels: raw.channels } }).rotate(-90).jpeg()
      .withExif({ IFD0: { Make: 'Phone' }, IFD3: { GPSLatitudeRef: 'N', GPSLatitude: '25/1 54/1 4/1', GPSLongitudeRef: 'W', GPSLongitude: '97/1 29/1 51/1' } })
      .withMetadata({ orientation: 6 })
      .withIccProfile('p3').toBuffer()
    const before = await sharp(photo).metadata()
    expect(before.orientation).toBe(6)
    expect(before.exif?.includes(latitude)).toBe(true)
    const r = await check(photo)
    if (!r.ok) throw new Error(`expected a pass, got ${r.reason}`)
    expect(r).toMatchObject({ format: 'jpeg', width: 1500, height: 2000 })
    expect(r.vendorPhoto).toBeInstanceOf(Uint8Array)
    const meta = await sharp(r.vendorPhoto).metadata()
    expect(meta.format).toBe('jpeg')
    // Upright (the orientation applied to the pixels) and scaled to fit.
    expect([meta.width, meta.height]).toEqual([768, 1024])
    expect(meta.exif).toBeUndefined()
    expect(meta.icc).toBeUndefined()
    expect(meta.xmp).toBeUndefined()
    expect(meta.orientation).toBeUndefined()
    expect(Buffer.from(r.vendorPhoto).includes(latitude)).toBe(false)
  })

  it('is never enlarged', async () => {
    const r = await check(await portraitJpeg({ ...PORTRAITS['light-well-lit'], width: 480, height: 640 }))
    if (!r.ok) throw new Error(`expected a pass, got ${r.reason}`)
    expect((await sharp(r.vendorPhoto).metadata()).width).toBe(480)
  })
})

describe('bad bytes', () => {
  it.each<[string, string, string, () => Uint8Array]>([
    ['zero bytes', 'unreadable', 'empty', () => new Uint8Array(0)],
    ['a text file', 'unreadable', 'format', () => Buffer.from('not a photo at all\n')],
    ['a PDF', 'unreadable', 'format', () => Buffer.from('%PDF-1.7\n1 0 obj\n<<>>\nendobj\n')],
    ['a JPEG cut in half', 'unreadable', 'truncated', () => jpegs['deep-well-lit'].subarray(0, jpegs['deep-well-lit'].length >> 1)],
    ['a JPEG missing its last byte', 'unreadable', 'truncated', () => jpegs['deep-well-lit'].subarray(0, -1)],
    ['a PNG bomb, 50,000 × 50,000', 'dimensions', 'dimensions', () => pngBomb()],
    ['a JPEG bomb, 50,000 × 50,000', 'dimensions', 'dimensions', () => jpegBomb()]
  ])('%s: %s (%s), from the header, before any decode', async (_name, reason, problem, bytes) => {
    // `problem` is only ever set by the header check: the decoder never saw these bytes.
    expect(await check(bytes())).toEqual({ ok: false, reason, problem })
  })

  it('refuses the bomb in well under a second (a decode of 2.5 G pixels could not)', async () => {
    // Not a benchmark: a bound so loose only a decode would break it.
    const started = performance.now()
    await check(pngBomb())
    await check(jpegBomb())
    expect(performance.now() - started).toBeLessThan(1_000)
  })

  it('decodes a whole JPEG with stray bytes (libjpeg warns, failOn error lets it through)', async () => {
    expect(verdict(await check(strayBytes(jpegs['light-well-lit'])))).toBe('pass')
  })

  it('answers unreadable when the header is sound but the pixels are not', async () => {
    // A structurally valid JPEG stream of 640 × 480 that no decoder can read.
    expect(await check(jpegBomb(640, 480))).toEqual({ ok: false, reason: 'unreadable', format: 'jpeg' })
    // Scan data overwritten with garbage after a sound header.
    const broken = Buffer.from(jpegs['light-well-lit'])
    const sos = broken.indexOf(Buffer.from([0xff, 0xda]))
    for (let i = sos + 20; i < broken.length - 2; i += 2) broken[i] = 0xff
    expect(await check(broken)).toMatchObject({ ok: false, reason: 'unreadable' })
  })

  it('throws for a programmer error only', async () => {
    await expect(checkPhoto({ ...input(jpegs['deep-well-lit']), photo: 'a string' as unknown as Uint8Array })).rejects.toThrow('photo must be a Uint8Array')
    await expect(checkPhoto({ ...input(jpegs['deep-well-lit']), vendorMaxSide: 0 })).rejects.toThrow('vendorMaxSide must be an integer of at least 16')
    await expect(checkPhoto({ ...input(jpegs['deep-well-lit']), thresholds: { ...defaults.liveness.thresholds, minSharpness: Number.NaN } })).rejects.toThrow('thresholds.minSharpness must be a finite number >= 0')
  })

  it('never throws for random bytes, or random damage to a real JPEG or PNG', async () => {
    const small = {
      jpeg: await portraitJpeg({ skin: 'medium', width: 360, height: 480, seed: 5 }),
      png: await portraitPng({ skin: 'deep', width: 360, height: 480, seed: 6 })
    }
    const damaged = fc.tuple(fc.constantFrom('jpeg', 'png') as fc.Arbitrary<'jpeg' | 'png'>, fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 20 }), fc.option(fc.double({ min: 0.05, max: 1, noNaN: true })))
      .map(([kind, flips, keep]) => {
        const bytes = Buffer.from(small[kind])
        for (const [at, value] of flips) bytes[at % bytes.length] = value
        return keep === null ? bytes : bytes.subarray(0, Math.ceil(bytes.length * keep))
      })
    const random = fc.tuple(fc.constantFrom(Buffer.alloc(0), Buffer.from([0xff, 0xd8, 0xff]), Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])), fc.uint8Array({ maxLength: 4_000 }))
      .map(([prefix, tail]) => Buffer.concat([prefix, tail]))
    await fc.assert(fc.asyncProperty(fc.oneof(damaged, random), async (bytes) => {
      const r = await check(bytes)
      expect(typeof r.ok).toBe('boolean')
      if (!r.ok) expect(['unreadable', 'dimensions', 'too_dark', 'too_bright', 'backlit', 'blurred']).toContain(r.reason)
    }), { numRuns: 150 })
  }, 60_000)
})

describe('on a piscina pool (dist/workers/liveness.js)', () => {
  let pool: Piscina<PhotoCheckInput, PhotoCheckResult>
  const errors: unknown[] = []
  beforeAll(() => {
    pool = new Piscina({ filename: workerFile('liveness'), minThreads: 1, maxThreads: 1 })
    pool.on('error', (error) => errors.push(error))
  })
  afterAll(async () => { await pool.close() })

  it('gives the same verdicts, measures and hashes as in process, and a vendor JPEG', async () => {
    for (const name of ['deep-well-lit', 'light-under-exposed', 'light-backlit', 'deep-blurred'] as const) {
      const r = await pool.run(input(jpegs[name]))
      const { vendorPhoto: _a, ...onThread } = r as PhotoCheckResult & { vendorPhoto?: Uint8Array }
      const { vendorPhoto: _b, ...inProcess } = results[name] as PhotoCheckResult & { vendorPhoto?: Uint8Array }
      expect(onThread).toEqual(inProcess)
      if (r.ok) {
        expect(r.vendorPhoto).toBeInstanceOf(Uint8Array)
        expect((await sharp(r.vendorPhoto).metadata()).format).toBe('jpeg')
      }
    }
  })

  it('answers bombs, garbage and damaged photos without losing its thread', async () => {
    const threadId = pool.threads[0]?.threadId
    expect(await pool.run(input(pngBomb()))).toEqual({ ok: false, reason: 'dimensions', problem: 'dimensions' })
    expect(await pool.run(input(Buffer.from('%PDF-1.4\n')))).toEqual({ ok: false, reason: 'unreadable', problem: 'format' })
    await fc.assert(fc.asyncProperty(fc.uint8Array({ maxLength: 2_000 }), fc.nat(), async (noise, at) => {
      const bytes = Buffer.from(jpegs['medium-well-lit'])
      bytes.set(noise.subarray(0, Math.max(0, bytes.length - (at % bytes.length))), at % bytes.length)
      const r = await pool.run(input(bytes))
      expect(typeof r.ok).toBe('boolean')
    }), { numRuns: 40 })
    expect(verdict(await pool.run(input(jpegs['light-well-lit'])))).toBe('pass')
    expect(pool.threads[0]?.threadId).toBe(threadId)
    expect(errors).toEqual([])
  }, 60_000)
})
