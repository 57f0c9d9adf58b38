/**
 * `npm run bench:resample`: our Pillow-exact resampler against sharp's own resize, on a
 * 4000 x 3000 photo-like RGB image (seeded) to 384 x 384, bicubic and bilinear, timed
 * round-robin in one process (warm-up, then the median and the fastest of 9 rounds),
 * sharp with its default thread pool and with one thread (ours runs on one). Prints a
 * table and writes bench/results-resample.md with the machine (CPU model from
 * /proc/cpuinfo) and the load.
 *
 * sharp is not doing the same arithmetic: for a large reduction libvips first shrinks
 * by whole factors (box averages, 2 x 2 pixels into one and so on), then applies the
 * cubic filter over a few pixels, which is why its pixels are not Pillow's; Pillow
 * (and we) weigh every input pixel under a filter widened 10.4 times (43 taps).
 * @since 0.1.0
 */
import { writeFileSync } from 'node:fs'
import sharp from 'sharp'
import type { ResampleFilter } from '../runtime/images/resample.js'
import { coefficients, resample } from '../runtime/images/resample.js'
import { mulberry32 } from '../runtime/prng.js'
import type { Timing } from './measure.js'
import { interleaved, machine } from './measure.js'

// -------------------------------------------------------------------------------------
// set-up
// -------------------------------------------------------------------------------------

const W = 4000
const H = 3000
const S = 384
const ROUNDS = 9

/** A photo-like image: smooth gradients with noise (seeded). */
const photo = (): Uint8Array => {
  const rand = mulberry32(13)
  const px = new Uint8Array(W * H * 3)
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      const o = 3 * (y * W + x)
      px[o] = (x * 255) / W + rand() * 24
      px[o + 1] = (y * 255) / H + rand() * 24
      px[o + 2] = 128 + 100 * Math.sin(x / 97 + y / 61) + rand() * 24
    }
  }
  return px
}

const src = photo()
const KERNEL: { readonly [K in ResampleFilter]: 'cubic' | 'linear' } = { bicubic: 'cubic', bilinear: 'linear' }

const ours = (f: ResampleFilter) => async (): Promise<unknown> => resample(src, W, H, 3, S, S, f)

const viaSharp = (f: ResampleFilter, threads: number) => async (): Promise<unknown> => {
  sharp.concurrency(threads)
  return sharp(src, { raw: { width: W, height: H, channels: 3 } }).resize(S, S, { fit: 'fill', kernel: KERNEL[f] }).raw().toBuffer()
}

// -------------------------------------------------------------------------------------
// measurements
// -------------------------------------------------------------------------------------

interface Line {
  readonly filter: ResampleFilter
  readonly ours: Timing
  readonly sharp: Timing
  readonly sharp1: Timing
  readonly taps: number
}

const defaultThreads = sharp.concurrency()
const before = machine()
const lines: Line[] = []
for (const f of ['bicubic', 'bilinear'] as const) {
  const [o, s, s1] = await interleaved([ours(f), viaSharp(f, defaultThreads), viaSharp(f, 1)], ROUNDS, 2)
  sharp.concurrency(defaultThreads)
  lines.push({ filter: f, ours: o, sharp: s, sharp1: s1, taps: coefficients(W, S, f).taps })
  console.log(`${f.padEnd(8)} ours ${o.median.toFixed(1)} ms (min ${o.min.toFixed(1)})  sharp ${s.median.toFixed(1)} ms (min ${s.min.toFixed(1)}, ${defaultThreads} threads)  sharp 1 thread ${s1.median.toFixed(1)} ms  ratio ${(o.median / s.median).toFixed(2)}`)
}
const after = machine()

// -------------------------------------------------------------------------------------
// results file
// -------------------------------------------------------------------------------------

const ms = (t: Timing): string => `${t.median.toFixed(1)} | ${t.min.toFixed(1)}`
const text = [
  '# Resampling benchmark (issue 13)',
  '',
  `Written by \`npm run bench:resample\` (bench/resample.ts): ${W} x ${H} RGB to ${S} x ${S}, round-robin, warm-up then ${ROUNDS} rounds.`,
  '',
  '## Machine',
  '',
  `- cpu: ${before.cpu}`,
  `- node: ${before.node}`,
  `- sharp: ${sharp.versions.sharp} (libvips ${sharp.versions.vips}), default thread pool ${defaultThreads}`,
  `- load before / after: ${before.load} / ${after.load}`,
  '',
  '## Timings (ms)',
  '',
  '| filter | taps per output pixel (x) | ours median | ours fastest | sharp median | sharp fastest | sharp 1 thread median | sharp 1 thread fastest | ours / sharp (median) |',
  '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
  ...lines.map((l) => `| ${l.filter} | ${l.taps} | ${ms(l.ours)} | ${ms(l.sharp)} | ${ms(l.sharp1)} | ${(l.ours.median / l.sharp.median).toFixed(2)} |`),
  '',
  'sharp does less arithmetic: libvips shrinks by whole factors with box averages before its',
  'cubic filter (why its pixels differ from Pillow\'s by up to 36 levels); ours is Pillow\'s',
  'algorithm, every input pixel weighed under the widened filter, in one JavaScript thread.',
  ''
].join('\n')
writeFileSync(new URL('results-resample.md', import.meta.url), text)
console.log('wrote bench/results-resample.md')
