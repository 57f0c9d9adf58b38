/**
 * The stage contract: a manifest is checked once against it (every required stage, no
 * input a reader does not feed, every output with its dtype, optional ones when
 * present), and a stage result missing a named output is an error value, not a throw.
 */
import * as E from 'fp-ts/lib/Either.js'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import type { HostTensor } from '../compiler/ir/tensor.js'
import { fromNumbers } from '../compiler/ir/tensor.js'
import { cmgaStages } from '../models/cmga/stages.js'
import { checkContract, contractRunner } from '../runtime/model/contract.js'
import type { Manifest } from '../runtime/model/manifest.js'

type Stages = Manifest['stages']

const specs = (sig: Readonly<Record<string, string>>): { name: string; dtype: string; shape: number[] }[] =>
  Object.entries(sig).map(([name, dtype]) => ({ name, dtype, shape: [1] }))

/** A manifest whose stages are exactly the contract's (optional outputs included). */
const full = (): Stages =>
  Object.fromEntries(
    Object.entries(cmgaStages).map(([stage, t]) => [stage, { file: `${stage}.onnx`, inputs: specs(t.inputs), outputs: specs({ ...t.outputs, ...('optionalOutputs' in t ? t.optionalOutputs : {}) }) }])
  )

const manifest = (stages: Stages): Manifest => ({
  format: 'cmga-model',
  formatVersion: 1,
  compiler: { name: 'cmga', version: '0' },
  config: {},
  weights: { source: 'x', summary: 'x' },
  quantize: 'none',
  stages
})

const problem = (stages: Stages): string => {
  const r = checkContract('m', manifest(stages), cmgaStages)
  return E.isLeft(r) ? `${r.left.kind}: ${r.left.message}` : 'ok'
}

test('a manifest with every stage, input and output keeps the contract; optional stages and outputs may be absent', () => {
  assert.is(problem(full()), 'ok')
  const { vision_prefix: _p, vision_joint_suffix: _s, ...main } = full()
  assert.is(problem(main), 'ok')
  const noVqa = full()
  noVqa.relation = { ...noVqa.relation, outputs: noVqa.relation.outputs.filter((o) => o.name !== 'vqa_logits') }
  assert.is(problem(noVqa), 'ok')
  const noTextCls = full()
  noTextCls.vision_joint = { ...noTextCls.vision_joint, inputs: noTextCls.vision_joint.inputs.filter((i) => i.name !== 'text_cls') }
  assert.is(problem(noTextCls), 'ok', 'a stage may drop an input it does not need')
})

test('a missing stage, a missing or mistyped output, or an input no reader feeds is refused once, naming it', () => {
  const { vision_none: _n, ...noNone } = full()
  assert.is(problem(noNone), 'input: model m has no stage "vision_none"; compile it again with this version of cmga')
  const suffix = full()
  suffix.vision_joint_suffix = { ...suffix.vision_joint_suffix, outputs: [] }
  assert.is(problem(suffix), 'input: model m: stage "vision_joint_suffix" lacks vision_embeds (float32); compile it again with this version of cmga')
  const vqa = full()
  vqa.relation = { ...vqa.relation, outputs: vqa.relation.outputs.map((o) => (o.name === 'vqa_logits' ? { ...o, dtype: 'float16' } : o)) }
  assert.match(problem(vqa), 'stage "relation" lacks vqa_logits (float32)')
  const extra = full()
  extra.scores = { ...extra.scores, inputs: [...extra.scores.inputs, { name: 'temperature', dtype: 'float32', shape: [] }] }
  assert.match(problem(extra), 'stage "scores" takes inputs no reader feeds: temperature (float32)')
})

test('a stage result without a named output is a Left, not a throw', async () => {
  const t = fromNumbers('float32', [1, 2], [1, 2])
  const gives = (out: Record<string, HostTensor>) => contractRunner({ has: () => true, run: () => async () => E.right(out) }, cmgaStages)
  const bad = await gives({ itc_image: t })
    .run('vision_image', { pixels: t })()
  assert.ok(E.isLeft(bad) && bad.left.kind === 'runtime' && bad.left.message.includes('"image_tokens"'), JSON.stringify(bad))
  const good = await gives({ vision_embeds: t, itc_image: t, image_tokens: t, 'keep.1': t }).run('vision_image', { pixels: t })()
  assert.ok(E.isRight(good) && good.right.image_tokens === t && good.right['keep.1'] === t)
})

test.run()
