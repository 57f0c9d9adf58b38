/**
 * The reproduction's chart, as SVG (rendered to PNG with sharp): left, mean recall of
 * each model at each stage (stage 1, re-ranked by ITM, re-ranked by the combined rule);
 * right, stage-1 mean recall against training step, one line per model.
 * @since 0.1.0
 */
import * as E from 'fp-ts/lib/Either.js'
import sharp from 'sharp'
import type { CmgaError } from '../../compiler/errors.js'
import { cmgaError } from '../../compiler/errors.js'

/** One model's numbers. */
export interface ChartSeries {
  readonly label: string
  /** r_mean by stage name; a stage the model lacks is absent. */
  readonly stages: Readonly<Record<string, number>>
  /** [step, stage-1 r_mean] in step order. */
  readonly curve: ReadonlyArray<readonly [number, number]>
}

const COLORS = ['#1f77b4', '#ff7f0e', '#2ca02c', '#9467bd']
const STAGES: ReadonlyArray<readonly [string, string]> = [
  ['stage1', 'stage 1'],
  ['rerank_itm', 're-rank: ITM'],
  ['rerank_combined', 're-rank: combined']
]

const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')
const text = (x: number, y: number, s: string, o: { size?: number; anchor?: string; weight?: string; rotate?: boolean } = {}): string =>
  `<text x="${x.toFixed(1)}" y="${y.toFixed(1)}" font-family="DejaVu Sans, sans-serif" font-size="${o.size ?? 12}" text-anchor="${o.anchor ?? 'start'}"${o.weight === undefined ? '' : ` font-weight="${o.weight}"`}${o.rotate === true ? ` transform="rotate(-90 ${x.toFixed(1)} ${y.toFixed(1)})"` : ''}>${esc(s)}</text>`

/** The chart as an SVG document. */
export const chartSvg = (series: readonly ChartSeries[], title: string): string => {
  const [W, H] = [1000, 440]
  const top = 60
  const plotH = 300
  const yOf = (v: number): number => top + plotH * (1 - v / 100)
  const out: string[] = [`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}">`, `<rect width="${W}" height="${H}" fill="white"/>`, text(W / 2, 24, title, { size: 16, anchor: 'middle', weight: 'bold' })]
  const axes = (x0: number, w: number, xlabel: string): void => {
    for (let v = 0; v <= 100; v += 20) {
      out.push(`<line x1="${x0}" x2="${x0 + w}" y1="${yOf(v)}" y2="${yOf(v)}" stroke="#ddd"/>`, text(x0 - 6, yOf(v) + 4, String(v), { size: 11, anchor: 'end' }))
    }
    out.push(`<line x1="${x0}" x2="${x0}" y1="${top}" y2="${top + plotH}" stroke="#333"/>`, `<line x1="${x0}" x2="${x0 + w}" y1="${top + plotH}" y2="${top + plotH}" stroke="#333"/>`)
    out.push(text(x0 - 36, top + plotH / 2, 'mean recall (%)', { size: 12, anchor: 'middle', rotate: true }), text(x0 + w / 2, top + plotH + 34, xlabel, { size: 12, anchor: 'middle' }))
  }
  // Left: bars.
  const [bx, bw] = [70, 400]
  axes(bx, bw, 'stage')
  const group = bw / STAGES.length
  const barW = (group * 0.8) / Math.max(1, series.length)
  STAGES.forEach(([key, name], g) => {
    out.push(text(bx + group * (g + 0.5), top + plotH + 16, name, { size: 11, anchor: 'middle' }))
    series.forEach((s, i) => {
      const v = s.stages[key]
      if (v === undefined) return
      const x = bx + group * g + group * 0.1 + barW * i
      out.push(`<rect x="${x.toFixed(1)}" y="${yOf(v).toFixed(1)}" width="${(barW - 2).toFixed(1)}" height="${(top + plotH - yOf(v)).toFixed(1)}" fill="${COLORS[i % COLORS.length]}"/>`)
      out.push(text(x + (barW - 2) / 2, yOf(v) - 4, v.toFixed(1), { size: 10, anchor: 'middle' }))
    })
  })
  // Right: curves.
  const [cx, cw] = [580, 390]
  axes(cx, cw, 'training step')
  const maxStep = Math.max(1, ...series.flatMap((s) => s.curve.map(([step]) => step)))
  for (let k = 0; k <= 4; k++) {
    const step = Math.round((maxStep * k) / 4)
    out.push(text(cx + (cw * step) / maxStep, top + plotH + 16, String(step), { size: 11, anchor: 'middle' }))
  }
  series.forEach((s, i) => {
    if (s.curve.length === 0) return
    const pts = s.curve.map(([step, v]) => `${(cx + (cw * step) / maxStep).toFixed(1)},${yOf(v).toFixed(1)}`)
    out.push(`<polyline fill="none" stroke="${COLORS[i % COLORS.length]}" stroke-width="2" points="${pts.join(' ')}"/>`)
    for (const p of pts) out.push(`<circle cx="${p.split(',')[0]}" cy="${p.split(',')[1]}" r="3" fill="${COLORS[i % COLORS.length]}"/>`)
  })
  // Legend.
  series.forEach((s, i) => {
    const x = 70 + i * 300
    out.push(`<rect x="${x}" y="${H - 22}" width="14" height="14" fill="${COLORS[i % COLORS.length]}"/>`, text(x + 20, H - 10, s.label, { size: 12 }))
  })
  out.push('</svg>')
  return out.join('\n')
}

/** The chart as PNG bytes. */
export const chartPng = async (series: readonly ChartSeries[], title: string): Promise<E.Either<CmgaError, Uint8Array>> => {
  try {
    return E.right(new Uint8Array(await sharp(Buffer.from(chartSvg(series, title))).png().toBuffer()))
  } catch (e) {
    return E.left(cmgaError('runtime', `cannot render the chart: ${(e as Error).message}`))
  }
}
