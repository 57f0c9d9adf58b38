/**
 * The WebAssembly SIMD resampler: its committed binary is what `npm run build:wasm`
 * makes from its AssemblyScript source (asc is a devDependency: without it this file
 * fails), it runs on this engine for RGB, and it gives the scalar path's bytes, which
 * test/preprocess-pillow.test.ts holds to Pillow's, over sizes and ratios the fixtures
 * do not reach (large reductions, one-pixel sides, one axis only, saturated pixels).
 */
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import type { ResampleFilter } from '../runtime/images/resample.js'
import { resample, resampleKernel } from '../runtime/images/resample.js'
import { mulberry32 } from '../runtime/prng.js'

const root = fileURLToPath(new URL('..', import.meta.url))

test('the committed resample-simd.wasm is what npm run build:wasm makes from its source', async () => {
  // A dynamic import: the package exports asc to ESM importers only, and uvu loads tests through require.
  const asc = (await import('assemblyscript/asc')).default
  const script = (JSON.parse(readFileSync(`${root}package.json`, 'utf8')) as { scripts: Record<string, string> }).scripts['build:wasm']
  const [command, ...args] = script.split(' ')
  assert.is(command, 'asc')
  const outFile = args[args.indexOf('-o') + 1]
  const written = new Map<string, Uint8Array | string>()
  const errors: string[] = []
  const result = await asc.main([...args, '--baseDir', root], {
    writeFile: (name, contents) => void written.set(name, contents),
    stderr: asc.createMemoryStream((chunk) => void errors.push(String(chunk)))
  })
  assert.is(result.error, null, errors.join(''))
  const built = written.get(outFile)
  assert.ok(built instanceof Uint8Array, `asc wrote ${[...written.keys()].join(', ')}`)
  const committed = readFileSync(`${root}${outFile}`)
  assert.ok(Buffer.from(built).equals(committed), `${outFile} (${committed.length} bytes) differs from the build of its source (${built.length} bytes): run npm run build:wasm`)
})

test('this engine runs the wasm-simd kernel for RGB, the scalar one otherwise', () => {
  assert.is(resampleKernel(3), 'wasm-simd')
  assert.is(resampleKernel(1), 'scalar')
  assert.throws(() => resample(new Uint8Array(4), 2, 2, 1, 1, 1, 'bicubic', 'wasm-simd'), /no wasm-simd kernel for 1 channels/)
})

/** `w x h` RGB, a third of its bytes 0 or 255 (sums that clip), the rest uniform. */
const image = (rand: () => number, w: number, h: number): Uint8Array =>
  new Uint8Array(w * h * 3).map(() => (rand() < 0.3 ? (rand() < 0.5 ? 0 : 255) : Math.floor(rand() * 256)))

const bothKernels = (src: Uint8Array, w: number, h: number, ow: number, oh: number, f: ResampleFilter): string | undefined => {
  const a = resample(src, w, h, 3, ow, oh, f, 'scalar')
  const b = resample(src, w, h, 3, ow, oh, f, 'wasm-simd')
  const at = a.findIndex((v, i) => v !== b[i])
  return a.length !== b.length ? `${b.length} bytes, expected ${a.length}` : at >= 0 ? `first difference at byte ${at}` : undefined
}

test('wasm-simd gives the scalar bytes: random sizes, both filters, up and down, one axis or both', () => {
  const rand = mulberry32(13)
  const bad: string[] = []
  const pick = (n: number): number => 1 + Math.floor(rand() * n)
  for (let it = 0; it < 300; it++) {
    const [w, h] = [pick(80), pick(80)]
    const shape = it % 4
    const ow = shape === 1 ? w : pick(80)
    const oh = shape === 2 ? h : pick(80)
    const src = image(rand, w, h)
    for (const f of ['bicubic', 'bilinear'] as const) {
      const d = bothKernels(src, w, h, ow, oh, f)
      if (d !== undefined) bad.push(`${w}x${h} -> ${ow}x${oh} ${f}: ${d}`)
    }
  }
  assert.equal(bad, [])
})

test('wasm-simd gives the scalar bytes on large reductions and extreme shapes', () => {
  const rand = mulberry32(14)
  const cases: readonly (readonly [number, number, number, number])[] = [
    [1200, 900, 384, 384], [1000, 750, 24, 17], [997, 13, 5, 3], [1, 500, 7, 384], [500, 1, 384, 7],
    [2, 2, 384, 384], [640, 480, 640, 37], [640, 480, 41, 480], [3, 700, 1, 1]
  ]
  const bad: string[] = []
  for (const [w, h, ow, oh] of cases) {
    const src = image(rand, w, h)
    for (const f of ['bicubic', 'bilinear'] as const) {
      const d = bothKernels(src, w, h, ow, oh, f)
      if (d !== undefined) bad.push(`${w}x${h} -> ${ow}x${oh} ${f}: ${d}`)
    }
  }
  assert.equal(bad, [])
})

test.run()
