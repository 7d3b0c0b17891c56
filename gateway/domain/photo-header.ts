// What an uploaded photo claims to be, read from its bytes alone, before anything is queued: the
// real format by its magic bytes (never the declared content type or file name), the dimensions
// from the PNG IHDR chunk or the JPEG frame header (SOFn), and whether the file is whole. Pure and
// cheap: it walks chunk and segment headers and never decodes a pixel, so a 50,000 × 50,000
// "decompression bomb" of a few hundred bytes is refused here, on the event loop, in microseconds.
//
// Decisions:
//   - Only JPEG and PNG. Everything else (PDF, text, GIF, WebP, HEIC, SVG…) is 'format'.
//   - Dimensions are compared to the limits in either orientation (width against the width bounds
//     and height against the height bounds, or the other way round), because the stored frame of a
//     phone photo is often rotated by its EXIF orientation. The header reports them as stored.
//   - 'truncated' means the structure does not check out: the header cannot be read, a chunk or
//     segment runs past the end, the IHDR checksum is wrong, or no end marker (PNG IEND, JPEG EOI
//     after the scan data) is found.
//   - Data after the end marker: up to TRAILER_TOLERANCE_BYTES is accepted (zero padding, vendor
//     trailers such as Samsung's); a JPEG may also carry further JPEG images after its end
//     (Multi-Picture Format: Ultra HDR gain maps, depth maps), whatever their size. Anything
//     larger after the end (an appended video, archive or document) is 'truncated': the file
//     does not end where the image does.
//   - The JPEG walk skips stray bytes between segments the way libjpeg does (it only warns), so
//     phone JPEGs with "extraneous bytes before marker" pass; see lovell/sharp#2416.

export interface PhotoLimits {
  minWidth: number
  minHeight: number
  maxWidth: number
  maxHeight: number
  /** Most decoded pixels (width × height) a photo may have. */
  maxPixels: number
}

export interface PhotoHeader {
  ok: true
  format: 'jpeg' | 'png'
  /** As stored, before any EXIF orientation. */
  width: number
  height: number
}

export interface PhotoProblem {
  ok: false
  problem: 'empty' | 'format' | 'truncated' | 'dimensions'
}

/** Bytes accepted after the image's end marker (see the decisions above). */
export const TRAILER_TOLERANCE_BYTES = 64 * 1024

const JPEG_MAGIC = [0xff, 0xd8, 0xff] as const
const PNG_MAGIC = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a] as const

const problem = (p: PhotoProblem['problem']): PhotoProblem => ({ ok: false, problem: p })
// Shared, so frozen: a caller cannot change the answer for the next one.
const TRUNCATED: PhotoProblem = Object.freeze(problem('truncated'))

/** Reads the format, dimensions and completeness of a photo from its bytes; never decodes it. */
export function inspectPhoto (bytes: Uint8Array, limits: PhotoLimits): PhotoHeader | PhotoProblem {
  if (bytes.length === 0) return problem('empty')
  if (startsWith(bytes, JPEG_MAGIC)) return inspectJpeg(bytes, limits)
  if (startsWith(bytes, PNG_MAGIC)) return inspectPng(bytes, limits)
  // A few bytes that could still become a JPEG or PNG signature: an upload cut short, not a
  // foreign format.
  if (bytes.length < PNG_MAGIC.length && (isPrefixOf(bytes, JPEG_MAGIC) || isPrefixOf(bytes, PNG_MAGIC))) return TRUNCATED
  return problem('format')
}

/** Whether width × height fits the limits, in either orientation. */
export function fitsLimits (width: number, height: number, limits: PhotoLimits): boolean {
  if (width * height > limits.maxPixels) return false
  const within = (w: number, h: number) => w >= limits.minWidth && w <= limits.maxWidth && h >= limits.minHeight && h <= limits.maxHeight
  return within(width, height) || within(height, width)
}

function startsWith (bytes: Uint8Array, magic: readonly number[]): boolean {
  if (bytes.length < magic.length) return false
  for (let i = 0; i < magic.length; i++) if (bytes[i] !== magic[i]) return false
  return true
}

function isPrefixOf (bytes: Uint8Array, magic: readonly number[]): boolean {
  if (bytes.length > magic.length) return false
  for (let i = 0; i < bytes.length; i++) if (bytes[i] !== magic[i]) return false
  return true
}

const u16 = (b: Uint8Array, at: number): number => ((b[at] as number) << 8) | (b[at + 1] as number)
const u32 = (b: Uint8Array, at: number): number => ((b[at] as number) * 0x1000000) + (((b[at + 1] as number) << 16) | ((b[at + 2] as number) << 8) | (b[at + 3] as number))

function header (format: 'jpeg' | 'png', width: number, height: number, limits: PhotoLimits): PhotoHeader | PhotoProblem {
  return fitsLimits(width, height, limits) ? { ok: true, format, width, height } : problem('dimensions')
}

// The end of the image is at `end`; what follows is tolerated up to a bound (or, for JPEG, when
// it is another JPEG image: Multi-Picture Format).
function trailerOk (bytes: Uint8Array, end: number, format: 'jpeg' | 'png'): boolean {
  const trailing = bytes.length - end
  if (trailing <= TRAILER_TOLERANCE_BYTES) return true
  return format === 'jpeg' && bytes[end] === 0xff && bytes[end + 1] === 0xd8 && bytes[end + 2] === 0xff
}

// PNG: signature, IHDR first (13 bytes, checksum verified, so the dimensions are the encoder's),
// then chunks by their lengths up to IEND; at least one IDAT before it.
// https://www.w3.org/TR/png-3/#5Chunk-layout
function inspectPng (bytes: Uint8Array, limits: PhotoLimits): PhotoHeader | PhotoProblem {
  const ihdr = 8
  if (bytes.length < ihdr + 25) return TRUNCATED
  if (u32(bytes, ihdr) !== 13 || !isType(bytes, ihdr + 4, 'IHDR')) return TRUNCATED
  if (crc32(bytes, ihdr + 4, ihdr + 21) !== u32(bytes, ihdr + 21)) return TRUNCATED
  const width = u32(bytes, ihdr + 8)
  const height = u32(bytes, ihdr + 12)
  // Dimensions first: a bomb is refused without walking the rest.
  const verdict = header('png', width, height, limits)
  if (!verdict.ok) return verdict

  let at = ihdr + 25
  let sawIdat = false
  for (;;) {
    if (at + 12 > bytes.length) return TRUNCATED
    const length = u32(bytes, at)
    // The spec caps a chunk at 2^31 - 1 bytes; the bound also keeps `next` exact.
    if (length > 0x7fffffff) return TRUNCATED
    const next = at + 12 + length
    if (next > bytes.length) return TRUNCATED
    if (isType(bytes, at + 4, 'IDAT')) sawIdat = true
    else if (isType(bytes, at + 4, 'IEND')) return sawIdat && trailerOk(bytes, next, 'png') ? verdict : TRUNCATED
    at = next
  }
}

function isType (bytes: Uint8Array, at: number, type: string): boolean {
  for (let i = 0; i < 4; i++) if (bytes[at + i] !== type.charCodeAt(i)) return false
  return true
}

// CRC-32 (ISO-HDLC, as PNG uses it) over bytes[from, to), bit by bit: only ever run on the 17
// bytes of IHDR, so no table.
function crc32 (bytes: Uint8Array, from: number, to: number): number {
  let crc = 0xffffffff
  for (let i = from; i < to; i++) {
    crc ^= bytes[i] as number
    for (let k = 0; k < 8; k++) crc = (crc >>> 1) ^ (0xedb88320 & -(crc & 1))
  }
  return (crc ^ 0xffffffff) >>> 0
}

// JPEG: SOI, then marker segments by their lengths (APPn/EXIF, DQT, DHT, COM… are skipped), the
// frame header SOFn gives the dimensions, each SOS is followed by entropy-coded data that is
// scanned to the next marker (0xFF followed by neither 0x00, a stuffed byte, nor RSTn), until EOI.
// A progressive JPEG has many scans; a truncated one never reaches EOI.
// https://www.w3.org/Graphics/JPEG/itu-t81.pdf, B.1.1 and B.2
function inspectJpeg (bytes: Uint8Array, limits: PhotoLimits): PhotoHeader | PhotoProblem {
  const n = bytes.length
  let at = 2
  let frame: PhotoHeader | undefined
  for (;;) {
    // Stray bytes before a marker: libjpeg skips them with a warning, so do we.
    at = bytes.indexOf(0xff, at)
    if (at === -1) return TRUNCATED
    // Fill bytes: any number of 0xFF before the marker code.
    while (at < n && bytes[at] === 0xff) at++
    if (at >= n) return TRUNCATED
    const marker = bytes[at] as number
    at++
    if (marker === 0xd9) {
      // EOI. An image without a frame header and a scan is not an image.
      if (frame === undefined) return TRUNCATED
      return trailerOk(bytes, at, 'jpeg') ? frame : TRUNCATED
    }
    // Markers without a length: RSTn (outside a scan they are stray but harmless) and TEM.
    if ((marker >= 0xd0 && marker <= 0xd7) || marker === 0x01) continue
    // A second SOI, or the reserved 0x00 code where a marker should be: not a JPEG stream.
    if (marker === 0xd8 || marker === 0x00) return TRUNCATED
    if (at + 2 > n) return TRUNCATED
    const length = u16(bytes, at)
    if (length < 2 || at + length > n) return TRUNCATED
    if (isSof(marker)) {
      if (frame !== undefined || length < 8) return TRUNCATED
      const height = u16(bytes, at + 3)
      const width = u16(bytes, at + 5)
      const verdict = header('jpeg', width, height, limits)
      if (!verdict.ok) return verdict
      frame = verdict
    }
    at += length
    if (marker === 0xda) {
      // A scan before the frame header cannot be decoded.
      if (frame === undefined) return TRUNCATED
      at = skipEntropyCodedData(bytes, at)
    }
  }
}

// Start Of Frame markers: C0–CF except DHT (C4), JPG (C8) and DAC (CC).
function isSof (marker: number): boolean {
  return marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc
}

// The index of the 0xFF that starts the marker after a scan's data, or bytes.length. Real scan
// data has a 0xFF every few hundred bytes, found by the native indexOf (a 6 MB photo in about half
// a millisecond); the short hand-written hop keeps data made of nothing but stuffed 0xFF00 pairs
// from costing one native call per two bytes.
function skipEntropyCodedData (bytes: Uint8Array, from: number): number {
  const n = bytes.length
  let at = from
  for (;;) {
    const hop = Math.min(n, at + 16)
    while (at < hop && bytes[at] !== 0xff) at++
    if (at === hop) {
      at = bytes.indexOf(0xff, at)
      if (at === -1) return n
    }
    if (at + 1 >= n) return n
    const next = bytes[at + 1] as number
    if (next === 0x00 || (next >= 0xd0 && next <= 0xd7)) {
      at += 2
      continue
    }
    // 0xFF 0xFF… is fill before a marker: the byte after the last 0xFF decides.
    if (next === 0xff) {
      at += 1
      while (bytes[at + 1] === 0xff) at++
      continue
    }
    return at
  }
}
