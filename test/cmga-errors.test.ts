/**
 * Bad input to `cmga compile` and `cmga infer`: each case gives one clear message, a
 * non-zero exit, and writes nothing.
 */
import { copyFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import * as E from 'fp-ts/lib/Either.js'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import type { HostTensor } from '../compiler/ir/tensor.js'
import { fromNumbers } from '../compiler/ir/tensor.js'
import { encodeSafetensors, readSafetensors } from '../runtime/safetensors/index.js'
import { cli, errorLine, tempDir } from './support/cli.js'

const fixture = fileURLToPath(new URL('./fixtures/cmga-tiny/', import.meta.url))
const config = join(fixture, 'config.json')
const weights = join(fixture, 'weights.safetensors')
const dir = tempDir()
const tensors = (path: string): Map<string, HostTensor> => {
  const r = readSafetensors(path)
  if (E.isLeft(r)) throw new Error(r.left.message)
  return new Map(r.right.tensors)
}

/** Runs a command expected to fail; checks exit code, one message matching `pattern`, and that `out` was not written. */
const fails = async (args: string[], pattern: RegExp, out: string, code = 1): Promise<void> => {
  const r = await cli(...args)
  assert.is(r.code, code, `exit code of ${args.join(' ')}: ${r.stderr.join('\n')}`)
  const lines = r.stderr.filter((l) => l.startsWith('cmga:'))
  assert.is(lines.length, 1, `one message, got: ${r.stderr.join(' | ')}`)
  assert.match(lines[0], pattern)
  assert.not.ok(existsSync(out), `${out} must not exist`)
}

/** A safetensors file with a hand-written header and data section. */
const rawFile = (name: string, header: object, data: Uint8Array): string => {
  const json = Buffer.from(JSON.stringify(header))
  const len = Buffer.alloc(8)
  len.writeBigUInt64LE(BigInt(json.length))
  const path = join(dir, name)
  writeFileSync(path, Buffer.concat([len, json, data]))
  return path
}

// -------------------------------------------------------------------------------------
// weights
// -------------------------------------------------------------------------------------

const w = suite('cmga compile: bad weights')
const compileWith = (file: string, pattern: RegExp) => async () => {
  const out = join(dir, `model-${Math.random().toString(36).slice(2)}`)
  await fails(['compile', '--config', config, '--weights', file, '--out', out], pattern, out)
}

w('truncated file', async () => {
  const bytes = readFileSync(weights)
  const path = join(dir, 'truncated.safetensors')
  writeFileSync(path, bytes.subarray(0, bytes.length - 1000))
  await compileWith(path, /truncated\.safetensors.*(outside|beyond|past|exceeds|out of range|end)/i)()
})

w('file shorter than its length prefix', async () => {
  const path = join(dir, 'tiny.safetensors')
  writeFileSync(path, Buffer.from([1, 2, 3]))
  await compileWith(path, /tiny\.safetensors/)()
})

w('header longer than the file', async () => {
  const bytes = Buffer.from(readFileSync(weights))
  bytes.writeBigUInt64LE(BigInt(bytes.length + 10), 0)
  const path = join(dir, 'long-header.safetensors')
  writeFileSync(path, bytes)
  await compileWith(path, /long-header\.safetensors.*header/i)()
})

w('offsets out of range', compileWith(rawFile('range.safetensors', { a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] }, b: { dtype: 'F32', shape: [2], data_offsets: [8, 16] } }, new Uint8Array(12)), /range\.safetensors.*"?b"?/))

w('overlapping offsets', compileWith(rawFile('overlap.safetensors', { a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] }, b: { dtype: 'F32', shape: [2], data_offsets: [4, 12] } }, new Uint8Array(12)), /overlap/i))

w('byte length not dtype size x shape', compileWith(rawFile('dtype-len.safetensors', { a: { dtype: 'F32', shape: [3], data_offsets: [0, 8] } }, new Uint8Array(8)), /dtype-len\.safetensors.*"?a"?/))

w('missing parameter', async () => {
  const t = tensors(weights)
  t.delete('visual_encoder.blocks.1.attn.qkv.weight')
  const path = join(dir, 'missing.safetensors')
  writeFileSync(path, encodeSafetensors(t))
  await compileWith(path, /missing 1 parameter.*visual_encoder\.blocks\.1\.attn\.qkv\.weight/)()
})

w('a checkpoint without the VQA head the config has: the message says how to drop it', async () => {
  const t = new Map([...tensors(weights)].filter(([k]) => !k.startsWith('vqa_head.')))
  const path = join(dir, 'no-vqa.safetensors')
  writeFileSync(path, encodeSafetensors(t))
  await compileWith(path, /missing 6 parameter.*vqa_head\.dense2\.bias \(the config has a VQA head this checkpoint lacks: drop its "vqa" section/)()
})

w('mis-shaped parameter', async () => {
  const t = tensors(weights)
  t.set('text_proj.weight', fromNumbers('float32', [4, 4], new Array(16).fill(0)))
  const path = join(dir, 'misshaped.safetensors')
  writeFileSync(path, encodeSafetensors(t))
  await compileWith(path, /mis-shaped.*text_proj\.weight is \[4, 4\], expected \[32, 64\]/)()
})

w('ALBEF extras are ignored and text_encoder.bert. is accepted', async () => {
  const t = tensors(weights)
  const renamed = new Map<string, HostTensor>()
  for (const [k, v] of t) renamed.set(k.replace(/^text_encoder\.(embeddings|encoder)\./, 'text_encoder.bert.$1.'), v)
  renamed.set('visual_encoder_m.cls_token', t.get('visual_encoder.cls_token') as HostTensor)
  renamed.set('image_queue', fromNumbers('float32', [2, 2], [0, 0, 0, 0]))
  renamed.set('text_encoder.bert.embeddings.position_ids', fromNumbers('int64', [1, 4], [0, 1, 2, 3]))
  const path = join(dir, 'albef.safetensors')
  writeFileSync(path, encodeSafetensors(renamed))
  const out = join(dir, 'albef-model')
  const r = await cli('compile', '--config', config, '--weights', path, '--out', out)
  assert.is(r.code, 0, r.stderr.join('\n'))
  assert.ok(r.stderr.some((l) => /loaded 161 parameters.*renamed.*ignored 3 entries/.test(l)), r.stderr.join('\n'))
})

w.run()

// -------------------------------------------------------------------------------------
// config
// -------------------------------------------------------------------------------------

const c = suite('cmga compile: configs violating the spec')
const base = JSON.parse(readFileSync(config, 'utf8'))
const violations: Array<[string, (cfg: typeof base) => void, RegExp]> = [
  ['imageSize % patchSize', (x) => (x.vision.imageSize = 30), /vision\.imageSize.*patchSize/],
  ['vision width % heads', (x) => (x.vision.heads = 5), /vision\.width.*heads/],
  ['text width % heads', (x) => (x.text.heads = 3), /text\.width.*heads/],
  ['vision.width == text.width', (x) => (x.text.width = 32), /vision\.width.*text\.width/],
  ['layers strictly increasing', (x) => (x.compression.layers = [2, 1]), /compression\.layers\[1\] \(1\) must be greater than compression\.layers\[0\]/],
  ['layers within depth', (x) => (x.compression.layers = [1, 4]), /compression\.layers.*depth/],
  ['keepRate > 0', (x) => (x.compression.keepRate = 0), /compression\.keepRate/],
  ['keepRate <= 1', (x) => (x.compression.keepRate = 1.5), /compression\.keepRate/],
  ['imageWeight in [0, 1]', (x) => (x.compression.imageWeight = -0.1), /compression\.imageWeight/],
  ['unknown field', (x) => (x.vision.widht = 3), /vision\.widht.*unknown/],
  ['wrong type', (x) => (x.text.vocabSize = '100'), /text\.vocabSize/]
]
for (const [name, mutate, pattern] of violations) {
  c(name, async () => {
    const cfg = structuredClone(base)
    mutate(cfg)
    const path = join(dir, `config-${name.replace(/\W+/g, '-')}.json`)
    writeFileSync(path, JSON.stringify(cfg))
    const out = join(dir, `cfg-model-${name.replace(/\W+/g, '-')}`)
    await fails(['compile', '--config', path, '--random-init', '0', '--out', out], pattern, out)
  })
}
c('malformed JSON', async () => {
  const path = join(dir, 'broken.json')
  writeFileSync(path, '{"vision": ')
  const out = join(dir, 'broken-model')
  await fails(['compile', '--config', path, '--random-init', '0', '--out', out], /broken\.json.*JSON/, out)
})
c.run()

// -------------------------------------------------------------------------------------
// inputs
// -------------------------------------------------------------------------------------

const i = suite('cmga infer: bad inputs')
const model = join(dir, 'model')
const inputs = tensors(join(fixture, 'inputs.safetensors'))
i.before(async () => {
  const r = await cli('compile', '--config', config, '--weights', weights, '--out', model)
  assert.is(r.code, 0, r.stderr.join('\n'))
})

const inferWith = (name: string, change: (t: Map<string, HostTensor>) => void, pattern: RegExp) => {
  i(name, async () => {
    const t = new Map(inputs)
    change(t)
    const path = join(dir, `in-${name.replace(/\W+/g, '-')}.safetensors`)
    writeFileSync(path, encodeSafetensors(t))
    const out = join(dir, `out-${name.replace(/\W+/g, '-')}.safetensors`)
    await fails(['infer', '--model', model, '--inputs', path, '--out', out], pattern, out)
  })
}
const ids = (values: number[], L: number): HostTensor => fromNumbers('int64', [values.length / L, L], values)

inferWith('pixels of the wrong size', (t) => t.set('pixels', fromNumbers('float32', [3, 3, 16, 16], new Array(3 * 3 * 256).fill(0))), /"pixels" has shape \[3, 3, 16, 16\], expected \[B, 3, 32, 32\]/)
inferWith('pixels of the wrong dtype', (t) => t.set('pixels', fromNumbers('float64', [3, 3, 32, 32], new Array(3 * 3 * 1024).fill(0))), /"pixels" is float64, expected float32/)
inferWith('input_ids of the wrong dtype', (t) => t.set('input_ids', fromNumbers('float32', [3, 8], new Array(24).fill(1))), /"input_ids" is float32, expected int64/)
inferWith('missing attention_mask', (t) => t.delete('attention_mask'), /missing tensor "attention_mask"/)
inferWith('mask shape differs from ids', (t) => t.set('attention_mask', ids(new Array(21).fill(1), 7)), /"attention_mask" has shape \[3, 7\]/)
inferWith('token id >= vocabSize', (t) => t.set('input_ids', ids([1, 5, 100, 2, 1, 3, 4, 2, ...new Array(16).fill(1)], 8)), /"input_ids"\[0, 2\] = 100 is not a token id \(vocabSize 100\)/)
inferWith('sequence longer than maxPositions', (t) => {
  t.set('input_ids', ids(new Array(3 * 33).fill(1), 33))
  t.set('attention_mask', ids(new Array(3 * 33).fill(1), 33))
}, /sequence length 33 exceeds text\.maxPositions \(32\)/)
inferWith('fewer texts than images', (t) => {
  t.set('input_ids', ids(new Array(16).fill(1), 8))
  t.set('attention_mask', ids(new Array(16).fill(1), 8))
}, /3 images but 2 texts/)

i('not a model directory', async () => {
  const out = join(dir, 'never.safetensors')
  await fails(['infer', '--model', dir, '--inputs', join(fixture, 'inputs.safetensors'), '--out', out], /not a compiled model directory/, out)
})

i('inputs file that is not safetensors', async () => {
  const path = join(dir, 'garbage.safetensors')
  copyFileSync(config, path)
  const out = join(dir, 'garbage-out.safetensors')
  await fails(['infer', '--model', model, '--inputs', path, '--out', out], /garbage\.safetensors/, out)
})
i.run()

// -------------------------------------------------------------------------------------
// usage
// -------------------------------------------------------------------------------------

const u = suite('cmga: bad usage')
u('unknown flag', async () => {
  const out = join(dir, 'u1')
  await fails(['compile', '--config', config, '--random-init', '0', '--out', out, '--fast'], /Unknown option '--fast'/, out, 2)
})
u('missing --out', async () => {
  const r = await cli('compile', '--config', config, '--random-init', '0')
  assert.is(r.code, 2)
  assert.match(errorLine(r), /--out is required/)
})
u('both --weights and --random-init', async () => {
  const out = join(dir, 'u2')
  await fails(['compile', '--config', config, '--weights', weights, '--random-init', '1', '--out', out], /exactly one of --weights or --random-init/, out, 2)
})
u('bad --random-init', async () => {
  const out = join(dir, 'u3')
  await fails(['compile', '--config', config, '--random-init', 'abc', '--out', out], /--random-init must be an integer/, out, 2)
})
u('unknown command', async () => {
  const r = await cli('compiel')
  assert.is(r.code, 2)
  assert.match(errorLine(r), /unknown command "compiel"/)
})
u('every command has --help', async () => {
  for (const name of ['demo', 'compile', 'infer', 'sample-inputs']) {
    const r = await cli(name, '--help')
    assert.is(r.code, 0)
    assert.match(r.stdout.join('\n'), new RegExp(`Usage: cmga ${name}`))
  }
})
u.run()
