/**
 * The text-independent prefix split (compiler/passes/split-prefix.ts, after
 * hoist-rows.ts) of the joint vision graph: prefix then suffix computes what the whole
 * graph does, and the prefix holds everything that does not read the text, up to the
 * first compression block's token selection and the row-wise work after it.
 */
import * as E from 'fp-ts/lib/Either.js'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import type { Graph } from '../compiler/ir/graph.js'
import { topo, topoFrom } from '../compiler/ir/graph.js'
import { isOp } from '../compiler/ir/node.js'
import { toNumbers } from '../compiler/ir/tensor.js'
import { splitPrefix } from '../compiler/passes/split-prefix.js'
import { readConfigFile } from '../apps/cmga/config-file.js'
import { deployGraphs, splitJointVision } from '../apps/compile/deploy.js'
import { randomWeights } from '../apps/compile/random-init.js'
import { stageGraph } from '../models/cmga/graphs.js'
import { randomTensor } from './support/random.js'
import { runGraph } from './support/same-outputs.js'

const c = E.getOrElseW(() => { throw new Error('tiny config') })(readConfigFile('models/cmga/configs/tiny.json'))
const weights = randomWeights(c, 9, 0.2)

test('prefix + suffix = the joint vision graph (unfused and fused)', async () => {
  const split = splitJointVision(c)
  assert.ok(E.isRight(split))
  if (E.isLeft(split)) return
  const [prefix, suffix] = split.right.map((s) => s.graph)
  assert.equal(prefix.outputs[0].node.shape.length, 2, 'the cut values packed in one [B, P] value')
  assert.equal(suffix.inputs.map((i) => i.attrs.name), ['vision_prefix', 'text_cls'])
  // The first compression block's MLP and the next block's QKV projection run on every
  // token in the prefix; per pair, the suffix runs them on the fused token alone.
  const M = (c.vision.imageSize / c.vision.patchSize) ** 2
  const first = c.compression.layers[0]
  const rowsThrough = (g: Graph, weight: string): number[] =>
    topo(g).filter((n) => n.op === 'MatMul' && topoFrom([n.inputs[1]]).some((m) => isOp(m, 'Param') && m.attrs.name === weight)).map((n) => n.shape[1] as number).sort((a, b) => a - b)
  for (const w of [`visual_encoder.blocks.${first}.mlp.fc1.weight`, `visual_encoder.blocks.${first + 1}.attn.qkv.weight`]) {
    assert.equal(rowsThrough(prefix, w), [1, M], `${w} in the prefix`)
    assert.equal(rowsThrough(suffix, w).slice(0, 1), [1], `${w} in the suffix`)
  }
  const feeds = { pixels: randomTensor('float32', [3, 3, c.vision.imageSize, c.vision.imageSize], 1), text_cls: randomTensor('float32', [3, c.text.width], 2) }
  const whole = await runGraph(stageGraph(c, 'vision_joint'), feeds, weights)
  const all = deployGraphs(c)
  assert.ok(E.isRight(all))
  if (E.isLeft(all)) return
  const fused = Object.fromEntries(all.right.map((s) => [s.stage, s.graph]))
  for (const [pre, suf] of [[prefix, suffix], [fused.vision_prefix, fused.vision_joint_suffix]]) {
    const p = await runGraph(pre, feeds, weights)
    const s = await runGraph(suf, { vision_prefix: p.vision_prefix, text_cls: feeds.text_cls }, weights)
    for (const [k, v] of Object.entries(whole)) {
      const [a, b] = [toNumbers(s[k]), toNumbers(v)]
      assert.ok(a.every((x, i) => Math.abs(x - b[i]) <= 1e-5 * (1 + Math.abs(b[i]))), k)
    }
  }
})

test('a split needs late inputs naming some but not all inputs', () => {
  const g = stageGraph(c, 'vision_joint')
  assert.ok(E.isLeft(splitPrefix(g, [], 'x')))
  assert.ok(E.isLeft(splitPrefix(g, ['pixels', 'text_cls'], 'x')))
  assert.ok(E.isLeft(splitPrefix(stageGraph(c, 'vision_image'), ['nothing'], 'x')))
})

test.run()
