/**
 * `cmga grad` against the reference fixture (an independent float64 PyTorch
 * implementation of spec section 9): every loss within 1e-4, the hard negatives
 * exactly, every gradient within 1e-4 absolute or 1e-3 relative; the float32 graph
 * (what training runs) against the float64 one; and one clear error per bad input.
 */
import { join } from 'node:path'
import * as E from 'fp-ts/lib/Either.js'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import type { HostTensor } from '../compiler/ir/tensor.js'
import { readConfigFile } from '../apps/cmga/config-file.js'
import { parameterList } from '../models/cmga/params.js'
import { readSafetensors, writeSafetensorsAtomic } from '../runtime/safetensors/index.js'
import { cli, errorLine, tempDir } from './support/cli.js'

const FIXTURE = 'test/fixtures/cmga-tiny'
const get = <A>(e: E.Either<{ message: string }, A>): A => {
  if (E.isLeft(e)) throw new Error(e.left.message)
  return e.right
}
const tensors = (path: string): ReadonlyMap<string, HostTensor> => get(readSafetensors(path)).tensors
const dir = tempDir('cmga-grad-')
const args = (inputs: string, out: string, ...more: string[]): string[] => [
  'grad', '--config', `${FIXTURE}/config.json`, '--weights', `${FIXTURE}/weights.safetensors`, '--inputs', inputs, '--out', out, ...more
]

/** Largest |got - want| / max(1e-4, 1e-3 |want|) over the elements. */
const worst = (got: HostTensor, want: HostTensor): number => {
  let w = 0
  for (let i = 0; i < want.data.length; i++) {
    const [g, r] = [Number(got.data[i]), Number(want.data[i])]
    const u = Math.abs(g - r) / Math.max(1e-4, 1e-3 * Math.abs(r))
    w = Number.isNaN(u) ? Infinity : Math.max(w, u)
  }
  return w
}

test('matches every loss, negative and gradient of the fixture', async () => {
  const out = join(dir, 'grads.safetensors')
  const r = await cli(...args(`${FIXTURE}/inputs.safetensors`, out))
  assert.is(r.code, 0, errorLine(r))
  const got = tensors(out)
  const want = tensors(`${FIXTURE}/grads.safetensors`)
  const config = get(readConfigFile(`${FIXTURE}/config.json`))
  assert.equal([...got.keys()].filter((k) => k.startsWith('grad.')), parameterList(config).map((p) => `grad.${p.name}`), 'one gradient per parameter, in parameter order')
  for (const name of ['loss', 'loss_itc', 'loss_ftc', 'loss_itm', 'loss_mlm']) {
    const [g, w] = [got.get(name) as HostTensor, want.get(name) as HostTensor]
    assert.equal(g.shape, [1], name)
    assert.ok(Math.abs(Number(g.data[0]) - Number(w.data[0])) <= 1e-4, `${name}: ${g.data[0]} vs ${w.data[0]}`)
    assert.ok(r.stderr.includes(`${name} ${Number(g.data[0]).toFixed(6)}`), `${name} is printed: ${r.stderr.join(' | ')}`)
  }
  for (const name of ['itm_neg_image', 'itm_neg_text']) {
    const g = got.get(name) as HostTensor
    assert.is(g.dtype, 'int64', name)
    assert.equal([...(g.data as BigInt64Array)], [...((want.get(name) as HostTensor).data as BigInt64Array)], name)
  }
  const failures: string[] = []
  for (const [name, w] of want) {
    if (!name.startsWith('grad.')) continue
    const g = got.get(name)
    if (g === undefined) failures.push(`${name}: missing`)
    else if (g.shape.join() !== w.shape.join()) failures.push(`${name}: shape [${g.shape}] vs [${w.shape}]`)
    else if (worst(g, w) > 1) failures.push(`${name}: ${worst(g, w).toFixed(2)} x the tolerance`)
  }
  assert.equal(failures, [])
  for (const p of parameterList(config).filter((q) => q.name.startsWith('vqa_head.'))) {
    assert.ok((got.get(`grad.${p.name}`) as HostTensor).data.every((x) => x === 0), `${p.name}: zeros`)
  }
})

test('the float32 graph training runs agrees with the float64 one', async () => {
  const out = join(dir, 'grads32.safetensors')
  const r = await cli(...args(`${FIXTURE}/inputs.safetensors`, out, '--precision', 'float32'))
  assert.is(r.code, 0, errorLine(r))
  const f32 = tensors(out)
  const f64 = tensors(join(dir, 'grads.safetensors'))
  // float32 rounding, amplified by the network: judged against each tensor's scale.
  for (const [name, w] of f64) {
    const g = f32.get(name) as HostTensor
    let [diff, scale] = [0, 0]
    for (let i = 0; i < w.data.length; i++) {
      diff = Math.max(diff, Math.abs(Number(g.data[i]) - Number(w.data[i])))
      scale = Math.max(scale, Math.abs(Number(w.data[i])))
    }
    assert.ok(diff <= 1e-4 * Math.max(1, scale), `${name}: float32 differs by ${diff} on a scale of ${scale}`)
  }
})

const corrupt = (name: string, edit: (t: Map<string, HostTensor>) => void): string => {
  const t = new Map(tensors(`${FIXTURE}/inputs.safetensors`))
  edit(t)
  const path = join(dir, `${name}.safetensors`)
  get(writeSafetensorsAtomic(path, t))
  return path
}

const setInt = (t: Map<string, HostTensor>, name: string, index: number, value: bigint): void => {
  const old = t.get(name) as HostTensor<'int64'>
  const data = old.data.slice()
  data[index] = value
  t.set(name, { ...old, data })
}

test('bad inputs: one clear error each', async () => {
  const cases: Array<[string, (t: Map<string, HostTensor>) => void, RegExp]> = [
    ['no-labels', (t) => t.delete('mlm_labels'), /missing tensor "mlm_labels"/],
    ['big-id', (t) => setInt(t, 'input_ids', 3, 100n), /"input_ids"\[0, 3\] = 100 is not a token id \(vocabSize 100\)/],
    ['big-mlm-id', (t) => setInt(t, 'mlm_input_ids', 9, 250n), /"mlm_input_ids"\[1, 1\] = 250 is not a token id/],
    ['bad-label', (t) => setInt(t, 'mlm_labels', 2, -5n), /"mlm_labels"\[0, 2\] = -5 is neither -100/],
    ['float-ids', (t) => t.set('input_ids', { dtype: 'float32', shape: [3, 8], data: new Float32Array(24) }), /"input_ids" is float32, expected int64/],
    ['pixels-size', (t) => t.set('pixels', { dtype: 'float32', shape: [3, 3, 16, 16], data: new Float32Array(3 * 3 * 256) }), /"pixels" has shape \[3, 3, 16, 16\], expected \[B, 3, 32, 32\]/],
    ['too-long', (t) => {
      for (const n of ['input_ids', 'attention_mask', 'mlm_input_ids', 'mlm_labels']) t.set(n, { dtype: 'int64', shape: [3, 40], data: new BigInt64Array(120).fill(1n) })
    }, /sequence length 40 exceeds text.maxPositions \(32\)/],
    ['one-pair', (t) => {
      t.set('pixels', { dtype: 'float32', shape: [1, 3, 32, 32], data: new Float32Array(3 * 1024) })
      for (const n of ['input_ids', 'attention_mask', 'mlm_input_ids', 'mlm_labels']) t.set(n, { dtype: 'int64', shape: [1, 8], data: new BigInt64Array(8).fill(1n) })
    }, /at least 2 pairs/]
  ]
  for (const [name, edit, message] of cases) {
    const r = await cli(...args(corrupt(name, edit), join(dir, `${name}.out.safetensors`)))
    assert.is(r.code, 1, name)
    const line = errorLine(r)
    assert.ok(message.test(line), `${name}: ${line}`)
    assert.is(line.split('\n').length, 1, name)
  }
  const r = await cli(...args(`${FIXTURE}/inputs.safetensors`, join(dir, 'x.safetensors'), '--precision', 'float16'))
  assert.is(r.code, 2)
  assert.match(errorLine(r), /--precision must be float64 or float32/)
})

test.run()
