/**
 * The loss curve as a plain SVG document, written by hand: one polyline per series
 * (each smoothed with an exponential moving average, the raw total drawn faintly
 * behind), a linear y axis from 0, step ticks, and a legend.
 * @since 0.1.0
 */

/** One series: a name and its value at each step. */
export interface Series {
  readonly name: string
  readonly points: ReadonlyArray<readonly [number, number]>
}

const COLOURS = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b']
const [W, H, LEFT, RIGHT, TOP, BOTTOM] = [720, 400, 56, 150, 20, 40]

/** A value rounded for a tick label. */
const label = (x: number): string => (Math.abs(x) >= 100 ? x.toFixed(0) : Math.abs(x) >= 1 ? x.toFixed(1) : x.toPrecision(2))

/** Ticks at round values covering [0, max]. */
const ticks = (max: number, n = 5): number[] => {
  if (!(max > 0)) return [0]
  const raw = max / n
  const mag = 10 ** Math.floor(Math.log10(raw))
  const step = [1, 2, 5, 10].map((k) => k * mag).find((s) => s >= raw) ?? raw
  return Array.from({ length: Math.floor(max / step) + 1 }, (_, i) => i * step)
}

/** Exponential moving average (the first value starts it). */
export const smooth = (ys: readonly number[], alpha: number): number[] => {
  let acc = ys[0] ?? 0
  return ys.map((y) => (acc = alpha * y + (1 - alpha) * acc))
}

const escape = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')

/** An SVG plot of the series against step (non-finite values are left out). */
export const lossCurveSvg = (series: readonly Series[], title: string): string => {
  const clean = series.map((s) => ({ ...s, points: s.points.filter(([, y]) => Number.isFinite(y)) }))
  const all = clean.flatMap((s) => s.points)
  const xMax = Math.max(1, ...all.map(([x]) => x))
  const yMax = Math.max(1e-9, ...all.map(([, y]) => y)) * 1.05
  const px = (x: number): number => LEFT + (x / xMax) * (W - LEFT - RIGHT)
  const py = (y: number): number => H - BOTTOM - (Math.max(0, y) / yMax) * (H - TOP - BOTTOM)
  const line = (pts: ReadonlyArray<readonly [number, number]>, colour: string, extra = ''): string =>
    pts.length === 0 ? '' : `<polyline fill="none" stroke="${colour}" stroke-width="1.5"${extra} points="${pts.map(([x, y]) => `${px(x).toFixed(1)},${py(y).toFixed(1)}`).join(' ')}"/>`
  const alpha = Math.min(1, 20 / Math.max(1, all.length / Math.max(1, clean.length)))
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="11">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${LEFT}" y="14" font-size="13">${escape(title)}</text>`,
    ...ticks(yMax).map((t) => `<line x1="${LEFT}" x2="${W - RIGHT}" y1="${py(t)}" y2="${py(t)}" stroke="#ddd"/><text x="${LEFT - 6}" y="${py(t) + 4}" text-anchor="end">${label(t)}</text>`),
    ...ticks(xMax).map((t) => `<text x="${px(t)}" y="${H - BOTTOM + 16}" text-anchor="middle">${label(t)}</text>`),
    `<line x1="${LEFT}" x2="${W - RIGHT}" y1="${H - BOTTOM}" y2="${H - BOTTOM}" stroke="black"/>`,
    `<line x1="${LEFT}" x2="${LEFT}" y1="${TOP}" y2="${H - BOTTOM}" stroke="black"/>`,
    `<text x="${(LEFT + W - RIGHT) / 2}" y="${H - 6}" text-anchor="middle">step</text>`
  ]
  if (clean[0] !== undefined) parts.push(line(clean[0].points, COLOURS[0], ' stroke-opacity="0.25"'))
  clean.forEach((s, i) => {
    const ys = smooth(s.points.map(([, y]) => y), alpha)
    const colour = COLOURS[i % COLOURS.length]
    parts.push(line(s.points.map(([x], k) => [x, ys[k]] as const), colour))
    const y = TOP + 14 + i * 16
    parts.push(`<line x1="${W - RIGHT + 12}" x2="${W - RIGHT + 32}" y1="${y - 4}" y2="${y - 4}" stroke="${colour}" stroke-width="2"/><text x="${W - RIGHT + 38}" y="${y}">${escape(s.name)}</text>`)
  })
  parts.push('</svg>')
  return parts.join('\n') + '\n'
}
