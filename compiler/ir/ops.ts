/**
 * The op set. Op kinds are ONNX op names (plus `Input`, `Param`, `Constant` leaves);
 * `OpAttrs` maps each kind to its typed attributes. Every per-op table of the compiler
 * (`infer`, `evaluate`, `lower`, `vjp`) is a `{ [K in OpKind]: ... }`, so adding an op
 * here without an entry in each table is a type error.
 * @since 0.1.0
 */
import type { DType } from './dtype.js'
import type { HostTensor } from './tensor.js'

// -------------------------------------------------------------------------------------
// model
// -------------------------------------------------------------------------------------

/** A dimension: a static size or a named symbolic one (ONNX `dim_param`). */
export type Dim = number | string

/** @since 0.1.0 */
export type Shape = readonly Dim[]

type None = Readonly<Record<string, never>>

/** Typed attributes of every op kind. Axes are always normalized to be non-negative. */
export interface OpAttrs {
  // leaves
  readonly Input: { readonly name: string; readonly dtype: DType; readonly shape: Shape }
  readonly Param: { readonly name: string; readonly dtype: DType; readonly shape: Shape }
  readonly Constant: { readonly value: HostTensor }
  // elementwise, broadcasting (numpy rules)
  readonly Add: None
  readonly Sub: None
  readonly Mul: None
  readonly Div: None
  readonly Max: None
  readonly Min: None
  readonly Pow: None
  readonly Equal: None
  readonly Less: None
  readonly Greater: None
  readonly And: None
  readonly Where: None
  // elementwise, unary
  readonly Neg: None
  readonly Exp: None
  readonly Log: None
  readonly Sqrt: None
  readonly Tanh: None
  readonly Erf: None
  readonly Abs: None
  readonly Not: None
  readonly Cast: { readonly to: DType }
  // contractions
  readonly MatMul: None
  readonly Conv: { readonly kernel: readonly number[]; readonly strides: readonly number[] }
  // reductions
  readonly ReduceSum: { readonly axes: readonly number[]; readonly keepdims: boolean }
  readonly ReduceMean: { readonly axes: readonly number[]; readonly keepdims: boolean }
  readonly ReduceMax: { readonly axes: readonly number[]; readonly keepdims: boolean }
  readonly ArgMax: { readonly axis: number; readonly keepdims: boolean }
  readonly TopK: { readonly k: number; readonly axis: number; readonly largest: boolean; readonly output: 0 | 1 }
  // normalizations
  readonly Softmax: { readonly axis: number }
  readonly LogSoftmax: { readonly axis: number }
  readonly LayerNormalization: { readonly epsilon: number }
  // movement
  readonly Reshape: { readonly shape: Shape }
  readonly Transpose: { readonly perm: readonly number[] }
  readonly Concat: { readonly axis: number }
  /**
   * `x[starts:ends]` along `axes`, step 1. An end may name a dim: the runtime size of
   * that dim (bound by a graph input), e.g. `pos_embed[0:L]`, or the sliced dim's own
   * name for "to the end" (`T[:, 1:]` of a [B, L, D] tensor is [B, L-1, D]).
   */
  readonly Slice: {
    readonly starts: readonly number[]
    readonly ends: readonly Dim[]
    readonly axes: readonly number[]
    readonly steps: readonly number[]
  }
  readonly Expand: { readonly shape: Shape }
  readonly Squeeze: { readonly axes: readonly number[] }
  readonly Unsqueeze: { readonly axes: readonly number[] }
  // indexing
  readonly Gather: { readonly axis: number }
  readonly GatherElements: { readonly axis: number }
  readonly GatherND: { readonly batchDims: number }
  readonly ScatterNDAdd: None
  readonly OneHot: { readonly depth: number }
  // fused (onnxruntime's com.microsoft ops, made by compiler/passes/fusions; inference only)
  /**
   * `MHA(q, k, v, heads, bias)` of spec section 3 over q [B, S, D], k and v [B, L, D] and
   * an optional additive bias [B|1, H|1, S, L]. The ONNX node has `outputs` outputs (1:
   * onnxruntime may take its flash path; 3: present key/value are produced too, which
   * takes the plain path; 4: also the scaled scores); this IR node is output `output`:
   * 0 the attention [B, S, D], 1 / 2 the keys / values [B, H, L, dh], 3 the scores
   * `q k^T * scale + bias` [B, H, S, L].
   */
  readonly MultiHeadAttention: { readonly heads: number; readonly scale: number; readonly outputs: 1 | 3 | 4; readonly output: 0 | 1 | 2 | 3 }
  /** `LN(x + skip [+ bias])` (output 0) or the sum `x + skip [+ bias]` itself (output 3). */
  readonly SkipLayerNormalization: { readonly epsilon: number; readonly output: 0 | 3 }
  /** `GELU(x + bias)`, exact erf form. */
  readonly BiasGelu: None
  /**
   * `a @ dequantize(b) [+ bias]`: a float32 [..., K] quantized per tensor at run time, b int8
   * [K, N] with per-column scales [N] (symmetric, zero point 0), optional float32 bias [N].
   */
  readonly DynamicQuantizeMatMul: None
}

/** @since 0.1.0 */
export type OpKind = keyof OpAttrs

/** Leaves have no inputs. */
export type LeafKind = 'Input' | 'Param' | 'Constant'

/** Ops whose two inputs commute (CSE canonicalizes their order). */
export const commutative: ReadonlySet<OpKind> = new Set<OpKind>(['Add', 'Mul', 'Max', 'Min', 'Equal', 'And'])

/** Named groups that rules match against. */
export const groups = {
  binary: ['Add', 'Sub', 'Mul', 'Div', 'Max', 'Min', 'Pow', 'Equal', 'Less', 'Greater', 'And'] as const,
  unary: ['Neg', 'Exp', 'Log', 'Sqrt', 'Tanh', 'Erf', 'Abs', 'Not'] as const,
  reduce: ['ReduceSum', 'ReduceMean', 'ReduceMax'] as const,
  fused: ['MultiHeadAttention', 'SkipLayerNormalization', 'BiasGelu', 'DynamicQuantizeMatMul'] as const
}

/** Every op kind, in a fixed order (tests iterate it). */
export const allOps: readonly OpKind[] = [
  'Input', 'Param', 'Constant',
  ...groups.binary, 'Where',
  ...groups.unary, 'Cast',
  'MatMul', 'Conv',
  ...groups.reduce, 'ArgMax', 'TopK',
  'Softmax', 'LogSoftmax', 'LayerNormalization',
  'Reshape', 'Transpose', 'Concat', 'Slice', 'Expand', 'Squeeze', 'Unsqueeze',
  'Gather', 'GatherElements', 'GatherND', 'ScatterNDAdd', 'OneHot',
  ...groups.fused
]
