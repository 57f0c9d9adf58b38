/**
 * Regenerates `glyphs.ts`, the built-in glyph table of `cmga explain`, by rasterizing
 * DejaVu Sans Mono (Bitstream Vera licence; Debian's fonts-dejavu-core) with sharp.
 * A development tool, run by hand: `npx tsx apps/explain/glyphs-make.ts`. The
 * table is committed, so drawing text never needs a system font.
 * @since 0.1.0
 */
import { writeFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import sharp from 'sharp'

const [W, H, SIZE, BASELINE] = [7, 13, 11.63, 10]

const escape = (ch: string): string => (ch === '<' ? '&lt;' : ch === '>' ? '&gt;' : ch === '&' ? '&amp;' : ch)

/** One glyph as coverage levels 0..15, one hex digit per pixel, row-major. */
const rasterize = async (ch: string): Promise<string> => {
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}"><rect width="${W}" height="${H}" fill="#fff"/>` +
    `<text x="0" y="${BASELINE}" font-family="DejaVu Sans Mono" font-size="${SIZE}" fill="#000">${escape(ch)}</text></svg>`
  const { data, info } = await sharp(Buffer.from(svg)).removeAlpha().greyscale().raw().toBuffer({ resolveWithObject: true })
  return Array.from({ length: W * H }, (_, i) => Math.round(((255 - data[i * info.channels]) / 255) * 15).toString(16)).join('')
}

const chars = Array.from({ length: 95 }, (_, i) => String.fromCharCode(32 + i))
const rows = await Promise.all(chars.map(rasterize))
const body = rows.map((r, i) => `  '${r}', // ${JSON.stringify(chars[i])}`).join('\n')
const out = `/**
 * The built-in glyph table of \`cmga explain\`: printable ASCII (' ' to '~') in ${W} x ${H}
 * pixel cells, rasterized from DejaVu Sans Mono (Bitstream Vera licence) by
 * \`glyphs-make.ts\`. Built in so that the picture's text never depends on system fonts.
 * @since 0.1.0
 */

/** Width of a glyph cell (the advance), in pixels. */
export const GLYPH_WIDTH = ${W}

/** Height of a glyph cell (the line height), in pixels. */
export const GLYPH_HEIGHT = ${H}

// Coverage 0..15 per pixel, one hex digit each, row-major; entry i is character 32 + i.
const table: readonly string[] = [
${body}
]

/** The coverage (0..15, row-major) of a character; anything outside printable ASCII is drawn as '?'. */
export const glyph = (ch: string): string => {
  const code = ch.charCodeAt(0)
  return table[code >= 32 && code <= 126 ? code - 32 : 31]
}
`
writeFileSync(fileURLToPath(new URL('./glyphs.ts', import.meta.url)), out)
