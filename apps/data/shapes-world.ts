/**
 * The shapes world (docs: docs/shapes-world.md, normative): two coloured
 * shapes in a spatial relation on a grey background, captioned
 * "a {c1} {s1} {relation} a {c2} {s2}". Pure code, no file system.
 *
 * Rasterization is Pillow's (ImageDraw on an RGB image, `fill` only, no outline), ported
 * from Pillow 9.4.0's src/libImaging/Draw.c so that our images are the ones a Python
 * generator of the same scenes draws, pixel for pixel:
 *   - circle: `ImageDraw.ellipse([cx - r, cy - r, cx + r, cy + r])`, Pillow's integer
 *     ellipse (`ellipseNew`: Bresenham-like quarters on a doubled grid). It is NOT the
 *     ellipse equation test ((x-cx)/(r+0.5))^2 + ((y-cy)/(r+0.5))^2 <= 1: that one adds
 *     4-16 pixels for r = 4, 6, 8, 9 (see test/fixtures/shapes/make.py);
 *   - square: `ImageDraw.rectangle` of the inclusive box;
 *   - triangle: `ImageDraw.polygon([(cx, cy - r), (cx - r, cy + r), (cx + r, cy + r)])`
 *     (`polygon_generic`: float32 scan lines, ROUND_UP/ROUND_DOWN ends, the flat edge
 *     drawn as its own line).
 * Pixels outside the image are clipped, as Pillow clips them.
 *
 * Random numbers: mulberry32 (runtime/prng.ts), one generator per set, seeded with the
 * set's seed; an integer in [lo, hi] is lo + floor(rand() * (hi - lo + 1)).
 * @since 0.1.0
 */
import { mulberry32 } from '../../runtime/prng.js'

// -------------------------------------------------------------------------------------
// the world
// -------------------------------------------------------------------------------------

/** An 8-bit RGB colour. */
export type Rgb = readonly [number, number, number]

/** The six colours, in the spec's order (index = the colour's draw value). */
export const COLOURS = ['red', 'green', 'blue', 'yellow', 'purple', 'white'] as const
export type Colour = (typeof COLOURS)[number]

/** Each colour's RGB value. */
export const COLOUR_RGB: Readonly<Record<Colour, Rgb>> = {
  red: [220, 40, 40],
  green: [40, 180, 60],
  blue: [50, 80, 230],
  yellow: [235, 210, 40],
  purple: [150, 60, 200],
  white: [240, 240, 240]
}

/** The three shapes, in the spec's order. */
export const SHAPES = ['circle', 'square', 'triangle'] as const
export type Shape = (typeof SHAPES)[number]

/** The four relations, in the spec's order. */
export const RELATIONS = ['left of', 'right of', 'above', 'below'] as const
export type Relation = (typeof RELATIONS)[number]

/** The special tokens, then the sorted caption words: 20 entries, ids in this order ([PAD] = 0). */
export const SPECIAL_TOKENS = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]'] as const
export const CAPTION_WORDS = ['a', 'above', 'below', 'blue', 'circle', 'green', 'left', 'of', 'purple', 'red', 'right', 'square', 'triangle', 'white', 'yellow'] as const
export const VOCAB: readonly string[] = [...SPECIAL_TOKENS, ...CAPTION_WORDS]

/** The smallest image size the spec allows. */
export const MIN_SIZE = 16

/** A scene's structured fields (centres are (x, y); object 1 is drawn first). */
export interface ShapesScene {
  readonly c1: Colour
  readonly s1: Shape
  readonly relation: Relation
  readonly c2: Colour
  readonly s2: Shape
  /** Grey level g of the background, in [0, 40]. */
  readonly background: number
  readonly radius: number
  readonly p1: readonly [number, number]
  readonly p2: readonly [number, number]
}

/** One drawn sample at size S. */
export interface ShapesSample {
  readonly size: number
  /** S x S x 3 RGB bytes, row-major. */
  readonly pixels: Uint8Array
  readonly caption: string
  /**
   * Per-object masks (S x S, 1 where that object's pixels are). Object 2 is drawn over
   * object 1, so object 1's mask leaves out what object 2 covers.
   */
  readonly masks: readonly [Uint8Array, Uint8Array]
  readonly scene: ShapesScene
}

/** The caption of a scene: `a {c1} {s1} {relation} a {c2} {s2}`. */
export const captionOf = (s: Pick<ShapesScene, 'c1' | 's1' | 'relation' | 'c2' | 's2'>): string => `a ${s.c1} ${s.s1} ${s.relation} a ${s.c2} ${s.s2}`

/** A uniform integer in [lo, hi] (both inclusive). */
export const uniformInt = (rand: () => number, lo: number, hi: number): number => lo + Math.floor(rand() * (hi - lo + 1))

/** Draws a scene's parameters, in the spec's order (section 2, then 3, 4). */
export const drawScene = (rand: () => number, size: number): ShapesScene => {
  if (!Number.isInteger(size) || size < MIN_SIZE) throw new RangeError(`shapes world: size must be an integer >= ${MIN_SIZE}, got ${size}`)
  // 2. an ordered pair of distinct colours (uniform among the 30), two shapes, a relation
  const i1 = uniformInt(rand, 0, 5)
  const j = uniformInt(rand, 0, 4)
  const i2 = j >= i1 ? j + 1 : j
  const s1 = SHAPES[uniformInt(rand, 0, 2)]
  const s2 = SHAPES[uniformInt(rand, 0, 2)]
  const relation = RELATIONS[uniformInt(rand, 0, 3)]
  // 3. background grey
  const background = uniformInt(rand, 0, 40)
  // 4. radius, near/far and free coordinates
  const radius = Math.floor(size / 7) + uniformInt(rand, -1, 1)
  const a = Math.floor(size / 4) + uniformInt(rand, -2, 2)
  const b = Math.floor((3 * size) / 4) + uniformInt(rand, -2, 2)
  const [lo, hi] = [Math.floor(size / 4), Math.floor((3 * size) / 4)]
  const o1 = uniformInt(rand, lo, hi)
  const o2 = uniformInt(rand, lo, hi)
  // 5. centres
  const [p1, p2]: readonly [readonly [number, number], readonly [number, number]] =
    relation === 'left of' ? [[a, o1], [b, o2]] : relation === 'right of' ? [[b, o1], [a, o2]] : relation === 'above' ? [[o1, a], [o2, b]] : [[o1, b], [o2, a]]
  return { c1: COLOURS[i1], s1, relation, c2: COLOURS[i2], s2, background, radius, p1, p2 }
}

// -------------------------------------------------------------------------------------
// rasterization (Pillow 9.4.0, src/libImaging/Draw.c)
// -------------------------------------------------------------------------------------

/** A coverage mask being filled: S x S bytes, 1 where filled. */
interface Canvas {
  readonly width: number
  readonly height: number
  readonly data: Uint8Array
}

/** Draw.c hline8: a clipped horizontal run x0..x1 (inclusive, either order) on row y. */
const hline = (c: Canvas, x0: number, y: number, x1: number): void => {
  if (y < 0 || y >= c.height) return
  if (x0 > x1) [x0, x1] = [x1, x0]
  if (x0 < 0) x0 = 0
  else if (x0 >= c.width) return
  if (x1 < 0) return
  else if (x1 >= c.width) x1 = c.width - 1
  if (x0 <= x1) c.data.fill(1, y * c.width + x0, y * c.width + x1 + 1)
}

/** ImagingDrawRectangle, fill: every row y0..y1 (clipped), each run x0..x1. */
const fillRectangle = (c: Canvas, x0: number, y0: number, x1: number, y1: number): void => {
  if (y0 > y1) [y0, y1] = [y1, y0]
  if (y0 < 0) y0 = 0
  else if (y0 >= c.height) return
  if (y1 < 0) return
  else if (y1 > c.height) y1 = c.height
  for (let y = y0; y <= y1; y++) hline(c, x0, y, x1)
}

// quarter_* and ellipse_*: a quarter of the ellipse on the grid {(2x + x0, 2y + y0)}.
interface Quarter {
  cx: number
  cy: number
  ex: number
  ey: number
  a2: number
  b2: number
  a2b2: number
  finished: boolean
}

const quarterInit = (a: number, b: number): Quarter =>
  a < 0 || b < 0
    ? { cx: 0, cy: 0, ex: 0, ey: 0, a2: 0, b2: 0, a2b2: 0, finished: true }
    : { cx: a, cy: b % 2, ex: a % 2, ey: b, a2: a * a, b2: b * b, a2b2: a * a * b * b, finished: false }

const quarterDelta = (s: Quarter, x: number, y: number): number => Math.abs(s.a2 * y * y + s.b2 * x * x - s.a2b2)

/** The next point of the quarter, or null when finished. */
const quarterNext = (s: Quarter): readonly [number, number] | null => {
  if (s.finished) return null
  const ret = [s.cx, s.cy] as const
  if (s.cx === s.ex && s.cy === s.ey) s.finished = true
  else {
    let [nx, ny] = [s.cx, s.cy + 2]
    let ndelta = quarterDelta(s, nx, ny)
    if (nx > 1) {
      let newdelta = quarterDelta(s, s.cx - 2, s.cy + 2)
      if (ndelta > newdelta) {
        ;[nx, ny, ndelta] = [s.cx - 2, s.cy + 2, newdelta]
      }
      newdelta = quarterDelta(s, s.cx - 2, s.cy)
      if (ndelta > newdelta) [nx, ny] = [s.cx - 2, s.cy]
    }
    s.cx = nx
    s.cy = ny
  }
  return ret
}

/** ellipseNew with fill: the filled ellipse inscribed in the inclusive box x0..x1, y0..y1. */
const fillEllipse = (c: Canvas, x0: number, y0: number, x1: number, y1: number): void => {
  const [a, b] = [x1 - x0, y1 - y0]
  if (a < 0 || b < 0) return
  const w = a + b // fill: the ring's width covers the whole ellipse
  // ellipse_init
  const leftmost = a % 2
  const outer = quarterInit(a, b)
  const first = w < 1 ? null : quarterNext(outer)
  if (first === null) return
  let finished = false
  let [pr, py] = first
  const inner = quarterInit(a - 2 * (w - 1), b - 2 * (w - 1))
  let pl = leftmost
  const half = (v: number): number => Math.trunc(v / 2) // C integer division
  const emit = (l: number, y: number, r: number): void => hline(c, x0 + half(l + a), y0 + half(y + b), x0 + half(r + a))
  // ellipse_next, four runs per row of the quarter (emitted in its buffer's reverse order)
  while (!finished) {
    const [y, r] = [py, pr]
    let l = pl
    let next: readonly [number, number] | null
    while ((next = quarterNext(outer)) !== null && next[1] <= y) {
      /* skip points of this row */
    }
    if (next === null) finished = true
    else [pr, py] = next
    while ((next = quarterNext(inner)) !== null && next[1] <= y) l = next[0]
    pl = next === null ? leftmost : next[0]
    const runs: Array<readonly [number, number, number]> = []
    if ((l > 0 || l < r) && y > 0) runs.push([l === 0 ? 2 : l, y, r])
    if (y > 0) runs.push([-r, y, -l])
    if (l > 0 || l < r) runs.push([l === 0 ? 2 : l, -y, r])
    runs.push([-r, -y, -l])
    for (let k = runs.length - 1; k >= 0; k--) emit(...runs[k])
  }
}

/** Draw.c's Edge. */
interface Edge {
  xmin: number
  xmax: number
  ymin: number
  ymax: number
  x0: number
  y0: number
  dx: number // a C float
}

const f32 = Math.fround
const ROUND_UP = (f: number): number => (f >= 0 ? Math.floor(f32(f + 0.5)) : -Math.floor(f32(Math.abs(f) + 0.5)))
const ROUND_DOWN = (f: number): number => (f >= 0 ? Math.ceil(f32(f - 0.5)) : -Math.ceil(f32(Math.abs(f) - 0.5)))

const addEdge = (x0: number, y0: number, x1: number, y1: number): Edge => ({
  xmin: Math.min(x0, x1),
  xmax: Math.max(x0, x1),
  ymin: Math.min(y0, y1),
  ymax: Math.max(y0, y1),
  x0,
  y0,
  dx: y0 === y1 ? 0 : f32((x1 - x0) / (y1 - y0))
})

/** polygon_generic without alpha (hasAlpha = 0): Pillow's scan-line fill. */
const polygonGeneric = (c: Canvas, e: readonly Edge[]): void => {
  const n = e.length
  if (n <= 0) return
  const table: Edge[] = []
  let ymin = c.height - 1
  let ymax = 0
  for (const edge of e) {
    if (ymin > edge.ymin) ymin = edge.ymin
    if (ymax < edge.ymax) ymax = edge.ymax
    if (edge.ymin === edge.ymax) {
      hline(c, edge.xmin, edge.ymin, edge.xmax)
      continue
    }
    table.push(edge)
  }
  if (ymin < 0) ymin = 0
  if (ymax > c.height) ymax = c.height
  const xx = new Float32Array(table.length * 2) // calloc'd once, kept across rows
  const at = (edge: Edge, y: number): number => f32(f32((y - edge.y0) * edge.dx) + edge.x0)
  for (; ymin <= ymax; ymin++) {
    let j = 0
    for (let i = 0; i < table.length; i++) {
      const current = table[i]
      if (ymin >= current.ymin && ymin <= current.ymax) {
        xx[j++] = at(current, ymin)
        if (ymin === current.ymax && ymin < ymax) {
          // needed to draw consistent polygons
          xx[j] = xx[j - 1]
          j++
        } else if (current.dx !== 0 && Math.round(xx[j - 1]) === xx[j - 1]) {
          // connect discontiguous corners
          for (let k = 0; k < i; k++) {
            const other = table[k]
            if ((current.dx > 0 && other.dx <= 0) || (current.dx < 0 && other.dx >= 0)) continue
            if (((ymin === current.ymin && ymin === other.ymin) || (ymin === current.ymax && ymin === other.ymax)) && xx[j - 1] === at(other, ymin)) {
              const offset = ymin === ymax ? -1 : 1
              const adj = at(current, ymin + offset)
              const adjOther = at(other, ymin + offset)
              // Pillow writes xx[k] (k indexes edges, not crossings): kept as it is
              if (ymin === current.ymax) xx[k] = current.dx > 0 ? Math.max(adj, adjOther) + 1 : Math.min(adj, adjOther) - 1
              else xx[k] = current.dx > 0 ? Math.min(adj, adjOther) : Math.max(adj, adjOther) + 1
              break
            }
          }
        }
      }
    }
    const row = Array.from(xx.subarray(0, j)).sort((p, q) => p - q)
    for (let i = 1; i < j; i += 2) hline(c, ROUND_UP(row[i - 1]), ymin, ROUND_DOWN(row[i]))
  }
}

/** ImagingDrawPolygon, fill: integer vertices, closed. */
const fillPolygon = (c: Canvas, xy: ReadonlyArray<readonly [number, number]>): void => {
  const count = xy.length
  if (count <= 0) return
  const e: Edge[] = []
  let i = 0
  for (; i < count - 1; i++) {
    const [x0, y0] = xy[i]
    const [x1, y1] = xy[i + 1]
    if (y0 === y1 && i !== 0 && y0 === xy[i - 1][1]) {
      // a horizontal line right after another one: extend it
      const last = e[e.length - 1]
      if (x1 > x0 && x0 > xy[i - 1][0]) {
        last.xmax = x1
        continue
      } else if (x1 < x0 && x0 < xy[i - 1][0]) {
        last.xmin = x1
        continue
      }
    }
    e.push(addEdge(x0, y0, x1, y1))
  }
  if (xy[i][0] !== xy[0][0] || xy[i][1] !== xy[0][1]) e.push(addEdge(xy[i][0], xy[i][1], xy[0][0], xy[0][1]))
  polygonGeneric(c, e)
}

/** The pixels (S x S, 1 = filled) that Pillow fills for one shape of radius r centred at (cx, cy). */
export const shapeMask = (shape: Shape, cx: number, cy: number, r: number, size: number): Uint8Array => {
  const c: Canvas = { width: size, height: size, data: new Uint8Array(size * size) }
  if (shape === 'circle') fillEllipse(c, cx - r, cy - r, cx + r, cy + r)
  else if (shape === 'square') fillRectangle(c, cx - r, cy - r, cx + r, cy + r)
  else fillPolygon(c, [[cx, cy - r], [cx - r, cy + r], [cx + r, cy + r]])
  return c.data
}

// -------------------------------------------------------------------------------------
// samples and sets
// -------------------------------------------------------------------------------------

/** Renders a scene: background, object 1, then object 2 over it. */
export const renderScene = (scene: ShapesScene, size: number): ShapesSample => {
  const n = size * size
  const pixels = new Uint8Array(n * 3).fill(scene.background)
  const m1 = shapeMask(scene.s1, scene.p1[0], scene.p1[1], scene.radius, size)
  const m2 = shapeMask(scene.s2, scene.p2[0], scene.p2[1], scene.radius, size)
  const [rgb1, rgb2] = [COLOUR_RGB[scene.c1], COLOUR_RGB[scene.c2]]
  for (let p = 0; p < n; p++) {
    if (m2[p] === 1) {
      m1[p] = 0
      pixels.set(rgb2, p * 3)
    } else if (m1[p] === 1) pixels.set(rgb1, p * 3)
  }
  return { size, pixels, caption: captionOf(scene), masks: [m1, m2], scene }
}

/** One sample: draws a scene from `rand` (in the spec's order) and renders it at `size`. */
export const drawSample = (rand: () => number, size: number): ShapesSample => renderScene(drawScene(rand, size), size)

/** The samples of the set with this seed, one after another (lazily, for large sets). */
export function* shapesSamples(seed: number, count: number, size: number): Generator<ShapesSample> {
  const rand = mulberry32(seed)
  for (let i = 0; i < count; i++) yield drawSample(rand, size)
}

/** A set: `count` samples from one generator seeded with `seed`. Same seed, same set. */
export const shapesSet = (seed: number, count: number, size: number): ShapesSample[] => [...shapesSamples(seed, count, size)]
