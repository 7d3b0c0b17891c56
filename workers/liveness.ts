// Liveness photo pre-check, on a piscina worker thread (default export below). It tells a user
// what to fix before the photo costs a vendor scan; the vendor alone decides liveness.
//
// Steps: the header again (gateway/domain/photo-header.ts, defence in depth: the route runs it on
// the event loop first); libvips must read the same format from the bytes; a decode by sharp with
// limitInputPixels = limits.maxPixels and failOn 'error' (truncation and decoder errors abort;
// libjpeg *warnings* do not, because phone firmware writes JPEGs with harmless ones, see
// lovell/sharp#3488 and #2416); EXIF orientation applied; alpha flattened on mid grey. That one
// decode gives an sRGB copy with its long side at most vendorMaxSide, from which come the
// vendor's JPEG (quality 85, re-encoded from pixels: no EXIF, no GPS, no ICC profile, nothing
// appended) and the analysis copy (long side `analysisSide`, 512 px: 256 px would hide blur that
// the vendor, at 1024 px, still sees). Every measure is on luma Y' = 0.2126 R' + 0.7152 G' +
// 0.0722 B' of the gamma-encoded analysis copy, 0–255.
//
// Regions (S = the analysis copy's short side; no face detection):
//   - face: the ellipse at the frame's centre with semi-axes 0.17 S across and 0.21 S down, the
//     inner face (brows to mouth, cheek to cheek) of a selfie framed by the app's oval guide;
//   - background: outside that ellipse scaled by 1.6 (a guard ring for hair, ears and the face's
//     edge) and above the guard ellipse's lower edge: around and above the head, where a window
//     or lamp behind the subject would be. The band below the chin (shoulders, clothes, lit like
//     the face) is left out.
//
// Verdicts, first match wins (defaults in config/defaults.ts, liveness.thresholds):
//   1. too_bright: more than 15 % of the face is blown (Y' >= 250): the face has no detail left.
//   2. backlit: at least 25 % of the background is blown AND the face's mean is below 0.14 of the
//      background's 90th percentile (with the background blown, below Y' ≈ 36): a light source
//      behind the subject, the face far below it.
//   3. too_dark: the whole frame's 99th percentile is below Y' 100 (nothing in the scene is
//      bright: under-exposure, whatever the skin tone), OR more than 25 % of the face is crushed
//      (Y' <= 16: no skin tone renders that dark when it is lit).
//   4. blurred: the face's sharpness is below 2.5. Sharpness = σ of the Laplacian at the finest
//      scale (after a 3 × 3 binomial pass, so single-pixel noise counts less) over σ of the
//      Laplacian three times coarser. Blur takes the fine scale first; a ratio ignores contrast,
//      so skin tone, exposure and side light do not move it (a bare Laplacian variance grows with
//      contrast, and would call a sharp deep-toned face blurred long before a light one).
// Exposure comes before blur: in a dark frame noise passes for detail.
//
// Never the face's absolute brightness alone: a deep-toned face (sRGB (72,46,31), Y' ≈ 49) well
// lit and a light-toned face (235,200,180; Y' ≈ 206) five stops under-exposed have about the same
// face luma. The rest of the frame (its highlights, a blown background) and clipping tell them
// apart, so those are what the verdicts read. The backlit bound (Y' ≈ 36) sits below the deepest
// tone we design for at its nominal exposure, so a deep-toned face exposed for the face in front
// of a blown-out window passes (fixture deep-window-lit, face Y' 52, ratio 0.205).
//
// Where it flips, on the fixtures (stops of exposure; blur as Gaussian σ over the long side):
//   - under-exposure: too_dark from −2 EV for the deep tone (its face is crushed first), from −3 EV
//     for medium and light (no highlight left in the frame); −1 EV passes for all;
//   - over-exposure: too_bright from +1 EV for the light tone (its face blows first); medium and
//     deep pass at +1.5 EV. Each tone is refused where its own face loses detail to black or
//     white, which is also where the vendor would fail it; the advice (more light, less light)
//     is right for both;
//   - backlight (person under a blown window): backlit from −2 EV for deep, −4 EV medium, −5 EV
//     light; a light-toned face at −4 EV (face Y' 50) passes, because by luma it is the deep-toned
//     window-lit face, which we will not refuse;
//   - blur: blurred from σ ≈ 0.25–0.3 % of the long side (3–4 px on a 1280 px photo) for every
//     tone; 0.2 % passes.
// What it cannot tell:
//   - a face that is not centred, too small or too close: the regions are fixed;
//   - a genuinely dark scene with a light source in frame (a lamp, a screen): the highlights look
//     fine and, unless the face is crushed, it passes;
//   - a dark-toned subject in dark clothes against a dark wall with no highlight anywhere, from a
//     camera that does not lift its exposure, is called too_dark (phones' auto-exposure normally
//     lifts such a scene; the advice, more light, still helps);
//   - skin-tone independence is designed and tested down to sRGB (72,46,31) at nominal exposure;
//   - motion or focus blur smaller than about 1/400 of the frame goes unseen; heavy sensor noise
//     adds fine-scale "detail", so a noisy, blurred photo can pass;
//   - the thresholds were calibrated on synthetic portraits (loadtests/lib/photos.ts) with
//     margins of 15 % or more, not on real selfies: re-tune them on real traffic from `measures`.
// The dHash (64 bits, 16 hex chars) is of the whole analysis frame at 9 × 8 cells: a re-encoded or
// resized copy stays within a few bits (≤ 5 on the fixtures); different rooms differ by 12–36.
// Cropping, mirroring or rotating defeats it, and two silhouettes against similar windows can
// come within a few bits: a match is a signal for review, not proof.
import { Piscina } from 'piscina'
import sharp from 'sharp'
import { fitsLimits, inspectPhoto, type PhotoLimits, type PhotoProblem } from '../gateway/domain/photo-header.js'

// Each upload is decoded once: libvips' operation cache would only keep other people's photos in
// memory. The setting is process-wide; nothing else in the gateway uses sharp.
sharp.cache(false)

export type { PhotoLimits } from '../gateway/domain/photo-header.js'

/** Every tunable number of the heuristics above; luma values are 0–255. */
export interface PhotoThresholds {
  /** Long side, in pixels, of the analysis copy every measure is taken on. */
  analysisSide: number
  /** Luma at or below which a pixel counts as crushed black. */
  blackClip: number
  /** Luma at or above which a pixel counts as blown white. */
  whiteClip: number
  /** too_bright when more than this share of the face region is blown. */
  maxFaceWhite: number
  /** backlit needs at least this share of the background blown (a light source behind). */
  minBacklightWhite: number
  /** backlit when the face's mean luma is below this share of the background's 90th percentile. */
  maxBacklitRatio: number
  /** Percentile (0–1) of the whole frame's luma that stands for its highlights. */
  highlightPercentile: number
  /** too_dark when that percentile is below this: nothing in the scene is bright. */
  minHighlight: number
  /** too_dark when more than this share of the face region is crushed. */
  maxFaceBlack: number
  /** blurred when the face's fine-to-coarse Laplacian ratio (measures.sharpness) is below this. */
  minSharpness: number
}

export interface PhotoCheckInput {
  photo: Uint8Array
  limits: PhotoLimits
  thresholds: PhotoThresholds
  /** Long side, in pixels, of the JPEG sent to the vendor (never enlarged). */
  vendorMaxSide: number
}

/** The numbers behind a verdict, for tuning; nothing that could identify anyone. */
export interface PhotoMeasures {
  /** Size of the analysis copy. */
  analysisWidth: number
  analysisHeight: number
  /** Mean luma of the face region and of the background. */
  faceMean: number
  backgroundMean: number
  /** The background's 90th luma percentile: how bright what is behind the subject gets. */
  backgroundBright: number
  /** faceMean / backgroundBright. */
  faceToBackground: number
  /** Shares of the face region crushed black and blown white. */
  faceBlack: number
  faceWhite: number
  /** Share of the background blown white. */
  backgroundWhite: number
  /** Luma percentiles of the whole frame: 1st, 50th, and the highlight percentile. */
  p1: number
  p50: number
  highlight: number
  /** Variance of the face region's fine-scale Laplacian, in luma² (raw: it grows with contrast). */
  laplacianVariance: number
  /** σ of the face's fine-scale Laplacian over σ of its 3× coarser one: relative sharpness. */
  sharpness: number
}

export type PhotoReason = 'unreadable' | 'dimensions' | 'too_dark' | 'too_bright' | 'backlit' | 'blurred'

export interface PhotoCheckPassed {
  ok: true
  format: 'jpeg' | 'png'
  /** As displayed, after EXIF orientation. */
  width: number
  height: number
  /** 64-bit difference hash of the frame, 16 hex chars; compare with dhashDistance. */
  dhash: string
  measures: PhotoMeasures
  /** What to send to the vendor: JPEG, long side <= vendorMaxSide, no metadata. */
  vendorPhoto: Uint8Array
}

export interface PhotoCheckFailed {
  ok: false
  reason: PhotoReason
  /** With reason 'unreadable' or 'dimensions' from the header: what the header check found. */
  problem?: PhotoProblem['problem']
  format?: 'jpeg' | 'png'
  width?: number
  height?: number
  dhash?: string
  measures?: PhotoMeasures
}

export type PhotoCheckResult = PhotoCheckPassed | PhotoCheckFailed

/** Checks one photo. Never throws for bad bytes; throws only for a malformed input object. */
export default async function checkPhoto (input: PhotoCheckInput): Promise<PhotoCheckResult> {
  validateInput(input)
  const { photo, limits, thresholds, vendorMaxSide } = input

  const header = inspectPhoto(photo, limits)
  if (!header.ok) return { ok: false, reason: header.problem === 'dimensions' ? 'dimensions' : 'unreadable', problem: header.problem }
  const format = header.format

  let rgb: { data: Buffer, width: number, height: number }
  let width: number
  let height: number
  try {
    const options = { failOn: 'error', limitInputPixels: limits.maxPixels } as const
    // libvips reads the format from the bytes too; it must agree with ours (no other loader
    // may run on an upload, SVG and PDF above all).
    const meta = await sharp(photo, options).metadata()
    if (meta.format !== format) return { ok: false, reason: 'unreadable', format }
    // The displayed size, after orientation, at full resolution.
    width = meta.autoOrient.width
    height = meta.autoOrient.height
    if (!fitsLimits(width, height, limits)) return { ok: false, reason: 'dimensions', format, width, height }
    const decoded = await sharp(photo, { ...options, autoOrient: true })
      .resize({ width: vendorMaxSide, height: vendorMaxSide, fit: 'inside', withoutEnlargement: true })
      .flatten({ background: '#808080' })
      .toColourspace('srgb')
      .raw({ depth: 'uchar' })
      .toBuffer({ resolveWithObject: true })
    if (decoded.info.channels !== 3) return { ok: false, reason: 'unreadable', format, width, height }
    rgb = { data: decoded.data, width: decoded.info.width, height: decoded.info.height }
  } catch (error) {
    return { ok: false, reason: isPixelLimit(error) ? 'dimensions' : 'unreadable', format }
  }

  // Pixels we made ourselves failing to resize or encode means out of memory, most likely: the
  // photo is as good as unreadable. Only sharp's calls are caught; a bug of ours throws.
  const raw = { raw: { width: rgb.width, height: rgb.height, channels: 3 } } as const
  const side = Math.min(thresholds.analysisSide, Math.max(rgb.width, rgb.height))
  let small: { data: Buffer, info: { width: number, height: number } }
  try {
    small = await sharp(rgb.data, raw).resize({ width: side, height: side, fit: 'inside' }).raw().toBuffer({ resolveWithObject: true })
  } catch {
    return { ok: false, reason: 'unreadable', format, width, height }
  }
  const luma = toLuma(small.data, small.info.width, small.info.height)
  const measures = measure(luma, small.info.width, small.info.height, thresholds)
  const common = { format, width, height, dhash: differenceHash(luma, small.info.width, small.info.height), measures }
  const verdict = judge(measures, thresholds)
  if (verdict !== undefined) return { ok: false, reason: verdict, ...common }

  // Only a photo that passes is encoded for the vendor.
  let vendor: Buffer
  try {
    vendor = await sharp(rgb.data, raw).jpeg({ quality: 85 }).toBuffer()
  } catch {
    return { ok: false, reason: 'unreadable', ...common }
  }
  // A fresh ArrayBuffer of exactly the JPEG, so it can move to the main thread without a copy.
  const vendorPhoto = new Uint8Array(vendor.length)
  vendorPhoto.set(vendor)
  return movable({ ok: true, ...common, vendorPhoto }, vendorPhoto.buffer)
}

/** The first failing verdict for these measures, or undefined when the photo passes. */
export function judge (m: PhotoMeasures, t: PhotoThresholds): Exclude<PhotoReason, 'unreadable' | 'dimensions'> | undefined {
  if (m.faceWhite > t.maxFaceWhite) return 'too_bright'
  if (m.backgroundWhite >= t.minBacklightWhite && m.faceToBackground < t.maxBacklitRatio) return 'backlit'
  if (m.highlight < t.minHighlight || m.faceBlack > t.maxFaceBlack) return 'too_dark'
  if (m.sharpness < t.minSharpness) return 'blurred'
  return undefined
}

/** Luma (Rec. 709 weights on gamma-encoded values) of packed RGB. */
export function toLuma (rgb: Uint8Array, width: number, height: number): Uint8Array {
  const luma = new Uint8Array(width * height)
  for (let p = 0, i = 0; p < luma.length; p++, i += 3) {
    luma[p] = Math.round(0.2126 * (rgb[i] as number) + 0.7152 * (rgb[i + 1] as number) + 0.0722 * (rgb[i + 2] as number))
  }
  return luma
}

/** The measures of the heuristics above, on a luma image. */
export function measure (luma: Uint8Array, width: number, height: number, t: PhotoThresholds): PhotoMeasures {
  const face = faceEllipse(width, height)
  const guard = 1.6
  const backgroundBottom = face.cy + guard * face.ay

  const histogram = new Uint32Array(256)
  const backHistogram = new Uint32Array(256)
  let faceSum = 0
  let faceN = 0
  let faceBlack = 0
  let faceWhite = 0
  let backSum = 0
  let backN = 0
  let backWhite = 0
  for (let y = 0; y < height; y++) {
    const dy = (y - face.cy) / face.ay
    for (let x = 0; x < width; x++) {
      const v = luma[y * width + x] as number
      histogram[v] = (histogram[v] as number) + 1
      const dx = (x - face.cx) / face.ax
      const r = dx * dx + dy * dy
      if (r <= 1) {
        faceSum += v
        faceN++
        if (v <= t.blackClip) faceBlack++
        if (v >= t.whiteClip) faceWhite++
      } else if (r > guard * guard && y < backgroundBottom) {
        backSum += v
        backN++
        backHistogram[v] = (backHistogram[v] as number) + 1
        if (v >= t.whiteClip) backWhite++
      }
    }
  }
  const faceMean = faceN > 0 ? faceSum / faceN : 0
  const backgroundMean = backN > 0 ? backSum / backN : 0
  const backgroundBright = backN > 0 ? percentile(backHistogram, backN, 0.9) : 0
  const { fineVariance, sharpness } = faceSharpness(luma, width, height, face)
  return {
    analysisWidth: width,
    analysisHeight: height,
    faceMean: round(faceMean, 1),
    backgroundMean: round(backgroundMean, 1),
    backgroundBright,
    faceToBackground: round(backgroundBright > 0 ? faceMean / backgroundBright : 1, 3),
    faceBlack: round(faceN > 0 ? faceBlack / faceN : 0, 3),
    faceWhite: round(faceN > 0 ? faceWhite / faceN : 0, 3),
    backgroundWhite: round(backN > 0 ? backWhite / backN : 0, 3),
    p1: percentile(histogram, luma.length, 0.01),
    p50: percentile(histogram, luma.length, 0.5),
    highlight: percentile(histogram, luma.length, t.highlightPercentile),
    laplacianVariance: round(fineVariance, 1),
    sharpness: round(sharpness, 3)
  }
}

interface Ellipse { cx: number, cy: number, ax: number, ay: number }

/** The face region of a width × height frame (see the top of this file). */
export function faceEllipse (width: number, height: number): Ellipse {
  const s = Math.min(width, height)
  return { cx: (width - 1) / 2, cy: (height - 1) / 2, ax: 0.17 * s, ay: 0.21 * s }
}

// Sharpness as the ratio of detail at two scales over the face: σ of the Laplacian at the finest
// scale (after one 3 × 3 binomial pass, σ ≈ 0.7 px, so single-pixel sensor noise counts less)
// over σ of the Laplacian three times coarser (step 3 after seven passes, σ ≈ 1.9 px). Blur
// removes the fine scale first. A ratio is indifferent to contrast, so to skin tone, exposure and
// smooth shading (side light), which a bare Laplacian variance is not.
function faceSharpness (luma: Uint8Array, width: number, height: number, face: Ellipse): { fineVariance: number, sharpness: number } {
  const margin = 10
  const x0 = Math.max(0, Math.floor(face.cx - face.ax) - margin)
  const x1 = Math.min(width, Math.ceil(face.cx + face.ax) + margin + 1)
  const y0 = Math.max(0, Math.floor(face.cy - face.ay) - margin)
  const y1 = Math.min(height, Math.ceil(face.cy + face.ay) + margin + 1)
  const w = x1 - x0
  const h = y1 - y0
  if (w < 8 || h < 8) return { fineVariance: 0, sharpness: 0 }
  const region = new Float32Array(w * h)
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) region[y * w + x] = luma[(y + y0) * width + x + x0] as number
  const fine = binomial(region, w, h)
  let coarse = fine
  for (let k = 0; k < 6; k++) coarse = binomial(coarse, w, h)

  let fSum = 0
  let fSq = 0
  let cSum = 0
  let cSq = 0
  let n = 0
  for (let y = 3; y < h - 3; y++) {
    const dy = (y + y0 - face.cy) / face.ay
    for (let x = 3; x < w - 3; x++) {
      const dx = (x + x0 - face.cx) / face.ax
      if (dx * dx + dy * dy > 1) continue
      const p = y * w + x
      const f = (fine[p - 1] as number) + (fine[p + 1] as number) + (fine[p - w] as number) + (fine[p + w] as number) - 4 * (fine[p] as number)
      const c = ((coarse[p - 3] as number) + (coarse[p + 3] as number) + (coarse[p - 3 * w] as number) + (coarse[p + 3 * w] as number) - 4 * (coarse[p] as number)) / 9
      fSum += f
      fSq += f * f
      cSum += c
      cSq += c * c
      n++
    }
  }
  if (n === 0) return { fineVariance: 0, sharpness: 0 }
  const fineVariance = Math.max(0, fSq / n - (fSum / n) ** 2)
  const coarseVariance = Math.max(0, cSq / n - (cSum / n) ** 2)
  // A flat face (no detail at either scale) is as good as blurred.
  return { fineVariance, sharpness: coarseVariance > 1e-6 ? Math.sqrt(fineVariance / coarseVariance) : 0 }
}

// One pass of the separable [1 2 1] / 4 filter, edges clamped.
function binomial (src: Float32Array, w: number, h: number): Float32Array<ArrayBuffer> {
  const tmp = new Float32Array(w * h)
  const out = new Float32Array(w * h)
  for (let y = 0; y < h; y++) {
    const row = y * w
    for (let x = 0; x < w; x++) {
      const l = src[row + Math.max(0, x - 1)] as number
      const r = src[row + Math.min(w - 1, x + 1)] as number
      tmp[row + x] = (l + 2 * (src[row + x] as number) + r) / 4
    }
  }
  for (let y = 0; y < h; y++) {
    const up = Math.max(0, y - 1) * w
    const down = Math.min(h - 1, y + 1) * w
    for (let x = 0; x < w; x++) out[y * w + x] = ((tmp[up + x] as number) + 2 * (tmp[y * w + x] as number) + (tmp[down + x] as number)) / 4
  }
  return out
}

/**
 * dHash: the frame averaged into 9 × 8 cells; bit = 1 where a cell is brighter than its right
 * neighbour; 64 bits, row by row, as 16 hex chars. https://www.hackerfactor.com/blog/index.php?/archives/529-Kind-of-Like-That.html
 */
export function differenceHash (luma: Uint8Array, width: number, height: number): string {
  const cells = new Float64Array(9 * 8)
  for (let cy = 0; cy < 8; cy++) {
    const y0 = Math.floor((cy * height) / 8)
    const y1 = Math.max(y0 + 1, Math.floor(((cy + 1) * height) / 8))
    for (let cx = 0; cx < 9; cx++) {
      const x0 = Math.floor((cx * width) / 9)
      const x1 = Math.max(x0 + 1, Math.floor(((cx + 1) * width) / 9))
      let sum = 0
      for (let y = y0; y < y1; y++) for (let x = x0; x < x1; x++) sum += luma[y * width + x] ?? 0
      cells[cy * 9 + cx] = sum / ((y1 - y0) * (x1 - x0))
    }
  }
  let hex = ''
  for (let row = 0; row < 8; row++) {
    let byte = 0
    for (let col = 0; col < 8; col++) byte = (byte << 1) | ((cells[row * 9 + col] as number) > (cells[row * 9 + col + 1] as number) ? 1 : 0)
    hex += byte.toString(16).padStart(2, '0')
  }
  return hex
}

// The value below which `q` of the `n` pixels fall, from a 256-bin histogram.
function percentile (histogram: Uint32Array, n: number, q: number): number {
  const rank = Math.max(1, Math.ceil(q * n))
  let seen = 0
  for (let v = 0; v < 256; v++) {
    seen += histogram[v] as number
    if (seen >= rank) return v
  }
  return 255
}

const round = (v: number, digits: number) => Math.round(v * 10 ** digits) / 10 ** digits

function isPixelLimit (error: unknown): boolean {
  return error instanceof Error && /pixel limit/i.test(error.message)
}

// The result itself moves to the main thread with `buffer` in the transfer list: piscina reads
// these symbols on the returned object (https://github.com/piscinajs/piscina#method-movevalue).
// Called directly (tests, benchmarks), it is a plain result: the symbols are not enumerable and
// structured clone ignores them.
function movable<T extends object> (result: T, buffer: ArrayBuffer): T {
  Object.defineProperty(result, Piscina.transferableSymbol, { value: [buffer] })
  Object.defineProperty(result, Piscina.valueSymbol, { value: result })
  Piscina.move(result as unknown as Parameters<typeof Piscina.move>[0])
  return result
}

function validateInput (input: PhotoCheckInput): void {
  if (!(input.photo instanceof Uint8Array)) throw new TypeError('photo must be a Uint8Array')
  if (!(Number.isInteger(input.vendorMaxSide) && input.vendorMaxSide >= 16)) throw new RangeError('vendorMaxSide must be an integer of at least 16')
  for (const [key, value] of Object.entries(input.limits)) {
    if (!(typeof value === 'number' && value > 0)) throw new RangeError(`limits.${key} must be a positive number`)
  }
  for (const [key, value] of Object.entries(input.thresholds)) {
    if (!(typeof value === 'number' && Number.isFinite(value) && value >= 0)) throw new RangeError(`thresholds.${key} must be a finite number >= 0`)
  }
  if (!(Number.isInteger(input.thresholds.analysisSide) && input.thresholds.analysisSide >= 16)) throw new RangeError('thresholds.analysisSide must be an integer of at least 16')
}
