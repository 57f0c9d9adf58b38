import { mkdirSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import * as E from 'fp-ts/lib/Either.js'
import sharp from 'sharp'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { IMAGE_MEAN, IMAGE_STD, listImages, loadImage, loadImages, normalizeRgb, rgbCache } from '../runtime/images/index.js'
import { tempDir } from './support/cli.js'

const dir = tempDir('cmga-images-')
const f = Math.fround

/** Expected value of one channel of an 8-bit pixel, as torchvision computes it in float32. */
const expected = (v: number, c: number): number => f(f(f(v / 255) - f(IMAGE_MEAN[c])) / f(IMAGE_STD[c]))

/** A w x h image: the left half one colour, the right half another. */
const halves = (w: number, h: number, left: number[], right: number[]): Buffer => {
  const b = Buffer.alloc(w * h * 3)
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) b.set(x < w / 2 ? left : right, 3 * (y * w + x))
  return b
}

const write = async (name: string, raw: Buffer, w: number, h: number, channels: 3 | 4 = 3): Promise<string> => {
  const path = join(dir, name)
  const img = sharp(raw, { raw: { width: w, height: h, channels } })
  await (name.endsWith('.jpg') ? img.jpeg({ quality: 100 }) : name.endsWith('.webp') ? img.webp({ lossless: true }) : img.png()).toFile(path)
  return path
}

test('normalizeRgb: planar [3, S, S], float32 steps of ToTensor + Normalize', () => {
  const rgb = Uint8Array.from([0, 128, 255, 10, 20, 30, 200, 100, 50, 255, 255, 255])
  const out = normalizeRgb(rgb, 2)
  assert.is(out.length, 12)
  for (let p = 0; p < 4; p++) for (let c = 0; c < 3; c++) assert.is(out[c * 4 + p], expected(rgb[3 * p + c], c))
  assert.throws(() => normalizeRgb(rgb, 3), /12 bytes/)
})

test('loadImage: a solid PNG resizes to [3, S, S] with exact normalized values', async () => {
  const path = await write('solid.png', Buffer.alloc(50 * 30 * 3, Buffer.from([200, 100, 50])), 50, 30)
  const r = await loadImage(path, 16)
  if (E.isLeft(r)) return assert.unreachable(r.left.message)
  assert.equal(r.right.shape, [3, 16, 16])
  for (let c = 0; c < 3; c++) for (let p = 0; p < 256; p++) assert.is(r.right.data[c * 256 + p], expected([200, 100, 50][c], c))
})

test('loadImage: flip mirrors left and right; grayscale and RGBA become RGB', async () => {
  const path = await write('halves.png', halves(16, 16, [255, 0, 0], [0, 0, 255]), 16, 16)
  const plain = await loadImage(path, 16)
  const flipped = await loadImage(path, 16, { flip: true })
  if (E.isLeft(plain) || E.isLeft(flipped)) return assert.unreachable('load failed')
  assert.is(plain.right.data[0], expected(255, 0)) // red at the top-left
  assert.is(flipped.right.data[0], expected(0, 0)) // blue there once flipped
  for (let y = 0; y < 16; y++) for (let x = 0; x < 16; x++) assert.is(flipped.right.data[y * 16 + x], plain.right.data[y * 16 + 15 - x])

  const gray = join(dir, 'gray.png')
  await sharp(Buffer.alloc(64, 77), { raw: { width: 8, height: 8, channels: 1 } }).png().toFile(gray)
  const g = await loadImage(gray, 8)
  if (E.isLeft(g)) return assert.unreachable(g.left.message)
  for (let c = 0; c < 3; c++) assert.is(g.right.data[c * 64], expected(77, c))

  const rgba = await write('rgba.png', Buffer.alloc(8 * 8 * 4, Buffer.from([10, 20, 30, 0])), 8, 8, 4)
  const a = await loadImage(rgba, 8) // alpha dropped, not composited (as PIL's convert('RGB'))
  if (E.isLeft(a)) return assert.unreachable(a.left.message)
  assert.is(a.right.data[0], expected(10, 0))
})

test('loadImage: JPEG and WebP decode', async () => {
  const raw = Buffer.alloc(24 * 24 * 3, Buffer.from([40, 160, 220]))
  for (const name of ['c.jpg', 'c.webp']) {
    const r = await loadImage(await write(name, raw, 24, 24), 12)
    if (E.isLeft(r)) return assert.unreachable(r.left.message)
    assert.ok(Math.abs(r.right.data[0] - expected(40, 0)) < 0.05, name)
  }
})

test('loadImage: missing, corrupt and truncated images are errors naming the file', async () => {
  const missing = await loadImage(join(dir, 'nope.png'), 8)
  assert.ok(E.isLeft(missing) && missing.left.kind === 'io' && missing.left.message.includes('nope.png: no such file'))
  const corrupt = join(dir, 'corrupt.png')
  writeFileSync(corrupt, 'this is not a png')
  const c = await loadImage(corrupt, 8)
  assert.ok(E.isLeft(c) && c.left.kind === 'format' && c.left.message.startsWith(`${corrupt}: cannot decode image`), E.isLeft(c) ? c.left.message : '')
  const good = await write('whole.jpg', Buffer.alloc(64 * 64 * 3, 90), 64, 64)
  const truncated = join(dir, 'truncated.jpg')
  const bytes = (await sharp(good).toBuffer())
  writeFileSync(truncated, bytes.subarray(0, Math.floor(bytes.length / 2)))
  const tr = await loadImage(truncated, 8)
  assert.ok(E.isLeft(tr) && tr.left.message.includes('truncated.jpg'))
  assert.ok(E.isLeft(await loadImage(dir, 8)), 'a folder is not an image')
})

test('loadImages: one batch; bad images skipped and named, or failing the batch', async () => {
  const a = await write('a.png', Buffer.alloc(8 * 8 * 3, 10), 8, 8)
  const b = await write('b.png', Buffer.alloc(8 * 8 * 3, 200), 8, 8)
  const bad = join(dir, 'corrupt.png')
  const skip = await loadImages([a, bad, b, join(dir, 'gone.png')], 8, { onError: 'skip', flip: (i) => i === 2 })
  if (E.isLeft(skip)) return assert.unreachable(skip.left.message)
  assert.equal(skip.right.pixels.shape, [2, 3, 8, 8])
  assert.equal(skip.right.indices, [0, 2])
  assert.equal(skip.right.skipped.map((s) => [s.index, s.name]), [[1, bad], [3, join(dir, 'gone.png')]])
  assert.is(skip.right.pixels.data[3 * 64], expected(200, 0))
  const failed = await loadImages([a, bad, b], 8, { onError: 'fail' })
  assert.ok(E.isLeft(failed) && failed.left.message.includes('corrupt.png'))
})

test('loadImages with a cache: the same pixels, mirrored or not; files kept unmirrored, first come, within its byte budget', async () => {
  // 4 x 4 pictures with a distinct pixel in one corner, so every mirror shows
  const paths = await Promise.all([0, 1, 2].map(async (k) => {
    const raw = Buffer.alloc(4 * 4 * 3, 30 + 40 * k)
    raw.set([250, 10, 90 + k], 3 * 1) // row 0, column 1
    return write(`cached-${k}.png`, raw, 4, 4)
  }))
  const flips = [[false, false], [true, false], [false, true], [true, true]]
  const cache = rgbCache(2 * 4 * 4 * 3) // room for two of the three
  for (const [h, v] of [...flips, ...flips]) {
    const opts = { onError: 'fail' as const, flip: (i: number) => h && i !== 1, flipVertical: () => v }
    const fresh = await loadImages(paths, 4, opts)
    const cached = await loadImages(paths, 4, { ...opts, cache })
    if (E.isLeft(fresh) || E.isLeft(cached)) return assert.unreachable('both load')
    assert.equal(cached.right.pixels.data, fresh.right.pixels.data, `flip ${h}, vflip ${v}`)
  }
  assert.equal(cache.held(), { bytes: 2 * 48, images: 2 }, 'the first two kept, unmirrored; the third decoded each time')
  const unmirrored = await loadImages(paths, 4, { onError: 'fail' })
  const again = await loadImages(paths, 4, { onError: 'fail', cache })
  assert.equal(E.isRight(again) && again.right.pixels.data, E.isRight(unmirrored) && unmirrored.right.pixels.data, 'mirroring a copy leaves the kept pixels as decoded')
  const bad = await loadImages([paths[0], join(dir, 'corrupt.png')], 4, { onError: 'fail', cache })
  assert.ok(E.isLeft(bad) && bad.left.kind === 'format' && bad.left.message.includes('corrupt.png: cannot decode image'), 'a bad file is the same error')
  assert.is(rgbCache(0).held().images, 0)
})

test('listImages: sorted relative paths, recursive; missing and empty folders are errors', async () => {
  const root = join(dir, 'tree')
  mkdirSync(join(root, 'sub'), { recursive: true })
  await write('tree/z.png', Buffer.alloc(12, 0), 2, 2)
  await write('tree/sub/a.JPG'.replace('.JPG', '.jpg'), Buffer.alloc(12, 0), 2, 2)
  writeFileSync(join(root, 'notes.txt'), 'not an image')
  writeFileSync(join(root, '.hidden.png'), 'hidden')
  const r = await listImages(root)
  assert.equal(E.isRight(r) ? r.right : r.left.message, ['sub/a.jpg', 'z.png'])
  const missing = await listImages(join(dir, 'absent'))
  assert.ok(E.isLeft(missing) && missing.left.message.includes('no such folder'))
  mkdirSync(join(dir, 'empty'))
  const empty = await listImages(join(dir, 'empty'))
  assert.ok(E.isLeft(empty) && empty.left.message.startsWith(`no images in ${join(dir, 'empty')}`))
})

test.after(() => rmSync(dir, { recursive: true, force: true }))

test.run()
