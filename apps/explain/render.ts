/**
 * The picture of `cmga explain`: a header with the text and the three scores; a row of
 * panels per guidance mode (the preprocessed image, then one panel per compression
 * layer with kept patches as they are and dropped ones dimmed, tinted by their weight
 * in the fused token); and one similarity heatmap per text token.
 * @since 0.1.0
 */
import type { Canvas, Rgb } from './canvas.js'
import { LINE_HEIGHT, canvas, drawText, fillRect, fitText, strokeRect } from './canvas.js'
import type { Explanation } from './explain.js'
import type { Cover, LayerPatches } from './patches.js'
import { coverWeights } from './patches.js'

// -------------------------------------------------------------------------------------
// model
// -------------------------------------------------------------------------------------

/** How one patch of a panel is drawn. */
export type PatchLook =
  | { readonly kind: 'plain' }
  | { readonly kind: 'merged' } // kept, but as part of a fused token made at an earlier layer
  | { readonly kind: 'dropped'; readonly tint: number } // 0..1, the weight in the fused token relative to the largest
  | { readonly kind: 'heat'; readonly color: Rgb; readonly alpha: number; readonly best: boolean }

/** Layout constants, in pixels. */
export const LAYOUT = { margin: 12, gap: 10, minPanel: 160, minColumns: 4 } as const

const INK: Rgb = [30, 30, 30]
const MUTED: Rgb = [110, 110, 110]
const TINT: Rgb = [255, 140, 0]
const MERGED: Rgb = [0, 200, 230]
const caption = LINE_HEIGHT + 4

// -------------------------------------------------------------------------------------
// colours
// -------------------------------------------------------------------------------------

const VIRIDIS: readonly Rgb[] = [[68, 1, 84], [59, 82, 139], [33, 145, 140], [94, 201, 98], [253, 231, 37]]

/** Viridis at `t` in [0, 1] (five stops, linearly interpolated). */
export const viridis = (t: number): Rgb => {
  const u = Math.min(Math.max(t, 0), 1) * (VIRIDIS.length - 1)
  const i = Math.min(Math.floor(u), VIRIDIS.length - 2)
  const f = u - i
  return [0, 1, 2].map((k) => Math.round(VIRIDIS[i][k] * (1 - f) + VIRIDIS[i + 1][k] * f)) as unknown as Rgb
}

const luminance = (r: number, g: number, b: number): number => 0.299 * r + 0.587 * g + 0.114 * b

const mix = (a: Rgb, b: Rgb, t: number): Rgb => [0, 1, 2].map((k) => Math.round(a[k] * (1 - t) + b[k] * t)) as unknown as Rgb

// -------------------------------------------------------------------------------------
// panels
// -------------------------------------------------------------------------------------

/** Draws the S x S image `rgb` (interleaved RGB bytes) at `scale`, each patch as `look(p)` says. */
const drawPanel = (c: Canvas, x0: number, y0: number, rgb: Uint8Array, e: Explanation, scale: number, look: (p: number) => PatchLook): void => {
  const { imageSize: S, patchSize: P, grid } = e
  const looks = Array.from({ length: grid * grid }, (_, p) => look(p))
  for (let y = 0; y < S * scale; y++) {
    for (let x = 0; x < S * scale; x++) {
      const [sx, sy] = [Math.floor(x / scale), Math.floor(y / scale)]
      const i = (sy * S + sx) * 3
      const px: Rgb = [rgb[i], rgb[i + 1], rgb[i + 2]]
      const l = looks[Math.floor(sy / P) * grid + Math.floor(sx / P)]
      const grey = luminance(...px)
      const out: Rgb =
        l.kind === 'plain' || l.kind === 'merged'
          ? px
          : l.kind === 'dropped'
            ? mix([50 + 0.3 * grey, 50 + 0.3 * grey, 50 + 0.3 * grey], TINT, 0.5 * l.tint)
            : mix([40 + 0.4 * grey, 40 + 0.4 * grey, 40 + 0.4 * grey], l.color, l.alpha)
      fillRect(c, x0 + x, y0 + y, 1, 1, out)
    }
  }
  const cell = P * scale
  looks.forEach((l, p) => {
    const [x, y] = [x0 + (p % grid) * cell, y0 + Math.floor(p / grid) * cell]
    if (cell >= 8) strokeRect(c, x, y, cell, cell, [255, 255, 255], 1, 0.18)
    if (l.kind === 'merged') strokeRect(c, x + 1, y + 1, cell - 2, cell - 2, MERGED, Math.max(1, Math.floor(cell / 16)))
    if (l.kind === 'heat' && l.best) strokeRect(c, x, y, cell, cell, [255, 255, 255], Math.max(1, Math.floor(cell / 16)))
  })
}

/** How a layer's panel draws each patch. */
const layerLook = (l: LayerPatches, patches: number): ((p: number) => PatchLook) => {
  const merged = new Set(l.kept.filter((k) => k.patches.length > 1).flatMap((k) => k.patches))
  const kept = new Set(l.keptPatches)
  const w = coverWeights(l.fused, patches)
  const top = Math.max(...w, 1e-12)
  return (p) => (merged.has(p) ? { kind: 'merged' } : kept.has(p) ? { kind: 'plain' } : { kind: 'dropped', tint: w[p] / top })
}

/** The column of the final fused token (-1 without compression). */
const fusedIndex = (e: Explanation): number => (e.image.length > 0 ? e.visual.length - 1 : -1)

/** How word `r`'s heatmap draws each patch: the colour of the final token covering it. */
const heatLook = (e: Explanation, r: number, lo: number, hi: number): ((p: number) => PatchLook) => {
  const owner = new Array<number>(e.grid * e.grid).fill(-1)
  e.visual.forEach((v: Cover, k) => v.patches.forEach((p) => (owner[p] = owner[p] === -1 ? k : owner[p])))
  const row = e.similarity[r]
  const best = row.indexOf(Math.max(...row))
  const fused = fusedIndex(e)
  return (p) => {
    const k = owner[p]
    return k === -1 ? { kind: 'dropped', tint: 0 } : { kind: 'heat', color: viridis(hi > lo ? (row[k] - lo) / (hi - lo) : 0.5), alpha: k === fused ? 0.4 : 0.85, best: k === best && k !== fused }
  }
}

// -------------------------------------------------------------------------------------
// the picture
// -------------------------------------------------------------------------------------

/** What the header says besides the scores. */
export interface PictureText {
  /** The text as the user gave it. */
  readonly text: string
  /** `compression.imageWeight` (beta of `joint` guidance), for the row title. */
  readonly imageWeight: number
}

/** The picture's geometry: panel scale and size, columns, and the size of the whole PNG. */
export const pictureLayout = (e: Pick<Explanation, 'imageSize' | 'image' | 'words'>): { scale: number; panel: number; cols: number; width: number; height: number } => {
  const { margin: M, gap: G } = LAYOUT
  const scale = Math.max(1, Math.ceil(LAYOUT.minPanel / e.imageSize))
  const panel = e.imageSize * scale
  const cols = Math.max(1 + e.image.length, LAYOUT.minColumns)
  const block = caption + panel + G
  const header = 3 * LINE_HEIGHT + G
  const guided = 2 * (LINE_HEIGHT + 2 + block) + LINE_HEIGHT + G
  const heat = 4 * LINE_HEIGHT + G + Math.ceil(e.words.length / cols) * block - G
  return { scale, panel, cols, width: 2 * M + cols * panel + (cols - 1) * G, height: M + header + guided + heat + M }
}

/** Draws the whole picture for an explanation and the preprocessed image's RGB bytes [S, S, 3]. */
export const renderExplanation = (e: Explanation, rgb: Uint8Array, t: PictureText): Canvas => {
  const { margin: M, gap: G } = LAYOUT
  const { scale, panel, cols, width, height } = pictureLayout(e)
  const inner = width - 2 * M
  const block = caption + panel + G
  const c = canvas(width, height, [255, 255, 255])
  const N = e.grid * e.grid
  const at = (i: number): number => M + i * (panel + G)
  let y = M

  const line = (s: string, color: Rgb = INK): void => {
    drawText(c, M, y, fitText(s, inner), color)
    y += LINE_HEIGHT
  }
  line(`text: "${t.text}"`)
  line(`global score ${e.scores.global.toFixed(4)}    local score ${e.scores.local.toFixed(4)}    ITM match probability ${e.scores.itm.toFixed(4)}`)
  line(`${e.imageSize}x${e.imageSize} px, ${N} patches of ${e.patchSize} px; patch grid ${e.grid}x${e.grid}`, MUTED)
  y += G

  const guided = (title: string, layers: readonly LayerPatches[]): void => {
    line(title)
    y += 2
    drawText(c, at(0), y, fitText('preprocessed input', panel), MUTED)
    drawPanel(c, at(0), y + caption, rgb, e, scale, () => ({ kind: 'plain' }))
    if (layers.length === 0) drawText(c, at(1), y + caption, fitText('this model has no compression layers', inner - panel - G), MUTED)
    layers.forEach((l, i) => {
      drawText(c, at(i + 1), y, fitText(`layer ${l.layer}: ${l.kept.length}/${l.candidates} kept`, panel), INK)
      drawPanel(c, at(i + 1), y + caption, rgb, e, scale, layerLook(l, N))
    })
    y += block
  }
  guided('image guidance (text-agnostic; what retrieval caches per image)', e.image)
  guided(`joint guidance (image and this text, beta = ${t.imageWeight})`, e.joint)

  // Legend of the layer panels.
  let x = M
  const swatch = (color: Rgb, label: string, border?: Rgb): void => {
    fillRect(c, x, y + 2, 10, 10, color)
    if (border !== undefined) strokeRect(c, x, y + 2, 10, 10, border, 2)
    x += 14 + drawText(c, x + 14, y, label, MUTED) + 14
  }
  swatch([150, 150, 150], 'kept patch')
  swatch([150, 150, 150], 'kept in an earlier fused token', MERGED)
  swatch(mix([70, 70, 70], TINT, 0.5), 'dropped (tint: weight in fused token)')
  y += LINE_HEIGHT + G

  // Heatmaps: one per text token, on a shared colour scale.
  const all = e.similarity.flat()
  const [lo, hi] = [Math.min(...all), Math.max(...all)]
  line('similarity of each text token with each final visual token (image guidance)')
  line('bright: a kept token on its patches; faded: the fused token', MUTED)
  line("white box: the text token's best match (around the whole panel: the fused token)", MUTED)
  x = M + drawText(c, M, y, `colour scale  ${lo.toFixed(3)} `, MUTED)
  const bar = 160
  for (let i = 0; i < bar; i++) fillRect(c, x + i, y + 2, 1, 9, viridis(i / (bar - 1)))
  drawText(c, x + bar + 4, y, hi.toFixed(3), MUTED)
  y += LINE_HEIGHT + G
  e.words.forEach((w, r) => {
    const [col, yy] = [r % cols, y + Math.floor(r / cols) * block]
    const s = e.similarity[r]
    const top = Math.max(...s)
    drawText(c, at(col), yy, fitText(`${w}  max ${top.toFixed(3)}`, panel), INK)
    drawPanel(c, at(col), yy + caption, rgb, e, scale, heatLook(e, r, lo, hi))
    if (s.indexOf(top) === fusedIndex(e)) strokeRect(c, at(col), yy + caption, panel, panel, [255, 255, 255], 2)
  })
  return c
}
