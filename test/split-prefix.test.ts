/**
 * The text-independent prefix split (compiler/passes/split-prefix.ts) of the joint
 * vision graph: prefix then suffix computes what the whole graph does, and the cut is
 * the residual stream entering the first compression block.
 */
import * as E from 'fp-ts/lib/Either.js'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
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
  const T = (c.vision.imageSize / c.vision.patchSize) ** 2 + 1
  assert.equal(prefix.outputs[0].node.shape, ['B', T, c.vision.width], 'all tokens enter the first compression block')
  assert.equal(suffix.inputs.map((i) => i.attrs.name), ['vision_prefix', 'text_cls'])
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
