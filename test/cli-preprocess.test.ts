/**
 * `cmga preprocess`: the pixels of a batch of images as the model sees them (float32
 * [B,3,S,S]) or as PIL gives them (--raw, uint8 [B,S,S,3]), bit-identical to the Pillow
 * fixtures, with the file names in the metadata; one clear error for a missing file, a
 * corrupt image, a bad --size or an unknown --resample.
 */
import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { gunzipSync } from 'node:zlib'
import * as E from 'fp-ts/lib/Either.js'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { normalizeRgb } from '../runtime/images/index.js'
import { readSafetensors } from '../runtime/safetensors/index.js'
import { cli, errorLine, tempDir } from './support/cli.js'

const fixtures = fileURLToPath(new URL('fixtures/pillow/', import.meta.url))
const expected = JSON.parse(readFileSync(join(fixtures, 'expected.json'), 'utf8')) as {
  cases: Array<{ input: string; size: number; filter: string; crop: boolean; offset: number }>
}
const blob = gunzipSync(readFileSync(join(fixtures, 'expected.bin.gz')))
const pillow = (input: string, size: number, filter: string, crop: boolean): Uint8Array => {
  const c = expected.cases.find((x) => x.input === input && x.size === size && x.filter === filter && x.crop === crop)
  if (c === undefined) throw new Error(`no fixture ${input} ${size} ${filter}`)
  return blob.subarray(c.offset, c.offset + size * size * 3)
}

const root = tempDir('cmga-preprocess-')
const folder = join(root, 'photos')
mkdirSync(join(folder, 'sub'), { recursive: true })
copyFileSync(join(fixtures, 'inputs', 'rgb.png'), join(folder, 'b.png'))
copyFileSync(join(fixtures, 'inputs', 'cmyk.jpg'), join(folder, 'sub', 'a.jpg'))
writeFileSync(join(folder, 'notes.txt'), 'not an image')
const gif = join(fixtures, 'inputs', 'trns.gif')

const read = (path: string) => {
  const f = readSafetensors(path)
  if (E.isLeft(f)) throw new Error(f.left.message)
  return f.right
}

test('float32 [B,3,S,S]: a file and a folder (sorted, sub-folders, non-images left out), normalized PIL pixels', async () => {
  const out = join(root, 'pixels.safetensors')
  const r = await cli('preprocess', '--images', gif, '--images', folder, '--size', '16', '--out', out)
  assert.is(r.code, 0, errorLine(r))
  const f = read(out)
  const px = f.tensors.get('pixels')!
  assert.equal([px.dtype, px.shape], ['float32', [3, 3, 16, 16]])
  const files = [gif, join(folder, 'b.png'), join(folder, 'sub', 'a.jpg')]
  assert.equal(JSON.parse(f.metadata.files), files)
  assert.equal([f.metadata.size, f.metadata.resample, f.metadata.center_crop], ['16', 'bicubic', 'false'])
  const inputs = ['trns.gif', 'rgb.png', 'cmyk.jpg']
  inputs.forEach((name, b) => {
    const want = normalizeRgb(pillow(name, 16, 'bicubic', false), 16)
    assert.equal(Array.from(px.data.subarray(b * 768, (b + 1) * 768) as Float32Array), Array.from(want), name)
  })
})

test('--raw uint8 [B,S,S,3], bilinear and centre crop: the bytes of the Pillow / torchvision fixtures', async () => {
  for (const [flags, filter, crop] of [[['--resample', 'bilinear'], 'bilinear', false], [['--center-crop'], 'bicubic', true]] as const) {
    const out = join(root, `raw-${filter}-${crop}.safetensors`)
    const r = await cli('preprocess', '--images', join(fixtures, 'inputs', 'photo-420.jpg'), '--images', gif, '--size', '16', '--raw', ...flags, '--out', out)
    assert.is(r.code, 0, errorLine(r))
    const f = read(out)
    const px = f.tensors.get('pixels')!
    assert.equal([px.dtype, px.shape, f.metadata.resample, f.metadata.center_crop], ['uint8', [2, 16, 16, 3], filter, String(crop)])
    const want = [...pillow('photo-420.jpg', 16, filter, crop), ...pillow('trns.gif', 16, filter, crop)]
    assert.equal(Array.from(px.data as Uint8Array), want)
  }
})

test('errors: missing file, corrupt image, bad --size, unknown --resample, no --images; nothing written', async () => {
  const out = join(root, 'never.safetensors')
  const corrupt = join(root, 'corrupt.png')
  writeFileSync(corrupt, 'this is not a png')
  const cases: ReadonlyArray<readonly [string[], number, RegExp]> = [
    [['--images', join(root, 'nope.png'), '--size', '8'], 1, /io error: .*nope\.png: no such file/],
    [['--images', corrupt, '--size', '8'], 1, /format error: .*corrupt\.png: cannot decode image/],
    [['--images', gif, '--size', '0'], 2, /--size must be an integer in \[1, 4096\], got "0"/],
    [['--images', gif, '--size', 'big'], 2, /--size must be an integer/],
    [['--images', gif], 2, /--size is required/],
    [['--images', gif, '--size', '8', '--resample', 'lanczos'], 2, /--resample must be one of bicubic, bilinear, got "lanczos"/],
    [['--size', '8'], 2, /--images is required/],
    [['--images', join(root, 'empty'), '--size', '8'], 1, /no such file/]
  ]
  for (const [args, code, message] of cases) {
    const r = await cli('preprocess', ...args, '--out', out)
    assert.is(r.code, code, args.join(' '))
    assert.match(errorLine(r), message)
    assert.is(r.stderr.filter((l) => l.startsWith('cmga:')).length, 1, 'one error line')
  }
  assert.not.ok(existsSync(out))
})

test.run()
