/**
 * Issue 3's acceptance: compile the shared tiny fixture, run `cmga infer` on its inputs,
 * and match every tensor of outputs.safetensors (1e-4 absolute; keep indices exactly).
 * Every emitted graph passes the full ONNX checker.
 */
import { readdirSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import * as E from 'fp-ts/lib/Either.js'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { toNumbers } from '../compiler/ir/tensor.js'
import { readSafetensors } from '../runtime/safetensors/index.js'
import { readCmgaManifest } from '../apps/cmga/model.js'
import { cli, tempDir } from './support/cli.js'
import { checkModels } from './support/onnx-check.js'

const fixture = fileURLToPath(new URL('./fixtures/cmga-tiny/', import.meta.url))
const read = (path: string) => {
  const r = readSafetensors(path)
  if (E.isLeft(r)) throw new Error(r.left.message)
  return r.right.tensors
}

const it = suite('cmga compile + infer on the tiny fixture')
const dir = tempDir()
const model = join(dir, 'model')
const outputs = join(dir, 'outputs.safetensors')

it.before(async () => {
  const c = await cli('compile', '--config', join(fixture, 'config.json'), '--weights', join(fixture, 'weights.safetensors'), '--out', model)
  assert.is(c.code, 0, c.stderr.join('\n'))
  const r = await cli('infer', '--model', model, '--inputs', join(fixture, 'inputs.safetensors'), '--out', outputs)
  assert.is(r.code, 0, r.stderr.join('\n'))
})

it('every fixture output is produced and matches', () => {
  const want = read(join(fixture, 'outputs.safetensors'))
  const got = read(outputs)
  assert.equal([...got.keys()].sort(), [...want.keys()].sort())
  for (const [name, w] of want) {
    const g = got.get(name)
    assert.ok(g !== undefined, name)
    assert.is(g.dtype, w.dtype, `${name} dtype`)
    assert.equal(g.shape, w.shape, `${name} shape`)
    const [a, b] = [toNumbers(g), toNumbers(w)]
    if (w.dtype === 'int64') {
      assert.equal(Array.from(a), Array.from(b), `${name} kept indices`)
    } else {
      let worst = 0
      for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]))
      assert.ok(worst <= 1e-4, `${name}: max |difference| ${worst}`)
    }
  }
})

it('the manifest describes every stage and the config', () => {
  const m = readCmgaManifest(model)
  assert.ok(E.isRight(m))
  if (E.isLeft(m)) return
  for (const stage of ['text', 'vision_image', 'vision_joint', 'vision_none', 'relation', 'scores']) assert.ok(m.right.stages[stage] !== undefined, stage)
  assert.is(m.right.config.vision.imageSize, 32)
  assert.is(m.right.compiler.name, 'cmga')
  const image = m.right.stages.vision_image
  assert.equal(image.inputs, [{ name: 'pixels', dtype: 'float32', shape: ['B', 3, 32, 32] }])
  assert.ok(image.outputs.some((o) => o.name === 'keep.1' && o.dtype === 'int64' && o.shape[1] === 12))
})

it('every emitted graph passes onnx.checker.check_model(full_check=True)', () => {
  const files = readdirSync(model).filter((f) => f.endsWith('.onnx'))
  assert.ok(files.length >= 6)
  checkModels(files.map((f) => join(model, f)))
})

it.run()
