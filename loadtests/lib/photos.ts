// Synthetic selfies for the liveness pre-check's tests and benchmark: a head and shoulders in the
// middle of a room or in front of a window, drawn pixel by pixel from a seed, then exposed, blurred
// and given sensor noise the way a camera would, and encoded with sharp. No real person, no data
// set: the fixtures are the scenes the heuristics in workers/liveness.ts must tell apart.
//
// Model, all in sRGB 0–255 unless said otherwise:
//   - skin: one uniform tone with multiplicative texture (value noise at three scales), shading
//     that darkens towards the face's edge and one side, eyes, brows, nostrils and a mouth, and
//     small specular highlights. Texture, features and highlights are relative to the skin's own
//     value, as with real skin, so a deep and a light tone carry the same relative detail;
//   - hair and shoulders around the face; a room (a wall with framed pictures, a door, a shelf,
//     a white board: some highlights and some shadows) or a bright window behind;
//   - exposure in stops, applied in linear light (scene-wide, or to the person only: backlight);
//     an under-exposed scene also gets its black level crushed, as camera processing does;
//   - optical blur (Gaussian, before the noise, as in a camera), then sensor noise (σ 2 by default).
import sharp from 'sharp'

/** sRGB skin tones: deep brown (the dark end of the range the check must pass), medium, light. */
export const SKIN_TONES = {
  deep: [72, 46, 31],
  medium: [176, 124, 94],
  light: [235, 200, 180]
} as const satisfies Record<string, readonly [number, number, number]>

export type SkinTone = keyof typeof SKIN_TONES

export interface PortraitScene {
  skin: SkinTone
  background?: 'room' | 'window'
  /** Stops of exposure for the whole frame, 0 = well exposed (−4.5: a dim room; +2: blown out). */
  exposure?: number
  /** Stops for the person only, on top of `exposure` (−6: lit from behind by a window). */
  subjectExposure?: number
  /** Optical blur: Gaussian sigma as a share of the long side (0.01 is hard blur). */
  blur?: number
  /** Sensor noise, σ in sRGB code values (default 2: a phone in good light). */
  noise?: number
  /** Layout, colours and noise. */
  seed?: number
  width?: number
  height?: number
}

export interface RawImage {
  data: Buffer
  width: number
  height: number
  channels: 3
}

/** The fixtures the liveness tests name, one scene each. */
export const PORTRAITS = {
  'deep-well-lit': { skin: 'deep', seed: 1 },
  'medium-well-lit': { skin: 'medium', seed: 2 },
  'light-well-lit': { skin: 'light', seed: 3 },
  // A deep-toned face exposed for the face in front of a blown-out window: a fair pass.
  'deep-window-lit': { skin: 'deep', background: 'window', seed: 4 },
  'deep-under-exposed': { skin: 'deep', exposure: -4.5, seed: 5 },
  'light-under-exposed': { skin: 'light', exposure: -4.5, seed: 6 },
  'light-blown-out': { skin: 'light', exposure: 2, seed: 7 },
  'light-backlit': { skin: 'light', background: 'window', subjectExposure: -6, seed: 8 },
  'deep-backlit': { skin: 'deep', background: 'window', subjectExposure: -6, seed: 9 },
  'light-blurred': { skin: 'light', blur: 0.01, seed: 10 },
  'deep-blurred': { skin: 'deep', blur: 0.01, seed: 11 }
} as const satisfies Record<string, PortraitScene>

export type PortraitName = keyof typeof PORTRAITS

/** Renders a scene as raw 8-bit RGB. */
export async function renderPortrait (scene: PortraitScene): Promise<RawImage> {
  const width = scene.width ?? 960
  const height = scene.height ?? 1280
  const random = mulberry32(scene.seed ?? 1)
  const rgb = new Float32Array(width * height * 3)
  const person = new Uint8Array(width * height)
  paintBackground(rgb, width, height, scene.background ?? 'room', random)
  paintPerson(rgb, person, width, height, SKIN_TONES[scene.skin], random)

  const frameGain = 2 ** (scene.exposure ?? 0)
  const personGain = frameGain * 2 ** (scene.subjectExposure ?? 0)
  const crush = (scene.exposure ?? 0) < -1 ? 4 : 0
  const out = Buffer.alloc(rgb.length)
  for (let p = 0; p < person.length; p++) {
    const gain = person[p] === 1 ? personGain : frameGain
    for (let c = 0; c < 3; c++) {
      const i = p * 3 + c
      let v = gain === 1 ? (rgb[i] as number) : toSrgb(toLinear(rgb[i] as number) * gain)
      if (crush > 0) v = ((v - crush) * 255) / (255 - crush)
      out[i] = clamp(v)
    }
  }

  let data = out
  if (scene.blur !== undefined && scene.blur > 0) {
    const sigma = scene.blur * Math.max(width, height)
    data = await sharp(out, { raw: { width, height, channels: 3 } }).blur(sigma).raw().toBuffer()
  }
  // Sensor noise after the optics.
  const noise = scene.noise ?? 2
  for (let i = 0; i < data.length; i++) data[i] = clamp((data[i] as number) + gaussian(random) * noise)
  return { data, width, height, channels: 3 }
}

/** The scene as a JPEG (baseline unless `progressive`), as a phone would send it. */
export async function portraitJpeg (scene: PortraitScene, options: { quality?: number, progressive?: boolean } = {}): Promise<Buffer> {
  const raw = await renderPortrait(scene)
  return sharp(raw.data, { raw: { width: raw.width, height: raw.height, channels: raw.channels } }).jpeg({ quality: options.quality ?? 90, progressive: options.progressive ?? false }).toBuffer()
}

/** The scene as a PNG. */
export async function portraitPng (scene: PortraitScene): Promise<Buffer> {
  const raw = await renderPortrait(scene)
  return sharp(raw.data, { raw: { width: raw.width, height: raw.height, channels: raw.channels } }).png({ compressionLevel: 3 }).toBuffer()
}

type Rgb = readonly [number, number, number]

function paintBackground (rgb: Float32Array, width: number, height: number, kind: 'room' | 'window', random: () => number): void {
  const set = (x: number, y: number, c: Rgb, k = 1) => {
    const i = (y * width + x) * 3
    rgb[i] = c[0] * k
    rgb[i + 1] = c[1] * k
    rgb[i + 2] = c[2] * k
  }
  const rect = (x0: number, y0: number, x1: number, y1: number, c: Rgb, grain = 0) => {
    const texture = grain > 0 ? valueNoise(random, 24) : () => 0
    for (let y = Math.max(0, Math.round(y0)); y < Math.min(height, Math.round(y1)); y++) {
      for (let x = Math.max(0, Math.round(x0)); x < Math.min(width, Math.round(x1)); x++) set(x, y, c, 1 + grain * texture(x, y))
    }
  }
  if (kind === 'window') {
    // A window pane of sky, blown out by design, in a wall, with its frame and glazing bars.
    const wall: Rgb = [130 + random() * 40, 120 + random() * 40, 110 + random() * 40]
    rect(0, 0, width, height, wall)
    const bar = (0.01 + random() * 0.015) * width
    const x0 = (0.02 + random() * 0.06) * width
    const x1 = (0.92 + random() * 0.06) * width
    const y0 = (0.02 + random() * 0.05) * height
    const y1 = (0.85 + random() * 0.1) * height
    rect(x0, y0, x1, y1, [50 + random() * 40, 45 + random() * 30, 40 + random() * 30])
    const cols = 2 + Math.floor(random() * 3)
    const rows = 1 + Math.floor(random() * 3)
    for (let r = 0; r < rows; r++) {
      for (let c = 0; c < cols; c++) {
        const px0 = x0 + bar + (c * (x1 - x0 - bar)) / cols
        const px1 = x0 + ((c + 1) * (x1 - x0 - bar)) / cols
        const py0 = y0 + bar + (r * (y1 - y0 - bar)) / rows
        const py1 = y0 + ((r + 1) * (y1 - y0 - bar)) / rows
        rect(px0, py0, px1, py1, [255, 255, 255])
      }
    }
    return
  }
  // A wall with a vertical light falloff, then furniture and pictures at seeded places.
  const wall: Rgb = [150 + random() * 60, 140 + random() * 60, 125 + random() * 60]
  const wallNoise = valueNoise(random, 160)
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) set(x, y, wall, 1.08 - 0.25 * (y / height) + 0.06 * wallNoise(x, y))
  }
  const door = random() < 0.5 ? 0.02 : 0.7
  rect(door * width, 0.12 * height, (door + 0.28) * width, height, [95 + random() * 60, 70 + random() * 40, 50 + random() * 30], 0.05)
  for (let k = 0; k < 3; k++) {
    const x = random() * 0.8 * width
    const y = random() * 0.45 * height
    const w = (0.1 + random() * 0.18) * width
    const h = (0.08 + random() * 0.15) * height
    rect(x, y, x + w, y + h, [30, 28, 26])
    rect(x + 0.012 * width, y + 0.012 * width, x + w - 0.012 * width, y + h - 0.012 * width, [40 + random() * 200, 40 + random() * 200, 40 + random() * 200], 0.2)
  }
  // A white board (the scene's highlight) and a dark shelf.
  const bx = random() < 0.5 ? 0.03 : 0.75
  rect(bx * width, (0.05 + random() * 0.2) * height, (bx + 0.22) * width, (0.35 + random() * 0.1) * height, [242, 242, 238])
  const sy = (0.55 + random() * 0.2) * height
  rect(0, sy, width, sy + 0.03 * height, [45, 35, 30])
}

function paintPerson (rgb: Float32Array, person: Uint8Array, width: number, height: number, skin: Rgb, random: () => number): void {
  const s = Math.min(width, height)
  const cx = width * (0.5 + (random() - 0.5) * 0.04)
  const cy = height * (0.48 + (random() - 0.5) * 0.03)
  const fa = 0.26 * s * (0.95 + random() * 0.1)
  const fb = fa * 1.3
  const hair: Rgb = [28 + random() * 20, 22 + random() * 12, 18 + random() * 8]
  const shirt: Rgb = [40 + random() * 180, 40 + random() * 180, 40 + random() * 180]
  const coarse = valueNoise(random, 0.18 * fa)
  const medium = valueNoise(random, 0.05 * fa)
  const fine = valueNoise(random, 0.015 * fa)
  const hairTexture = valueNoise(random, 0.02 * fa)
  const light = random() < 0.5 ? 1 : -1

  const ellipse = (x: number, y: number, ex: number, ey: number, ea: number, eb: number) => ((x - ex) / ea) ** 2 + ((y - ey) / eb) ** 2
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const p = y * width + x
      const i = p * 3
      let color: Rgb | undefined
      let k = 1
      // Shoulders and neck, then hair, then the face on top.
      if (ellipse(x, y, cx, height * 1.02, 0.46 * width, 0.24 * height) <= 1) {
        color = shirt
        k = 0.95 + 0.08 * coarse(x, y)
      }
      if (Math.abs(x - cx) < 0.42 * fa && y > cy && y < cy + 1.9 * fb && color === undefined) {
        color = skin
        k = 0.78
      }
      if (ellipse(x, y, cx, cy - 0.18 * fb, 1.12 * fa, 0.98 * fb) <= 1) {
        color = hair
        k = 1 + 0.25 * hairTexture(x, y)
      }
      const r = ellipse(x, y, cx, cy, fa, fb)
      if (r <= 1) {
        color = skin
        const u = (x - cx) / fa
        const v = (y - cy) / fb
        k = (1 - 0.35 * r * r) * (1 + 0.08 * light * u) *
          (1 + 0.06 * coarse(x, y) + 0.05 * medium(x, y) + 0.04 * fine(x, y))
        // Hairline: hair over the top of the forehead.
        if (v < -0.72 + 0.08 * Math.cos(u * 3)) {
          color = hair
          k = 1 + 0.25 * hairTexture(x, y)
        }
        color = feature(u, v, skin, hair, color) ?? color
        if (color !== skin && color !== hair) k = 1
        if (color === skin) {
          // Specular highlights on the forehead and the nose tip, relative to the skin's own value.
          const spec = Math.exp(-(((u + 0.1 * light) / 0.12) ** 2 + ((v + 0.4) / 0.06) ** 2)) + Math.exp(-((u / 0.05) ** 2 + ((v - 0.2) / 0.04) ** 2))
          k *= 1 + 0.35 * spec
        }
      }
      if (color !== undefined) {
        person[p] = 1
        rgb[i] = color[0] * k
        rgb[i + 1] = color[1] * k
        rgb[i + 2] = color[2] * k
      }
    }
  }
}

// Facial features at face coordinates (u, v in −1..1 across the face ellipse), or undefined.
function feature (u: number, v: number, skin: Rgb, hair: Rgb, current: Rgb): Rgb | undefined {
  const au = Math.abs(u)
  const inEllipse = (eu: number, ev: number, a: number, b: number) => ((au - eu) / a) ** 2 + ((v - ev) / b) ** 2 <= 1
  // Brows, eyes (sclera, iris, pupil), nostrils, mouth.
  if (inEllipse(0.38, -0.33, 0.2, 0.04)) return hair
  if (inEllipse(0.38, -0.17, 0.05, 0.05)) return [15, 12, 10]
  if (inEllipse(0.38, -0.17, 0.1, 0.06)) return [60, 42, 30]
  if (inEllipse(0.38, -0.17, 0.18, 0.065)) return [225, 220, 212]
  if (inEllipse(0.08, 0.2, 0.05, 0.03)) return [skin[0] * 0.35, skin[1] * 0.3, skin[2] * 0.3]
  if (inEllipse(0, 0.45, 0.3, 0.065)) return [skin[0] * 0.8, skin[1] * 0.55, skin[2] * 0.55]
  // A shadow under the nose and the lower lip line: small steps of the skin's own value.
  if (inEllipse(0, 0.27, 0.12, 0.025)) return [skin[0] * 0.82, skin[1] * 0.82, skin[2] * 0.82]
  return current === skin ? undefined : current
}

// Smooth random field in about −1..1 with features of `cell` pixels: bilinear value noise with
// smoothstep, over a lattice of seeded values.
function valueNoise (random: () => number, cell: number): (x: number, y: number) => number {
  const size = 256
  const lattice = new Float32Array(size * size)
  for (let i = 0; i < lattice.length; i++) lattice[i] = random() * 2 - 1
  const at = (gx: number, gy: number) => lattice[(gy & (size - 1)) * size + (gx & (size - 1))] as number
  return (x, y) => {
    const fx = x / cell
    const fy = y / cell
    const x0 = Math.floor(fx)
    const y0 = Math.floor(fy)
    const tx = smooth(fx - x0)
    const ty = smooth(fy - y0)
    const top = at(x0, y0) + (at(x0 + 1, y0) - at(x0, y0)) * tx
    const bottom = at(x0, y0 + 1) + (at(x0 + 1, y0 + 1) - at(x0, y0 + 1)) * tx
    return top + (bottom - top) * ty
  }
}

const smooth = (t: number) => t * t * (3 - 2 * t)
const clamp = (v: number) => v <= 0 ? 0 : v >= 255 ? 255 : Math.round(v)

function toLinear (v: number): number {
  const c = Math.max(0, v) / 255
  return c <= 0.04045 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4
}

function toSrgb (l: number): number {
  const c = l <= 0.0031308 ? l * 12.92 : 1.055 * l ** (1 / 2.4) - 0.055
  return c * 255
}

// Small, seeded and good enough for pictures (https://github.com/bryc/code/blob/master/jshash/PRNGs.md).
function mulberry32 (seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

function gaussian (random: () => number): number {
  return Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random())
}
