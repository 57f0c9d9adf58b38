/**
 * The DSL's tensor type and its leaves. A `Tensor<D>` is an IR node whose dtype is
 * known to the type checker; its shape is a list of dims (numbers or named dims). The
 * nodes are built by the compiler's untyped builders (`compiler/ir/build.ts`); the DSL
 * adds the types.
 * @since 0.1.0
 */
import * as b from '../compiler/ir/build.js'
import type { DType } from '../compiler/ir/dtype.js'
import type { Node } from '../compiler/ir/node.js'
import type { Dim, Shape } from '../compiler/ir/ops.js'
import type { HostTensor } from '../compiler/ir/tensor.js'

// -------------------------------------------------------------------------------------
// model
// -------------------------------------------------------------------------------------

/** @since 0.1.0 */
export type Tensor<D extends DType = DType> = Node & { readonly dtype: D }

/** Float tensors (the only ones with gradients). */
export type F32 = Tensor<'float32'>
/** Integer index tensors. */
export type I64 = Tensor<'int64'>
/** Masks. */
export type Bool = Tensor<'bool'>

export type { Dim, Shape, DType }

// -------------------------------------------------------------------------------------
// leaves
// -------------------------------------------------------------------------------------

/** A graph input: a tensor that is also an `Input` node. */
export type InputTensor<D extends DType = DType> = Tensor<D> & Node<'Input'>

/** A graph input (declare it in the graph's input list too). */
export const input = <D extends DType>(name: string, dtype: D, shape: Shape): InputTensor<D> => b.input(name, dtype, shape) as InputTensor<D>

/** A named parameter, matched by name against a checkpoint. */
export const param = <D extends DType = 'float32'>(name: string, shape: Shape, dtype: D = 'float32' as D): Tensor<D> => b.param(name, shape, dtype) as Tensor<D>

/** A constant from a host tensor. */
export const constant = <D extends DType>(value: HostTensor<D>): Tensor<D> => b.constant(value) as Tensor<D>

/** A scalar constant (rank 0). */
export const scalar = <D extends DType>(value: number, dtype: D): Tensor<D> => b.scalar(value, dtype) as Tensor<D>

/** A rank-1 constant. */
export const vector = <D extends DType>(values: readonly number[], dtype: D): Tensor<D> => b.vector(values, dtype) as Tensor<D>

/** A tensor or a number (taken as a scalar of the other operand's dtype). */
export type Operand<D extends DType> = Tensor<D> | number

/** Normalizes a possibly negative axis against a rank. */
export const axisOf = b.axisOf
