import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { fileURLToPath } from 'node:url'
import * as E from 'fp-ts/lib/Either.js'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { fromNumbers, type HostTensor } from '../compiler/ir/tensor.js'
import {
  encodeSafetensors,
  parseSafetensors,
  readSafetensors,
  writeSafetensorsAtomic,
  type SafetensorsFile
} from '../runtime/safetensors/index.js'

const fixtures = fileURLToPath(new URL('./fixtures/cmga-tiny/', import.meta.url))

/** A file from a header text, a data section, and optionally a wrong header length. */
const raw = (header: string, data: ArrayLike<number> = [], headerLength?: bigint): Uint8Array => {
  const json = new TextEncoder().encode(header)
  const out = new Uint8Array(8 + json.length + data.length)
  new DataView(out.buffer).setBigUint64(0, headerLength ?? BigInt(json.length), true)
  out.set(json, 8)
  out.set(data, 8 + json.length)
  return out
}

/** Little-endian bytes of 16-bit words. */
const words = (...ws: number[]): Uint8Array => {
  const out = new Uint8Array(2 * ws.length)
  ws.forEach((w, i) => new DataView(out.buffer).setUint16(2 * i, w, true))
  return out
}

const parse = (bytes: Uint8Array): SafetensorsFile => {
  const r = parseSafetensors(bytes, 'test.safetensors')
  if (E.isLeft(r)) throw new Error(r.left.message)
  return r.right
}

const read = (name: string): SafetensorsFile => {
  const r = readSafetensors(path.join(fixtures, name))
  if (E.isLeft(r)) throw new Error(r.left.message)
  return r.right
}

/** Asserts a `format` error naming the file and containing every fragment. */
const rejects = (bytes: Uint8Array, ...fragments: string[]): void => {
  const r = parseSafetensors(bytes, 'bad.safetensors')
  if (E.isRight(r)) return assert.unreachable(`accepted; expected an error with ${fragments.join(', ')}`)
  assert.is(r.left.kind, 'format')
  for (const f of ['bad.safetensors', ...fragments]) assert.ok(r.left.message.includes(f), `'${r.left.message}' lacks '${f}'`)
}

const sameTensor = (a: HostTensor | undefined, b: HostTensor): void => {
  assert.ok(a !== undefined)
  assert.is(a.dtype, b.dtype)
  assert.equal([...a.shape], [...b.shape])
  assert.equal(Array.from(a.data as ArrayLike<unknown>), Array.from(b.data as ArrayLike<unknown>))
}

const f32 = (name: string, shape: number[], offsets: number[]) =>
  `${JSON.stringify(name)}:${JSON.stringify({ dtype: 'F32', shape, data_offsets: offsets })}`

// -------------------------------------------------------------------------------------
// round trip
// -------------------------------------------------------------------------------------

const sample = new Map<string, HostTensor>([
  ['10', fromNumbers('float32', [2, 2], [1, -2.5, 3.25, 1e-3])],
  ['2', fromNumbers('float64', [3], [Math.PI, -0, 1e300])],
  ['ids', fromNumbers('int64', [], [-7])],
  ['mask', fromNumbers('bool', [4], [1, 0, 0, 1])],
  ['empty', fromNumbers('float32', [0, 3], [])],
  ['we"ird\\näme', fromNumbers('float32', [1], [7])]
])

test('round trip keeps order, dtypes, shapes, values and metadata', () => {
  const bytes = encodeSafetensors(sample, { format: 'pt', note: 'é' })
  const back = parse(bytes)
  assert.equal([...back.tensors.keys()], [...sample.keys()])
  for (const [name, t] of sample) sameTensor(back.tensors.get(name), t)
  assert.equal(back.metadata, { format: 'pt', note: 'é' })
  const big = (back.tensors.get('ids')!.data as BigInt64Array)[0]
  assert.is(big, -7n)
})

test('encoding is deterministic and pads the header to a multiple of 8 with spaces', () => {
  const a = encodeSafetensors(sample)
  assert.equal(a, encodeSafetensors(new Map(sample)))
  const n = Number(new DataView(a.buffer).getBigUint64(0, true))
  assert.is(n % 8, 0)
  assert.is(a[8 + n - 1], 0x20)
  assert.equal(parse(a).metadata, {})
})

test('a record of tensors is written in its key order', () => {
  const back = parse(encodeSafetensors({ b: fromNumbers('float32', [1], [1]), a: fromNumbers('float32', [1], [2]) }))
  assert.equal([...back.tensors.keys()], ['b', 'a'])
})

test('unaligned data sections are read correctly', () => {
  const data = new Uint8Array(16)
  const view = new DataView(data.buffer)
  view.setFloat32(0, 1.5, true)
  view.setBigInt64(8, -3n, true)
  const header = `{${f32('x', [1], [0, 4])},"p":{"dtype":"I32","shape":[1],"data_offsets":[4,8]},"y":{"dtype":"I64","shape":[1],"data_offsets":[8,16]}}`
  view.setInt32(4, -123456, true)
  assert.is(header.length % 8 === 0, false)
  const back = parse(raw(header, data))
  sameTensor(back.tensors.get('x'), fromNumbers('float32', [1], [1.5]))
  sameTensor(back.tensors.get('p'), fromNumbers('int64', [1], [-123456]))
  sameTensor(back.tensors.get('y'), fromNumbers('int64', [1], [-3]))
})

test('aligned tensors view the file bytes (no second copy); misaligned ones are copied', () => {
  const bytes = encodeSafetensors(sample)
  const t = parse(bytes).tensors.get('10')!
  assert.ok(t.data.buffer === bytes.buffer && t.data.byteOffset > 0, 'a view into the file')
  // a 57-byte header puts the data at offset 65: float32 elements there cannot be viewed
  const header = '{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}'.padEnd(57, ' ')
  const odd = raw(header, new Uint8Array(new Float32Array([1.5, -2]).buffer))
  assert.is((8 + 57) % 4, 1)
  const a = parse(odd).tensors.get('a')!
  assert.equal(Array.from(a.data as Float32Array), [1.5, -2])
  assert.ok(a.data.buffer !== odd.buffer, 'a copy')
})

// -------------------------------------------------------------------------------------
// half precision
// -------------------------------------------------------------------------------------

const halves = (dtype: string, ws: number[]): number[] =>
  Array.from(parse(raw(`{"h":{"dtype":"${dtype}","shape":[${ws.length}],"data_offsets":[0,${2 * ws.length}]}}`, words(...ws))).tensors.get('h')!.data as Float32Array)

test('F16 converts to float32 exactly, with subnormals, infinities and NaN', () => {
  const got = halves('F16', [0x3c00, 0xc100, 0x7bff, 0x0001, 0x03ff, 0x0400, 0x7c00, 0xfc00, 0x8000, 0x7e00])
  assert.equal(got.slice(0, 9), [1, -2.5, 65504, 2 ** -24, 1023 * 2 ** -24, 2 ** -14, Infinity, -Infinity, -0])
  assert.ok(Object.is(got[8], -0))
  assert.ok(Number.isNaN(got[9]))
})

test('BF16 converts to float32 exactly, with subnormals, infinities and NaN', () => {
  const got = halves('BF16', [0x3f80, 0xc020, 0x7f7f, 0x0001, 0x7f80, 0xff80, 0x7fc0])
  assert.equal(got.slice(0, 6), [1, -2.5, Math.fround(3.3895313892515355e38), 2 ** -133, Infinity, -Infinity])
  assert.ok(Number.isNaN(got[6]))
})

// -------------------------------------------------------------------------------------
// fixtures
// -------------------------------------------------------------------------------------

test('reads the cmga-tiny inputs', () => {
  const { tensors } = read('inputs.safetensors')
  assert.equal([...tensors.keys()], ['attention_mask', 'input_ids', 'mlm_input_ids', 'mlm_labels', 'pixels'])
  const pixels = tensors.get('pixels')!
  assert.is(pixels.dtype, 'float32')
  assert.equal(pixels.shape, [3, 3, 32, 32])
  assert.is(pixels.data[0], Math.fround(0.4763546586036682))
  assert.is(pixels.data[pixels.data.length - 1], Math.fround(-0.33762508630752563))
  const ids = tensors.get('input_ids')!
  assert.is(ids.dtype, 'int64')
  assert.equal(ids.shape, [3, 8])
  assert.equal(Array.from(ids.data as BigInt64Array).slice(0, 8), [1n, 73n, 15n, 64n, 49n, 65n, 21n, 27n])
})

test('reads every fixture, and re-encodes those without metadata byte for byte', () => {
  for (const name of ['inputs', 'outputs', 'grads']) {
    const file = read(`${name}.safetensors`)
    assert.ok(file.tensors.size > 0)
    assert.equal(encodeSafetensors(file.tensors), new Uint8Array(fs.readFileSync(path.join(fixtures, `${name}.safetensors`))))
  }
  const weights = read('weights.safetensors')
  assert.equal(weights.metadata, { format: 'pt' })
  assert.ok(weights.tensors.size > 0)
})

test('an unreadable file is an io error', () => {
  const r = readSafetensors(path.join(fixtures, 'missing.safetensors'))
  assert.ok(E.isLeft(r) && r.left.kind === 'io' && r.left.message.includes('missing.safetensors'))
})

// -------------------------------------------------------------------------------------
// malformed files
// -------------------------------------------------------------------------------------

const four = new Uint8Array(4)
const eight = new Uint8Array(8)

test('rejects a file shorter than 8 bytes', () => rejects(new Uint8Array(5), 'too short'))
test('rejects a header length past the end of the file', () => rejects(raw('{}', [], 1000n), 'header length 1000', 'past the end'))
test('rejects a header length above the limit', () => rejects(raw('{}', [], 200_000_000n), 'above the limit'))
test('rejects invalid UTF-8 bytes', () => {
  const bytes = raw('{"xx":1}')
  bytes[10] = 0xff
  rejects(bytes, 'not valid UTF-8')
})
test('rejects bad JSON', () => rejects(raw('{"a":'), 'not valid JSON'))
test('rejects a header that is not an object', () => rejects(raw('[1, 2]'), 'not a JSON object'))
test('rejects a repeated key', () => rejects(raw(`{${f32('a', [1], [0, 4])},${f32('a', [1], [0, 4])}}`, four), "repeats the key 'a'"))
test('rejects offsets outside the data section', () =>
  rejects(raw(`{${f32('w', [2], [0, 8])}}`, four), "tensor 'w'", 'outside the data section'))
test('rejects offsets that begin after they end', () => rejects(raw(`{${f32('w', [0], [4, 0])}}`, four), "tensor 'w'", 'begin after'))
test('rejects malformed offsets', () => rejects(raw(`{${f32('w', [1], [0])}}`, four), "tensor 'w'", 'data_offsets'))
test('rejects overlapping tensors', () =>
  rejects(raw(`{${f32('a', [2], [0, 8])},${f32('b', [1], [4, 8])}}`, eight), "'a'", "'b'", 'overlap'))
test('rejects a byte length that does not match dtype and shape', () =>
  rejects(raw(`{${f32('w', [3], [0, 8])}}`, eight), "tensor 'w'", 'byte length 8', 'F32', '[3]', '12 bytes'))
test('rejects an unknown dtype, naming it', () =>
  rejects(raw('{"w":{"dtype":"F128","shape":[1],"data_offsets":[0,4]}}', four), "tensor 'w'", "unknown dtype 'F128'"))
test('int8 tensors (I8, as the writer names them) read back', () => {
  const t = parse(encodeSafetensors(new Map([['q', { dtype: 'int8' as const, shape: [2, 2], data: Int8Array.from([-127, 0, 5, 127]) }]]))).tensors.get('q')!
  assert.equal([t.dtype, t.shape, Array.from(t.data as Int8Array)], ['int8', [2, 2], [-127, 0, 5, 127]])
})

test('uint8 tensors (U8, cmga preprocess --raw) read back', () => {
  const t = parse(encodeSafetensors(new Map([['p', { dtype: 'uint8' as const, shape: [4], data: Uint8Array.from([0, 1, 128, 255]) }]]))).tensors.get('p')!
  assert.equal([t.dtype, t.shape, Array.from(t.data as Uint8Array)], ['uint8', [4], [0, 1, 128, 255]])
})
test('rejects U16 as unsupported', () =>
  rejects(raw('{"w":{"dtype":"U16","shape":[2],"data_offsets":[0,4]}}', four), "tensor 'w'", "unsupported dtype 'U16'"))
test('rejects a missing dtype', () => rejects(raw('{"w":{"shape":[1],"data_offsets":[0,4]}}', four), "tensor 'w'", 'dtype'))
test('rejects a negative or non-integer shape', () => {
  rejects(raw(`{${f32('w', [-1], [0, 4])}}`, four), "tensor 'w'", 'shape', 'non-negative integers')
  rejects(raw(`{${f32('w', [1.5], [0, 4])}}`, four), "tensor 'w'", 'shape', 'non-negative integers')
  rejects(raw('{"w":{"dtype":"F32","shape":"1","data_offsets":[0,4]}}', four), "tensor 'w'", 'shape')
})
test('rejects an entry that is not an object', () => rejects(raw('{"w":3}'), "tensor 'w'", 'not an object'))
test('rejects bad metadata', () => {
  rejects(raw('{"__metadata__":{"format":1}}'), '__metadata__', "'format'")
  rejects(raw('{"__metadata__":["pt"]}'), '__metadata__')
})
test('rejects BOOL bytes other than 0 and 1', () =>
  rejects(raw('{"m":{"dtype":"BOOL","shape":[2],"data_offsets":[0,2]}}', [1, 2]), "tensor 'm'", 'BOOL'))

// -------------------------------------------------------------------------------------
// atomic writes
// -------------------------------------------------------------------------------------

const tempDir = (): string => fs.mkdtempSync(path.join(os.tmpdir(), 'cmga-st-'))

test('writeSafetensorsAtomic writes the file and leaves no temp file behind', () => {
  const dir = tempDir()
  try {
    const target = path.join(dir, 'w.safetensors')
    assert.ok(E.isRight(writeSafetensorsAtomic(target, sample, { a: 'b' })))
    assert.ok(E.isRight(writeSafetensorsAtomic(target, sample))) // overwrites
    assert.equal(fs.readdirSync(dir), ['w.safetensors'])
    assert.equal(new Uint8Array(fs.readFileSync(target)), encodeSafetensors(sample))
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
})

test('writeSafetensorsAtomic writes nothing when the directory does not exist', () => {
  const dir = tempDir()
  try {
    const missing = path.join(dir, 'nope')
    const r = writeSafetensorsAtomic(path.join(missing, 'w.safetensors'), sample)
    assert.ok(E.isLeft(r) && r.left.kind === 'io')
    assert.not.ok(fs.existsSync(missing))
    assert.equal(fs.readdirSync(dir), [])
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
})

test('writeSafetensorsAtomic removes its temp file when the rename fails', () => {
  const dir = tempDir()
  try {
    fs.mkdirSync(path.join(dir, 'w.safetensors')) // a directory where the file should go
    const r = writeSafetensorsAtomic(path.join(dir, 'w.safetensors'), sample)
    assert.ok(E.isLeft(r) && r.left.kind === 'io')
    assert.equal(fs.readdirSync(dir), ['w.safetensors'])
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
})

test('writeSafetensorsAtomic rejects a tensor whose data does not fit its shape', () => {
  const dir = tempDir()
  try {
    const bad = { dtype: 'float32', shape: [3], data: new Float32Array(2) } as const
    const r = writeSafetensorsAtomic(path.join(dir, 'w.safetensors'), { bad })
    assert.ok(E.isLeft(r) && r.left.kind === 'format' && r.left.message.includes("'bad'"))
    assert.equal(fs.readdirSync(dir), [])
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
})

test.run()
