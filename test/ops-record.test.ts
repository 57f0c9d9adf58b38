/** The op record: every op list derives from `opInfo`, and each op is in one group. */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { allOps, commutative, float32Only, groups, opGroups, opInfo } from '../compiler/ir/ops.js'
import { evalRules } from '../compiler/eval/rules.js'
import { vjpRules } from '../compiler/autodiff/vjp.js'
import { inferRules } from '../compiler/ir/infer.js'
import { lowerRules } from '../compiler/emit/lower.js'

test('allOps is the record, in its order; each op is in exactly one group', () => {
  assert.equal(allOps, Object.keys(opInfo))
  const grouped = opGroups.flatMap((g) => groups[g])
  assert.equal([...grouped].sort(), [...allOps].sort())
  assert.is(new Set(grouped).size, allOps.length)
})

test('commutative ops are binary; float32-only ops include every fused op', () => {
  for (const op of commutative) assert.is(opInfo[op].group, 'binary', op)
  assert.equal([...commutative], ['Add', 'Mul', 'Max', 'Min', 'Equal', 'And'])
  for (const op of groups.fused) assert.ok(float32Only.has(op), op)
  assert.equal([...float32Only], ['Erf', 'Conv', 'OneHot', 'MultiHeadAttention', 'SkipLayerNormalization', 'BiasGelu', 'DynamicQuantizeMatMul'])
})

test('the per-op tables have exactly the record\'s ops', () => {
  for (const table of [inferRules, evalRules, lowerRules, vjpRules]) assert.equal(Object.keys(table).sort(), [...allOps].sort())
})

test.run()
