/**
 * One shared external data file for all stages of a compiled model: each large weight
 * is stored once, the stage graphs point into it, and the models run as with inline
 * weights.
 */
import { readFileSync, renameSync, statSync } from 'node:fs'
import { join } from 'node:path'
import * as E from 'fp-ts/lib/Either.js'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { emitModel, writeModel } from '../compiler/emit/model.js'
import { onnx } from '../compiler/emit/proto.js'
import { bytesFrom, layoutSharedData, writeSharedData } from '../compiler/emit/shared-data.js'
import { paramsOf } from '../compiler/ir/graph.js'
import type { HostTensor } from '../compiler/ir/tensor.js'
import { rawBytes } from '../compiler/emit/proto.js'
import * as d from '../dsl/index.js'
import { DATA_FILE } from '../apps/compile/compile.js'
import { openRuntime } from '../apps/cmga/runtime.js'
import { readManifest } from '../runtime/model/model.js'
import { openSession } from '../runtime/session.js'
import { compileTinyModel } from './support/retrieval-data.js'
import { randomTensor } from './support/random.js'
import { tempDir } from './support/cli.js'

const get = <A>(e: E.Either<{ message: string }, A>): A => {
  if (E.isLeft(e)) throw new Error(e.left.message)
  return e.right
}

test('two models share one data file: the shared weight is stored once and both run as with inline weights', async () => {
  const dir = tempDir('cmga-shared-')
  const x = d.input('x', 'float32', [2, 64])
  const w = d.param('w', [64, 64]) // 16 KB: shared
  const b = d.param('b', [64]) // 256 B: stays inline
  const v = d.param('v', [64, 32])
  const g1 = d.graph('one', [x], { y: d.add(d.matmul(x, w), b) })
  const g2 = d.graph('two', [x], { y: d.matmul(d.matmul(x, w), v) })
  const weights = new Map<string, HostTensor>([['w', randomTensor('float32', [64, 64], 1)], ['b', randomTensor('float32', [64], 2)], ['v', randomTensor('float32', [64, 32], 3)]])
  const used = [g1, g2].flatMap((g) => paramsOf(g).map((p) => [p.attrs.name, rawBytes(weights.get(p.attrs.name) as HostTensor).byteLength] as const))
  const shared = layoutSharedData('shared.bin', used)
  assert.equal([...shared.placement.keys()].sort(), ['v', 'w'])
  assert.ok([...shared.placement.values()].every((p) => p.offset % 4096 === 0))
  get(writeSharedData(join(dir, 'shared.bin'), shared, bytesFrom(weights)))
  assert.is(statSync(join(dir, 'shared.bin')).size, Math.max(...[...shared.placement.values()].map((p) => p.offset + p.length)))
  const feeds = { x: randomTensor('float32', [2, 64], 4) }
  for (const [i, g] of [g1, g2].entries()) {
    const path = join(dir, `m${i}.onnx`)
    get(writeModel(path, g, { weights, sharedData: shared }))
    const m = onnx.ModelProto.decode(readFileSync(path))
    const external = (m.graph?.initializer ?? []).filter((t) => t.dataLocation === onnx.TensorProto.DataLocation.EXTERNAL).map((t) => t.name)
    assert.equal(external.sort(), paramsOf(g).map((p) => p.attrs.name).filter((n) => n !== 'b').sort())
    const inline = get(emitModel(g, { weights }))
    const [a, c] = [get(await openSession(path)()), get(await openSession(inline.model)())]
    const [ya, yc] = [get(await a.run(feeds)()), get(await c.run(feeds)())]
    assert.equal(Array.from(ya.y.data as Float32Array), Array.from(yc.y.data as Float32Array))
  }
  // the same bytes as the weights, at their offsets
  const file = readFileSync(join(dir, 'shared.bin'))
  for (const [name, p] of shared.placement) assert.ok(Buffer.from(rawBytes(weights.get(name) as HostTensor)).equals(file.subarray(p.offset, p.offset + p.length)), name)
})

test('a laid-out weight that changed size is refused; a missing value too', () => {
  const dir = tempDir('cmga-shared-')
  const shared = layoutSharedData('s.bin', [['w', 32 * 32 * 4]])
  const resized = writeSharedData(join(dir, 'a.bin'), shared, bytesFrom(new Map([['w', randomTensor('float32', [32, 16], 1)]])))
  assert.ok(E.isLeft(resized) && resized.left.message.includes('"w" is 2048 bytes, laid out as 4096'))
  const missing = writeSharedData(join(dir, 'b.bin'), shared, bytesFrom(new Map()))
  assert.ok(E.isLeft(missing) && missing.left.message.includes('no value for "w"'))
})

test('cmga compile: stages point into one weights.bin holding each large weight once', () => {
  const model = compileTinyModel(join(tempDir('cmga-shared-'), 'model'), false)
  const manifest = get(readManifest(model))
  assert.is(manifest.data, DATA_FILE)
  const names = new Map<string, number>()
  let stageBytes = 0
  for (const spec of Object.values(manifest.stages)) {
    const m = onnx.ModelProto.decode(readFileSync(join(model, spec.file)))
    stageBytes += statSync(join(model, spec.file)).size
    for (const t of m.graph?.initializer ?? []) {
      if (t.dataLocation !== onnx.TensorProto.DataLocation.EXTERNAL) continue
      const kv = Object.fromEntries((t.externalData ?? []).map((e) => [e.key, e.value]))
      assert.is(kv.location, DATA_FILE, t.name ?? '')
      const at = Number(kv.offset)
      assert.ok(!names.has(t.name as string) || names.get(t.name as string) === at, `${t.name} has one place`)
      names.set(t.name as string, at)
    }
  }
  assert.ok(names.size > 50, `${names.size} shared weights`)
  const data = statSync(join(model, DATA_FILE)).size
  assert.ok(stageBytes < data / 4, `stage graphs ${stageBytes} bytes beside ${data} of weights`)
})

test('a model directory without its weights.bin is one clear error', () => {
  const model = compileTinyModel(join(tempDir('cmga-shared-'), 'model'), false)
  renameSync(join(model, DATA_FILE), join(model, 'moved.bin'))
  const r = openRuntime(model)
  assert.ok(E.isLeft(r) && r.left.message.includes(`its weights file ${DATA_FILE} is missing`), E.isLeft(r) ? r.left.message : 'opened')
})

test.run()
