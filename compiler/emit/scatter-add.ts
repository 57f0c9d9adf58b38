/**
 * The ONNX form of `ScatterNDAdd` (the transpose of a gather: gradients of Gather and
 * GatherND). ONNX's own ScatterND(reduction=add) is not used: onnxruntime's CPU kernel
 * (1.30) splits the index tuples across its threads and adds into the output without
 * synchronisation, so tuples that repeat (a gather's gradient repeats every index it
 * gathered twice) lose updates: measured, a [192, 4160] scatter onto 64 rows at 2
 * threads gave 35 different results in 50 runs, off by up to 0.5. ScatterElements with
 * reduction=add computes the same sum in one thread, in index order. So the first
 * `depth` dims of the data become one row axis, each index tuple its row number, and
 * that number is expanded over the rest of its slice.
 * @since 0.1.0
 */
import type { Dim } from '../ir/ops.js'
import { raise } from '../errors.js'
import type { LowerContext, ShapedValue } from './context.js'
import { int, str } from './context.js'
import { assemble } from './shape-tensor.js'

const piece = (d: Dim): number | { readonly named: string } => (typeof d === 'number' ? d : { named: d })

/**
 * `ScatterNDAdd(x, indices [..., depth], updates)` as ScatterElements(add) along axis 0
 * of `x` with its first `depth` dims flattened (each needs a static size but the first).
 */
export const lowerScatterNDAdd = (ctx: LowerContext, x: ShapedValue, indices: ShapedValue, updates: string): string => {
  const depth = indices.shape[indices.shape.length - 1]
  if (typeof depth !== 'number' || depth < 1) return raise('shape', `ScatterNDAdd needs a static index depth, got ${String(depth)}`)
  const lead = x.shape.slice(0, depth)
  const rest = x.shape.slice(depth)
  const strides = lead.map((_, j) =>
    lead.slice(j + 1).reduce<number>((p, d) => (typeof d === 'number' ? p * d : raise('shape', `ScatterNDAdd indexes dims [${lead.join(', ')}]: only the first may be named`)), 1)
  )
  // each tuple's row number ([..., 1]: the index itself)
  const rows =
    depth === 1
      ? indices.value
      : ctx.emit('ReduceSum', [ctx.emit('Mul', [indices.value, ctx.constInt64(strides)])[0], ctx.constInt64([-1])], { keepdims: int(0) })[0]
  const flat = assemble(ctx, x, [-1, ...rest.map(piece)]) // [rows, ...rest]
  const data = depth === 1 ? x.value : ctx.emit('Reshape', [x.value, flat])[0]
  const slices = ctx.emit('Reshape', [updates, flat])[0] // [N, ...rest]
  const column = ctx.emit('Reshape', [rows, ctx.constInt64([-1, ...rest.map(() => 1)])])[0] // [N, 1, ...]
  const where = ctx.emit('Expand', [column, ctx.emit('Shape', [slices])[0]])[0]
  const summed = ctx.emit('ScatterElements', [data, where, slices], { axis: int(0), reduction: str('add') })[0]
  return depth === 1 ? summed : ctx.emit('Reshape', [summed, ctx.emit('Shape', [x.value])[0]])[0]
}
