import fc from 'fast-check'
import sharp from 'sharp'
import { beforeAll, describe, expect, it } from 'vitest'
import { fitsLimits, inspectPhoto, TRAILER_TOLERANCE_BYTES, type PhotoHeader, type PhotoProblem } from '../../gateway/domain/photo-header.js'
import { afterSoi, strayBytes, jpegBomb, jpegSegment, PNG_SIGNATURE, pngBomb, pngChunk, renderPortrait, TEST_LIMITS } from '../fixtures/photos.js'

// Real encodings of one small portrait, made once.
const s = {} as Record<'jpeg' | 'progressive' | 'exif' | 'png' | 'greyAlpha' | 'interlaced' | 'deep16' | 'gif' | 'webp' | 'tiny', Buffer>
beforeAll(async () => {
  const raw = await renderPortrait({ skin: 'medium', width: 480, height: 640, seed: 42 })
  const img = () => sharp(raw.data, { raw: { width: raw.width, height: raw.height, channels: raw.channels } })
  s.jpeg = await img().jpeg({ quality: 85 }).toBuffer()
  s.progressive = await img().jpeg({ quality: 85, progressive: true }).toBuffer()
  s.exif = await img().jpeg().withExif({ IFD0: { Make: 'Phone', Orientation: '6' }, IFD3: { GPSLatitudeRef: 'N', GPSLatitude: '25/1 54/1 0/1' } }).withIccProfile('p3').toBuffer()
  s.png = await img().png().toBuffer()
  s.greyAlpha = await img().greyscale().ensureAlpha(0.5).png().toBuffer()
  s.interlaced = await img().png({ progressive: true }).toBuffer()
  s.deep16 = await img().toColourspace('rgb16').png().toBuffer()
  s.gif = await img().gif().toBuffer()
  s.webp = await img().webp().toBuffer()
  s.tiny = await img().resize(300, 300).jpeg().toBuffer()
})

const jpeg = (width: number, height: number): PhotoHeader => ({ ok: true, format: 'jpeg', width, height })
const png = (width: number, height: number): PhotoHeader => ({ ok: true, format: 'png', width, height })
const no = (problem: PhotoProblem['problem']): PhotoProblem => ({ ok: false, problem })
const cut = (b: Buffer, at: number) => b.subarray(0, at < 1 ? Math.floor(b.length * at) : at)
const ascii = (text: string) => Buffer.from(text, 'latin1')

describe('inspectPhoto', () => {
  const cases: Array<[string, () => Uint8Array, PhotoHeader | PhotoProblem]> = [
    ['a baseline JPEG', () => s.jpeg, jpeg(480, 640)],
    ['a progressive JPEG (many scans)', () => s.progressive, jpeg(480, 640)],
    ['a JPEG with EXIF (GPS, orientation) and an ICC profile', () => s.exif, jpeg(480, 640)],
    ['a JPEG whose APP1 holds a thumbnail with its own SOI and EOI', () => afterSoi(s.jpeg, jpegSegment(0xe1, Buffer.concat([ascii('Exif\0\0'), Buffer.from([0xff, 0xd8, 0xff, 0xd9])]))), jpeg(480, 640)],
    ['a JPEG with 18 stray bytes before its frame header (some phone firmware)', () => strayBytes(s.jpeg), jpeg(480, 640)],
    ['a JPEG with fill bytes before a marker', () => afterSoi(s.jpeg, Buffer.from([0xff, 0xff])), jpeg(480, 640)],
    ['a JPEG with 100 bytes of padding after EOI', () => Buffer.concat([s.jpeg, Buffer.alloc(100)]), jpeg(480, 640)],
    ['a JPEG with exactly the tolerated trailer', () => Buffer.concat([s.jpeg, Buffer.alloc(TRAILER_TOLERANCE_BYTES, 0x41)]), jpeg(480, 640)],
    ['a JPEG followed by further JPEG images (Multi-Picture Format: a gain map)', () => Buffer.concat([s.jpeg, s.progressive, s.progressive, s.progressive]), jpeg(480, 640)],
    ['a JPEG stream with restart markers and stuffed bytes in its scan', () => jpegBomb(640, 480), jpeg(640, 480)],
    ['an RGB PNG', () => s.png, png(480, 640)],
    ['a grey PNG with alpha', () => s.greyAlpha, png(480, 640)],
    ['an interlaced PNG', () => s.interlaced, png(480, 640)],
    ['a 16-bit PNG', () => s.deep16, png(480, 640)],
    ['a PNG with 100 bytes after IEND', () => Buffer.concat([s.png, Buffer.alloc(100, 0x20)]), png(480, 640)],

    ['zero bytes', () => new Uint8Array(0), no('empty')],
    ['a text file', () => ascii('Hello, this is my photo.\n'), no('format')],
    ['a PDF', () => ascii('%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n'), no('format')],
    ['an SVG', () => ascii('<svg xmlns="http://www.w3.org/2000/svg" width="50000" height="50000"/>'), no('format')],
    ['a GIF', () => s.gif, no('format')],
    ['a WebP', () => s.webp, no('format')],
    ['FF D8 without the third magic byte', () => Buffer.from([0xff, 0xd8, 0x00, 0x10, 0x4a, 0x46]), no('format')],

    ['one byte of a JPEG signature', () => Buffer.from([0xff]), no('truncated')],
    ['the JPEG signature alone', () => Buffer.from([0xff, 0xd8, 0xff]), no('truncated')],
    ['three bytes of the PNG signature', () => Buffer.from([0x89, 0x50, 0x4e]), no('truncated')],
    ['the PNG signature alone', () => PNG_SIGNATURE, no('truncated')],
    ...[4, 20, 200, 0.25, 0.5, 0.9, -2, -1].map((at): [string, () => Uint8Array, PhotoProblem] =>
      [`a JPEG cut at ${at}`, () => cut(s.jpeg, at < 0 ? s.jpeg.length + at : at), no('truncated')]),
    ...[0.3, 0.95, -1].map((at): [string, () => Uint8Array, PhotoProblem] =>
      [`a progressive JPEG cut at ${at}`, () => cut(s.progressive, at < 0 ? s.progressive.length + at : at), no('truncated')]),
    ...[16, 32, 0.25, 0.5, 0.9, -12, -1].map((at): [string, () => Uint8Array, PhotoProblem] =>
      [`a PNG cut at ${at}`, () => cut(s.png, at < 0 ? s.png.length + at : at), no('truncated')]),
    ['a JPEG with more than the tolerated trailer', () => Buffer.concat([s.jpeg, Buffer.alloc(TRAILER_TOLERANCE_BYTES + 1, 0x41)]), no('truncated')],
    ['a JPEG with a PDF appended', () => Buffer.concat([s.jpeg, ascii('%PDF-1.7\n'), Buffer.alloc(100_000, 0x20)]), no('truncated')],
    ['a PNG with a megabyte after IEND', () => Buffer.concat([s.png, Buffer.alloc(1 << 20)]), no('truncated')],
    ['a PNG whose IHDR checksum is wrong', () => { const b = Buffer.from(s.png); b[29] = (b[29] as number) ^ 0xff; return b }, no('truncated')],
    ['a PNG with no IDAT', () => Buffer.concat([s.png.subarray(0, 33), pngChunk('IEND', Buffer.alloc(0))]), no('truncated')],
    ['a JPEG without a frame header', () => Buffer.from([0xff, 0xd8, 0xff, 0xda, 0x00, 0x08, 1, 1, 0, 0, 63, 0, 0x12, 0xff, 0xd9]), no('truncated')],
    ['a JPEG that is SOI then EOI', () => Buffer.from([0xff, 0xd8, 0xff, 0xd9]), no('truncated')],
    ['a JPEG segment longer than the file', () => Buffer.from([0xff, 0xd8, 0xff, 0xe1, 0xff, 0xf0, 0x45, 0x78]), no('truncated')],

    ['a PNG claiming 50,000 × 50,000 with a tiny IDAT (the bomb)', () => pngBomb(), no('dimensions')],
    ['a JPEG SOF claiming 50,000 × 50,000 (the bomb)', () => jpegBomb(), no('dimensions')],
    ['the PNG bomb cut right after its IHDR: the dimensions are read first', () => pngBomb().subarray(0, 33), no('dimensions')],
    ['a PNG of 8,000 × 8,000: sides allowed, 64 M pixels are not', () => pngBomb(8_000, 8_000), no('dimensions')],
    ['a PNG 9,000 wide', () => pngBomb(9_000, 1_000), no('dimensions')],
    ['a JPEG of 300 × 300, below the minimum', () => s.tiny, no('dimensions')],
    ['a JPEG frame of 0 × 0', () => jpegBomb(0, 0), no('dimensions')]
  ]

  it.each(cases)('%s', (_name, bytes, expected) => {
    expect(inspectPhoto(bytes(), TEST_LIMITS)).toEqual(expected)
  })

  it('reads the bytes, never the name or the declared type: a PNG sent as photo.jpg is a PNG', () => {
    const upload = { filename: 'photo.jpg', contentType: 'image/jpeg', bytes: s.png }
    expect(inspectPhoto(upload.bytes, TEST_LIMITS)).toEqual(png(480, 640))
  })

  it('takes the limits in either orientation (the stored frame of a phone photo is often rotated)', () => {
    const limits = { minWidth: 400, minHeight: 600, maxWidth: 600, maxHeight: 800, maxPixels: 1_000_000 }
    expect(inspectPhoto(s.jpeg, limits)).toEqual(jpeg(480, 640))
    expect(inspectPhoto(jpegBomb(640, 480), limits)).toEqual(jpeg(640, 480))
    expect(inspectPhoto(jpegBomb(700, 700), limits)).toEqual(no('dimensions'))
    expect(fitsLimits(480, 640, limits)).toBe(true)
    expect(fitsLimits(640, 480, limits)).toBe(true)
    expect(fitsLimits(399, 640, limits)).toBe(false)
    expect(fitsLimits(480, 640, { ...limits, maxPixels: 480 * 640 - 1 })).toBe(false)
  })

  it('refuses every proper prefix of a JPEG and of a PNG', () => {
    fc.assert(fc.property(fc.constantFrom('jpeg', 'progressive', 'png', 'interlaced') as fc.Arbitrary<'jpeg' | 'progressive' | 'png' | 'interlaced'>, fc.double({ min: 0, max: 1, noNaN: true, maxExcluded: true }), (kind, share) => {
      const whole = s[kind]
      const result = inspectPhoto(whole.subarray(0, Math.floor(whole.length * share)), TEST_LIMITS)
      expect(result.ok).toBe(false)
    }), { numRuns: 300 })
  })

  it('answers every byte string without throwing, with one of its four problems or a header', () => {
    const prefixes = [[], [0xff, 0xd8, 0xff], [...PNG_SIGNATURE]]
    fc.assert(fc.property(fc.constantFrom(...prefixes), fc.uint8Array({ maxLength: 2_000 }), (prefix, tail) => {
      const result = inspectPhoto(Uint8Array.from([...prefix, ...tail]), TEST_LIMITS)
      if (result.ok) expect(['jpeg', 'png']).toContain(result.format)
      else expect(['empty', 'format', 'truncated', 'dimensions']).toContain(result.problem)
    }), { numRuns: 2_000 })
  })

  it('keeps a header only when its dimensions fit, under random byte flips of a real JPEG and PNG', () => {
    fc.assert(fc.property(fc.constantFrom('jpeg', 'png') as fc.Arbitrary<'jpeg' | 'png'>, fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 8 }), (kind, flips) => {
      const bytes = Buffer.from(s[kind])
      for (const [at, value] of flips) bytes[at % bytes.length] = value
      const result = inspectPhoto(bytes, TEST_LIMITS)
      if (result.ok) expect(fitsLimits(result.width, result.height, TEST_LIMITS)).toBe(true)
    }), { numRuns: 500 })
  })
})
