/**
 * Target-shape tensors for Reshape and Expand when the target has named dims. The
 * constant form is preferred (Reshape: 0 copies a same-named dim at the same position,
 * -1 infers one; Expand: 1 keeps an aligned dim); otherwise named dims are read at run
 * time (`Shape(x, start=j, end=j+1)`) and concatenated with the constant pieces.
 * @since 0.1.0
 */
import type { Dim, Shape } from '../ir/ops.js'
import type { LowerContext, ShapedValue } from './context.js'
import { int } from './context.js'

/** An element of an int64 vector: a constant, or a named dim to be read at run time. */
export type Piece = number | { readonly named: string }

/**
 * An int64 rank-1 value from pieces: all-constant vectors are one initializer; otherwise
 * constant runs and run-time dims (read from `x` first, see `ctx.runtimeDim`) are
 * concatenated.
 */
export const assemble = (ctx: LowerContext, x: ShapedValue, pieces: readonly Piece[]): string => {
  if (pieces.every((p): p is number => typeof p === 'number')) return ctx.constInt64(pieces)
  const parts: string[] = []
  let run: number[] = []
  for (const p of pieces) {
    if (typeof p === 'number') {
      run.push(p)
      continue
    }
    if (run.length > 0) parts.push(ctx.constInt64(run))
    run = []
    parts.push(ctx.runtimeDim(p.named, [x]))
  }
  if (run.length > 0) parts.push(ctx.constInt64(run))
  return parts.length === 1 ? parts[0] : ctx.emit('Concat', parts, { axis: int(0) })[0]
}

/**
 * The shape input of `Reshape(x)` to `target`. A named dim found at the same position in
 * `x` becomes 0 (copy, allowzero = 0); one remaining named dim becomes -1; any further
 * ones are read from the run-time shape.
 */
export const reshapeShape = (ctx: LowerContext, x: ShapedValue, target: Shape): string => {
  let inferred = false
  const pieces = target.map((d: Dim, i): Piece => {
    if (typeof d === 'number') return d
    if (x.shape[i] === d) return 0
    if (!inferred) {
      inferred = true
      return -1
    }
    return { named: d }
  })
  return assemble(ctx, x, pieces)
}

/**
 * The shape input of `Expand(x)` to `target`. A dim equal to the aligned dim of `x`
 * becomes 1 when named (Expand keeps it); other named dims are read at run time.
 */
export const expandShape = (ctx: LowerContext, x: ShapedValue, target: Shape): string => {
  const lead = target.length - x.shape.length
  const pieces = target.map((d: Dim, i): Piece => {
    if (typeof d === 'number') return d
    return i >= lead && x.shape[i - lead] === d ? 1 : { named: d }
  })
  return assemble(ctx, x, pieces)
}
