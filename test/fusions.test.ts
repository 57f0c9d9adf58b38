/**
 * The fusion passes (compiler/passes/fusions) on the tiny config with random weights:
 * each fires where expected, reports why other candidates did not fuse, and leaves
 * every output within 1e-5 of the unfused graph's in onnxruntime.
 */
import * as E from 'fp-ts/lib/Either.js'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { grad } from '../compiler/autodiff/grad.js'
import { emitModel } from '../compiler/emit/model.js'
import { onnx } from '../compiler/emit/proto.js'
import type { onnx as proto } from 'onnx-proto'
import type { Graph } from '../compiler/ir/graph.js'
import { topo } from '../compiler/ir/graph.js'
import type { HostTensor } from '../compiler/ir/tensor.js'
import type { Pass } from '../compiler/passes/pass.js'
import { defaultPasses, runPipeline } from '../compiler/passes/pipeline.js'
import { dropTokens, fuseAttention, fuseBiasGelu, fuseSkipLayerNorm, fusionPasses } from '../compiler/passes/fusions/index.js'
import type { CmgaConfig } from '../models/cmga/config.js'
import { readConfigFile } from '../apps/cmga/config-file.js'
import * as d from '../dsl/index.js'
import type { Stage } from '../models/cmga/graphs.js'
import { stageGraph } from '../models/cmga/graphs.js'
import { randomWeights } from '../apps/compile/random-init.js'
import { randomTensor } from './support/random.js'
import { assertSameOutputs } from './support/same-outputs.js'

const c = ((): CmgaConfig => {
  const r = readConfigFile('models/cmga/configs/tiny.json')
  if (E.isLeft(r)) throw new Error(r.left.message)
  return r.right
})()
const weights = randomWeights(c, 5, 0.2)
const B = 2
const L = 7

/** Feeds for a stage at batch B and L tokens (the last two tokens of every text are padding). */
const feedsFor = (g: Graph): Record<string, HostTensor> =>
  Object.fromEntries(
    g.inputs.map((i, k) => {
      const shape = i.shape.map((d) => (d === 'B' ? B : d === 'L' ? L : (d as number)))
      if (i.attrs.name === 'input_ids') return [i.attrs.name, randomTensor('int64', shape, k, { low: 1, high: c.text.vocabSize })]
      if (i.attrs.name === 'attention_mask') return [i.attrs.name, { dtype: 'int64', shape, data: BigInt64Array.from({ length: B * L }, (_, j) => (j % L < L - 2 ? 1n : 0n)) }]
      return [i.attrs.name, randomTensor(i.dtype, shape, 100 + k)]
    })
  )

const unfused = (s: Stage): Graph => runPipeline(stageGraph(c, s), defaultPasses).graph

/**
 * Runs the default passes plus `pass`, checks its firings (and that each `[rule, reason]`
 * of `missed` was reported), the op counts and the outputs.
 */
const check = async (s: Stage, pass: Pass, fired: Record<string, number>, missed: readonly (readonly [string, string])[] = []): Promise<Graph> => {
  const before = unfused(s)
  const r = runPipeline(before, [...defaultPasses, pass])
  const stats = r.stats[pass.name]
  for (const [k, n] of Object.entries(fired)) assert.is(stats.fired[k], n, `${s}: ${pass.name}.${k} in ${JSON.stringify(stats)}`)
  for (const [k, why] of missed) assert.ok((stats.missed[k]?.[why] ?? 0) > 0, `${s}: ${pass.name} reports "${k}: ${why}" in ${JSON.stringify(stats)}`)
  await assertSameOutputs(before, r.graph, feedsFor(before), weights)
  return r.graph
}

const count = (g: Graph, op: string): number => topo(g).filter((n) => n.op === op).length

test('attention: every MHA of every stage fuses, [CLS] rows come from the [CLS] query', async () => {
  const v = await check('vision_image', fuseAttention(), { attention: c.vision.depth, clsRow: c.compression.layers.length })
  assert.is(count(v, 'Softmax'), c.compression.layers.length, 'only the one-row softmaxes remain')
  assert.ok(topo(v).every((n) => !['MatMul', 'Softmax'].includes(n.op) || n.shape.length !== 4 || n.shape[2] !== n.shape[3]), 'no [B, H, T, T] tensor is left')
  await check('text', fuseAttention(), { attention: c.text.textLayers })
  await check('relation', fuseAttention(), { attention: 2 * c.text.fusionLayers })
  await check('vision_joint', fuseAttention({ present: false }), { attention: c.vision.depth })
})

test('skip layer norm: pre-norm sums keep their second consumer; broadcasting adds are reported', async () => {
  const g = await check('vision_none', fuseSkipLayerNorm, { skipSum: 2 * c.vision.depth, skipLayerNorm: 2 * c.vision.depth }, [['skipSum', 'the add broadcasts']])
  assert.is(count(g, 'LayerNormalization'), 1, 'only the first LN1 (after the broadcasting position add)')
  await check('text', fuseSkipLayerNorm, { skipSum: 2 * c.text.textLayers })
  await check('relation', fuseSkipLayerNorm, { skipSum: 3 * c.text.fusionLayers })
})

test('bias GELU: every MLP (and the VQA head)', async () => {
  await check('vision_image', fuseBiasGelu, { biasGelu: c.vision.depth })
  await check('relation', fuseBiasGelu, { biasGelu: c.text.fusionLayers + (c.vqa === undefined ? 0 : 1) })
})

test('token dropping: no one-hot mask, static shapes', async () => {
  for (const s of ['vision_image', 'vision_joint'] as const) {
    const g = await check(s, dropTokens, { fusedToken: c.compression.layers.length })
    assert.is(count(g, 'OneHot'), 0)
    assert.ok(topo(g).every((n) => n.shape.every((d) => typeof d === 'number' || d === 'B')), 'every dim but B is static')
  }
})

test('all fusions together; every emitted value has value_info with only B symbolic', async () => {
  const before = unfused('vision_joint')
  const after = runPipeline(before, [...defaultPasses, ...fusionPasses()]).graph
  await assertSameOutputs(before, after, feedsFor(before), weights)
  const m = emitModel(after, { weights })
  if (E.isLeft(m)) throw new Error(m.left.message)
  const model = onnx.ModelProto.decode(m.right.model)
  const g = model.graph as proto.IGraphProto
  assert.ok(model.opsetImport?.some((o) => o.domain === 'com.microsoft'))
  const typed = new Map([...(g.valueInfo ?? []), ...(g.output ?? [])].map((v) => [v.name, v.type?.tensorType?.shape?.dim ?? []]))
  for (const n of g.node ?? []) {
    if (n.opType === 'Shape' || n.opType === 'Concat' && (n.output ?? []).every((o) => !typed.has(o))) continue
    const used = (n.output ?? []).filter((o) => (g.node ?? []).some((u) => u.input?.includes(o)) || g.output?.some((x) => x.name === o))
    for (const o of used) {
      const dims = typed.get(o)
      assert.ok(dims !== undefined, `${n.opType} output ${o} has no value_info`)
      assert.ok(dims.every((x) => !x.dimParam || x.dimParam === 'B'), `${o}: ${JSON.stringify(dims)}`)
    }
  }
})

test('fused ops are not differentiable: grad says to run fusions after it', () => {
  const g = runPipeline(unfused('vision_none'), [...defaultPasses, fuseBiasGelu]).graph
  const gelu = topo(g).find((n) => n.op === 'BiasGelu') as d.F32
  const loss = d.sum(gelu, gelu.shape.map((_, i) => i))
  const r = grad(d.graph('loss', g.inputs, { loss }), 'loss', 'params')
  assert.ok(E.isLeft(r) && r.left.message.includes('not differentiable: run fusions after grad'), JSON.stringify(r))
})

test.run()
