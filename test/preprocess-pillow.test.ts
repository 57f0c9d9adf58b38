/**
 * Pixels identical to Pillow's, byte for byte: every input of test/fixtures/pillow
 * (every format and mode PIL reads in practice, made and converted there by Pillow,
 * see make_fixtures.py) decodes to `Image.open(f).convert('RGB')`, and resizes to
 * `.resize((S, S), BICUBIC | BILINEAR)` or torchvision's Resize(S) + CenterCrop(S),
 * with either resampling kernel (WebAssembly SIMD and scalar).
 */
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { gunzipSync } from 'node:zlib'
import * as E from 'fp-ts/lib/Either.js'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { decodeImage } from '../runtime/images/decode.js'
import { decodeRgb } from '../runtime/images/preprocess.js'
import type { ResampleFilter } from '../runtime/images/resample.js'
import { centerCropOffsets, roundHalfEven, shorterSideTo } from '../runtime/images/square.js'

const dir = fileURLToPath(new URL('fixtures/pillow/', import.meta.url))

interface Decoded {
  readonly input: string
  readonly mode: string
  readonly width: number
  readonly height: number
  readonly offset: number
}
interface Case {
  readonly input: string
  readonly size: number
  readonly filter: ResampleFilter
  readonly crop: boolean
  readonly offset: number
}
const fixtures = JSON.parse(readFileSync(join(dir, 'expected.json'), 'utf8')) as { pillow: string; decoded: Decoded[]; cases: Case[] }
const blob = gunzipSync(readFileSync(join(dir, 'expected.bin.gz')))

/** Where two byte arrays first differ, and how many bytes do (undefined when equal). */
const difference = (got: Uint8Array, want: Uint8Array): string | undefined => {
  if (got.length !== want.length) return `${got.length} bytes, expected ${want.length}`
  let n = 0
  let first = -1
  let max = 0
  for (let i = 0; i < want.length; i++) {
    const d = Math.abs(got[i] - want[i])
    if (d === 0) continue
    if (first < 0) first = i
    n++
    max = Math.max(max, d)
  }
  return n === 0 ? undefined : `${n} bytes differ (max ${max} levels), first at byte ${first}`
}

test(`fixtures were made by Pillow ${fixtures.pillow} and cover every mode`, () => {
  assert.ok(fixtures.decoded.length >= 30)
  const modes = new Set(fixtures.decoded.map((d) => d.mode))
  for (const m of ['RGB', 'RGBA', 'L', 'LA', '1', 'P', 'I', 'I;16', 'CMYK']) assert.ok(modes.has(m), m)
})

test('decoding: every input gives the pixels of PIL convert(RGB)', async () => {
  for (const d of fixtures.decoded) {
    const r = await decodeImage(readFileSync(join(dir, 'inputs', d.input)))
    if (E.isLeft(r)) return assert.unreachable(`${d.input}: ${r.left}`)
    assert.equal([r.right.width, r.right.height], [d.width, d.height], d.input)
    const bad = difference(r.right.rgb, blob.subarray(d.offset, d.offset + d.width * d.height * 3))
    assert.is(bad, undefined, `${d.input} (${d.mode}): ${bad}`)
  }
})

for (const kernel of ['wasm-simd', 'scalar'] as const) {
  test(`resizing (${kernel}): every input, size and filter gives the bytes of PIL resize, centre crops those of torchvision`, async () => {
    const failures: string[] = []
    for (const c of fixtures.cases) {
      const r = await decodeRgb(join(dir, 'inputs', c.input), c.size, { resample: c.filter, centerCrop: c.crop, kernel })
      if (E.isLeft(r)) return assert.unreachable(r.left.message)
      const bad = difference(r.right, blob.subarray(c.offset, c.offset + c.size * c.size * 3))
      if (bad !== undefined) failures.push(`${c.input} S=${c.size} ${c.filter}${c.crop ? ' crop' : ''}: ${bad}`)
    }
    assert.equal(failures, [], failures.join('\n'))
    assert.ok(fixtures.cases.length >= 400)
  })
}

test('centre-crop arithmetic is torchvision\'s: int() sizes, round-half-even offsets', () => {
  assert.equal(shorterSideTo(1411, 940, 224), [336, 224])
  assert.equal(shorterSideTo(3, 301, 16), [16, 1605])
  assert.equal([roundHalfEven(0.5), roundHalfEven(1.5), roundHalfEven(2.5), roundHalfEven(3)], [0, 2, 2, 3])
  assert.equal(centerCropOffsets(21, 16, 16), [2, 0]) // (21 - 16) / 2 = 2.5 -> 2
  assert.equal(centerCropOffsets(23, 16, 16), [4, 0]) // 3.5 -> 4
})

test.run()
