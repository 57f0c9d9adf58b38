/**
 * PyTorch checkpoints (`.pth`): read without running their pickle, every storage type,
 * strided and offset views, ALBEF's layout; and one clear error per broken file.
 * The fixtures are made by test/fixtures/torch/make.py with PyTorch itself.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import * as E from 'fp-ts/lib/Either.js'
import { zipSync, unzipSync } from 'fflate'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import type { HostTensor } from '../compiler/ir/tensor.js'
import { importCheckpoint } from '../apps/compile/checkpoint.js'
import { readConfigFile } from '../apps/cmga/config-file.js'
import { readSafetensors } from '../runtime/safetensors/index.js'
import { readTorchCheckpoint } from '../runtime/torch/read.js'
import { unpickle } from '../runtime/torch/unpickle.js'
import { cli, errorLine, tempDir } from './support/cli.js'

const here = (p: string): string => fileURLToPath(new URL(p, import.meta.url))
const torchDir = here('./fixtures/torch/')
const pth = (name: string): string => join(torchDir, `${name}.pth`)
const tiny = here('./fixtures/cmga-tiny/')
const dir = tempDir('cmga-torch-')

const get = <A>(e: E.Either<{ message: string }, A>): A => {
  if (E.isLeft(e)) throw new Error(e.left.message)
  return e.right
}
const message = (e: E.Either<{ message: string }, unknown>): string => (E.isLeft(e) ? e.left.message : 'no error')
const numbers = (t: HostTensor): number[] => Array.from(t.data as ArrayLike<number | bigint>, Number)

test('every storage type reads as PyTorch reads it (values from torch itself)', () => {
  const expected = JSON.parse(readFileSync(join(torchDir, 'dtypes.json'), 'utf8')) as Record<string, { shape: number[]; values: number[] }>
  const ck = get(readTorchCheckpoint(pth('dtypes')))
  assert.equal([...ck.tensors.keys()], Object.keys(expected))
  const dtypes = Object.fromEntries([...ck.tensors].map(([k, t]) => [k, t.dtype]))
  assert.equal(dtypes, { f32: 'float32', f16: 'float32', bf16: 'float32', f64: 'float64', i64: 'int64', i32: 'int64', u8: 'int64', b: 'bool', scalar: 'float32', t: 'float32' })
  for (const [k, want] of Object.entries(expected)) {
    const t = ck.tensors.get(k) as HostTensor
    assert.equal(t.shape, want.shape, k)
    // float32 results compare exactly with torch's float64 view of the same values
    assert.equal(numbers(t), want.values.map((v) => (t.dtype === 'float32' ? Math.fround(v) : v)), k)
  }
  assert.is(ck.sourceTypes.get('bf16'), 'BFloat16')
  assert.is(ck.entry, '')
})

test("ALBEF's layout: the 'model' entry, permuted and offset views, momentum copies and queues", () => {
  const ck = get(readTorchCheckpoint(pth('albef-tiny')))
  assert.is(ck.entry, 'model')
  const st = get(readSafetensors(join(tiny, 'weights.safetensors'))).tensors
  // every parameter equals the safetensors original bit for bit (names under text_encoder.bert.)
  for (const [name, t] of st) {
    const key = name.startsWith('text_encoder.') && !name.startsWith('text_encoder.cls.') ? name.replace('text_encoder.', 'text_encoder.bert.') : name
    const got = ck.tensors.get(key)
    assert.ok(got !== undefined, key)
    assert.equal(got.shape, t.shape, key)
    assert.ok(Buffer.from((got.data as Float32Array).buffer, (got.data as Float32Array).byteOffset, got.data.byteLength).equals(Buffer.from((t.data as Float32Array).buffer, (t.data as Float32Array).byteOffset, t.data.byteLength)), key)
  }
  const config = get(readConfigFile(join(tiny, 'config.json')))
  const imported = get(importCheckpoint(config, pth('albef-tiny')))
  assert.is(imported.summary.loaded, st.size)
  assert.ok(imported.summary.renamed > 0)
  assert.ok(imported.summary.ignored.includes('visual_encoder_m.cls_token') && imported.summary.ignored.includes('image_queue'))
})

test('cmga compile --weights X.pth gives the same model as the safetensors file', async () => {
  const [a, b] = [join(dir, 'from-pth'), join(dir, 'from-safetensors')]
  const config = join(tiny, 'config.json')
  for (const [out, weights] of [[a, pth('albef-tiny')], [b, join(tiny, 'weights.safetensors')]]) {
    const r = await cli('compile', '--config', config, '--weights', weights, '--out', out)
    assert.is(r.code, 0, errorLine(r))
  }
  const inputs = join(tiny, 'inputs.safetensors')
  for (const m of [a, b]) assert.is((await cli('infer', '--model', m, '--inputs', inputs, '--out', join(m, 'out.safetensors'))).code, 0)
  const [x, y] = [a, b].map((m) => get(readSafetensors(join(m, 'out.safetensors'))).tensors)
  for (const [k, t] of x) assert.equal(numbers(t), numbers(y.get(k) as HostTensor), k)
})

test('a pickle that calls os.system is read without running anything, and has no state dict', () => {
  // the reduce of posix.system becomes an inert placeholder that only records its name
  const pkl = Object.values(unzipSync(new Uint8Array(readFileSync(pth('hostile'))), { filter: (f) => f.name.endsWith('data.pkl') }))[0]
  const model = (unpickle(pkl) as Map<string, { __module__?: string; __name__?: string; args?: unknown[] }>).get('model')
  assert.equal([model?.__module__, model?.__name__, model?.args], ['posix', 'system', ['echo this must never run']])
  assert.match(message(readTorchCheckpoint(pth('hostile'))), /hostile\.pth: no state dict: the top level holds model/)
})

/** A copy of albef-tiny.pth with its entries changed by `f`. */
const altered = (name: string, f: (entries: Record<string, Uint8Array>) => void): string => {
  const entries = unzipSync(new Uint8Array(readFileSync(pth('albef-tiny'))))
  f(entries)
  const path = join(dir, name)
  writeFileSync(path, zipSync(entries, { level: 0 }))
  return path
}

test('broken files: one clear error each', () => {
  const bytes = readFileSync(pth('albef-tiny'))
  const cut = join(dir, 'cut.pth')
  writeFileSync(cut, bytes.subarray(0, bytes.length - 5000))
  assert.match(message(readTorchCheckpoint(cut)), /cut\.pth: not a readable PyTorch checkpoint \(zip archive\)/)
  assert.match(message(readTorchCheckpoint(pth('legacy'))), /legacy \(before PyTorch 1\.6\) checkpoint format is not supported/)
  assert.match(message(readTorchCheckpoint(pth('lying'))), /lying\.pth: tensor w \[100\] at offset 0 reads past its storage of 4 elements/)
  const short = altered('short.pth', (e) => {
    e['albef-tiny/data/0'] = e['albef-tiny/data/0'].subarray(0, 3)
  })
  assert.match(message(readTorchCheckpoint(short)), /short\.pth: tensor .*: storage data\/0: 3 bytes, but \d+ Float elements need \d+/)
  const gone = altered('gone.pth', (e) => {
    delete e['albef-tiny/data/1']
  })
  assert.match(message(readTorchCheckpoint(gone)), /gone\.pth: tensor .*: its storage data\/1 is missing from the archive/)
  const noPickle = altered('nopkl.pth', (e) => {
    delete e['albef-tiny/data.pkl']
  })
  assert.match(message(readTorchCheckpoint(noPickle)), /nopkl\.pth: a zip archive without data\.pkl/)
  const garbled = altered('garbled.pth', (e) => {
    e['albef-tiny/data.pkl'] = e['albef-tiny/data.pkl'].subarray(0, 200)
  })
  assert.match(message(readTorchCheckpoint(garbled)), /garbled\.pth: cannot read its pickle/)
})

test('cmga compile with a broken .pth: one message, non-zero exit, nothing written', async () => {
  const out = join(dir, 'never')
  const r = await cli('compile', '--config', join(tiny, 'config.json'), '--weights', pth('hostile'), '--out', out)
  assert.is(r.code, 1)
  assert.match(errorLine(r), /^cmga: .*hostile\.pth: no state dict/)
  assert.not.ok(existsSync(out))
})

test('corrupted bytes: a flipped byte in a tensor is refused (CRC-32); 300 random flips, none accepted with other values', () => {
  const original = new Uint8Array(readFileSync(pth('albef-tiny')))
  const ref = get(readTorchCheckpoint(pth('albef-tiny'), (n) => !n.includes('_m.') && !n.endsWith('queue')))
  const same = (t: ReadonlyMap<string, HostTensor>): boolean =>
    t.size === ref.tensors.size && [...ref.tensors].every(([k, a]) => {
      const b = t.get(k)
      return b !== undefined && b.data.length === a.data.length && (b.data as Float32Array).every((v, i) => Object.is(v, (a.data as Float32Array)[i]))
    })
  // one byte in the middle of the file's largest stored entry (a weight) flipped
  const stored = unzipSync(original)
  const [name, data] = Object.entries(stored).filter(([k]) => k.includes('/data/')).sort((a, b) => b[1].length - a[1].length)[0]
  const at = Buffer.from(original).indexOf(Buffer.from(data.subarray(0, 64))) + Math.floor(data.length / 2)
  const flipped = original.slice()
  flipped[at] ^= 0x10
  const file = join(dir, 'flipped.pth')
  writeFileSync(file, flipped)
  const r = readTorchCheckpoint(file)
  assert.ok(E.isLeft(r), `a flipped byte in ${name} was accepted`)
  assert.match(E.isLeft(r) ? r.left.message : '', /fails its CRC-32 check: the file is corrupted/)
  // the fuzz: every mutated file is refused, or reads as the original's values
  let seed = 12345
  const rand = (): number => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32)
  let refused = 0
  let wrong = 0
  for (let k = 0; k < 300; k++) {
    const m = original.slice()
    const pos = Math.floor(rand() * m.length)
    m[pos] ^= 1 + Math.floor(rand() * 255)
    writeFileSync(file, m)
    const x = readTorchCheckpoint(file, (n) => !n.includes('_m.') && !n.endsWith('queue'))
    if (E.isLeft(x)) refused++
    else if (!same(x.right.tensors)) wrong++
  }
  assert.is(wrong, 0, `${wrong} of 300 mutated files were accepted with other tensor values`)
  assert.ok(refused > 0)
})

test.run()
