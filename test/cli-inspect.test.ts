/** `cmga inspect`: what a model directory holds, checked against its files. */
import { readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import * as E from 'fp-ts/lib/Either.js'
import { onnx } from '../compiler/emit/proto.js'
import { describeInfo } from '../cli/commands/inspect.js'
import { describeRanking } from '../cli/rerank-flags.js'
import { inspectModel } from '../apps/cmga/inspect.js'
import { cli, errorLine, tempDir } from './support/cli.js'
import { compileTinyModel } from './support/retrieval-data.js'

const root = tempDir('cmga-inspect-')
const model = compileTinyModel(join(root, 'model'), false)

test('cmga inspect --json: every stage of the manifest, its ops and weights as its ONNX file has them', async () => {
  const out = join(root, 'info.json')
  const r = await cli('inspect', '--model', model, '--out', out)
  assert.is(r.code, 0, errorLine(r))
  const info = JSON.parse(readFileSync(out, 'utf8'))
  const manifest = JSON.parse(readFileSync(join(model, 'manifest.json'), 'utf8'))
  assert.equal(Object.keys(info.stages).sort(), Object.keys(manifest.stages).sort())
  assert.equal(info.data, { file: 'weights.bin', bytes: statSync(join(model, 'weights.bin')).size })
  for (const [name, s] of Object.entries<{ file: string; nodes: number; ops: Record<string, number>; inputs: unknown; weights: { external: number } }>(info.stages)) {
    const m = onnx.ModelProto.decode(readFileSync(join(model, s.file)))
    assert.is(s.nodes, m.graph?.node?.length, name)
    assert.is(Object.values(s.ops).reduce((a, b) => a + b, 0), s.nodes, name)
    const mha = (m.graph?.node ?? []).filter((n) => n.opType === 'MultiHeadAttention').length
    assert.is(s.ops['com.microsoft.MultiHeadAttention'] ?? 0, mha, name)
    assert.equal(s.inputs, manifest.stages[name].inputs)
    assert.is(s.weights.external, (m.graph?.initializer ?? []).filter((t) => t.dataLocation === onnx.TensorProto.DataLocation.EXTERNAL).length)
  }
  assert.is(info.stages.vision_image.ops['com.microsoft.MultiHeadAttention'], 4) // the tiny config's 4 blocks
})

test('cmga inspect: text by default; a folder that is not a model is one message', async () => {
  const r = await cli('inspect', '--model', model)
  assert.is(r.code, 0, errorLine(r))
  const info = inspectModel(model)
  assert.ok(E.isRight(info))
  const text = describeInfo(info.right).join('\n')
  assert.match(text, /^vision_image \(vision_image\.onnx, [\d.]+ KiB, \d+ nodes; opsets ai\.onnx 17, com\.microsoft 1\)$/m)
  assert.match(text, /^ {2}ops {6}.*com\.microsoft\.MultiHeadAttention 4/m)
  assert.match(text, /shared weights weights\.bin [\d.]+ (KiB|MiB)/)
  assert.not.match(text, /^ranking/m, 'no ranking defaults compiled in')
  assert.ok(describeInfo({ ...info.right, ranking: { k: 0, why: 'measured' } }).includes('ranking  cmga retrieve by default: stage 1 only (--k 0): measured'))
  assert.ok(describeInfo({ ...info.right, ranking: { k: 8, itmWeight: 0.05 } }).includes('ranking  cmga retrieve by default: re-ranking the top 8 by stage 1 + 0.05 x ITM log-odds (--k 8 --itm-weight 0.05)'))
  const bad = await cli('inspect', '--model', root)
  assert.is(bad.code, 1)
  assert.match(errorLine(bad), /is not a compiled model directory/)
})

test('one phrasing of a ranking: a weight the model leaves out is retrieve\'s default, and --rule itm is named', () => {
  assert.is(describeRanking({ k: 16 }), 're-ranking the top 16 by stage 1 + 0.1 x ITM log-odds (--k 16 --itm-weight 0.1)')
  assert.is(describeRanking({ k: 4, itmWeight: 0.003, why: 'validated' }, 'itm'), 're-ranking the top 4 by the ITM match probability (--k 4 --rule itm): validated')
})

test.run()
