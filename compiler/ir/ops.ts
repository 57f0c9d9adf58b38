/**
 * The op set. Op kinds are ONNX op names (plus `Input`, `Param`, `Constant` leaves, and
 * `StopGradient`: the identity, through which no gradient flows; ONNX `Identity` has none);
 * `OpAttrs` maps each kind to its typed attributes. Every per-op table of the compiler
 * (`infer`, `evaluate`, `lower`, `vjp`) is a `{ [K in OpKind]: ... }`, and `opInfo` is the
 * one record of what else is known per op (group, commutativity, float32-only) from
 * which every op list derives, so adding an op here without an entry in each table is a
 * type error.
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
  /** The identity in value; the vector-Jacobian product stops here (a training choice, e.g. a loss that must not train what feeds it). */
  readonly StopGradient: None
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

/** The groups op kinds fall in (rules match against them; per-op tables are split by them). */
export const opGroups = ['leaf', 'binary', 'ternary', 'unary', 'contraction', 'reduce', 'normalization', 'movement', 'indexing', 'fused'] as const

/** @since 0.1.0 */
export type OpGroup = (typeof opGroups)[number]

/** What the compiler knows about an op kind beyond its attributes. */
export interface OpInfo {
  readonly group: OpGroup
  /** Its two inputs commute (CSE orders them; rule patterns try both orders). */
  readonly commutative?: true
  /** onnxruntime's CPU provider has no float64 kernel: float64 promotion keeps it float32 between casts. */
  readonly float32Only?: true
}

/**
 * The op record: one entry per op kind (a missing or extra kind is a type error), in the
 * order tests iterate. Every per-op list below derives from it.
 */
export const opInfo = {
  Input: { group: 'leaf' },
  Param: { group: 'leaf' },
  Constant: { group: 'leaf' },
  Add: { group: 'binary', commutative: true },
  Sub: { group: 'binary' },
  Mul: { group: 'binary', commutative: true },
  Div: { group: 'binary' },
  Max: { group: 'binary', commutative: true },
  Min: { group: 'binary', commutative: true },
  Pow: { group: 'binary' },
  Equal: { group: 'binary', commutative: true },
  Less: { group: 'binary' },
  Greater: { group: 'binary' },
  And: { group: 'binary', commutative: true },
  Where: { group: 'ternary' },
  Neg: { group: 'unary' },
  Exp: { group: 'unary' },
  Log: { group: 'unary' },
  Sqrt: { group: 'unary' },
  Tanh: { group: 'unary' },
  Erf: { group: 'unary', float32Only: true },
  Abs: { group: 'unary' },
  Not: { group: 'unary' },
  Cast: { group: 'unary' },
  StopGradient: { group: 'unary' },
  MatMul: { group: 'contraction' },
  Conv: { group: 'contraction', float32Only: true },
  ReduceSum: { group: 'reduce' },
  ReduceMean: { group: 'reduce' },
  ReduceMax: { group: 'reduce' },
  ArgMax: { group: 'reduce' },
  TopK: { group: 'reduce' },
  Softmax: { group: 'normalization' },
  LogSoftmax: { group: 'normalization' },
  LayerNormalization: { group: 'normalization' },
  Reshape: { group: 'movement' },
  Transpose: { group: 'movement' },
  Concat: { group: 'movement' },
  Slice: { group: 'movement' },
  Expand: { group: 'movement' },
  Squeeze: { group: 'movement' },
  Unsqueeze: { group: 'movement' },
  Gather: { group: 'indexing' },
  GatherElements: { group: 'indexing' },
  GatherND: { group: 'indexing' },
  ScatterNDAdd: { group: 'indexing' },
  OneHot: { group: 'indexing', float32Only: true },
  MultiHeadAttention: { group: 'fused', float32Only: true },
  SkipLayerNormalization: { group: 'fused', float32Only: true },
  BiasGelu: { group: 'fused', float32Only: true },
  DynamicQuantizeMatMul: { group: 'fused', float32Only: true }
} as const satisfies { readonly [K in OpKind]: OpInfo }

// -------------------------------------------------------------------------------------
// derived lists
// -------------------------------------------------------------------------------------

/** The op kinds of a group, as a type: `KindsIn<'fused'>`. */
export type KindsIn<G extends OpGroup> = { [K in OpKind]: (typeof opInfo)[K]['group'] extends G ? K : never }[OpKind]

/** Leaves have no inputs. */
export type LeafKind = KindsIn<'leaf'>

/** Every op kind, in the record's order (tests iterate it). */
export const allOps: readonly OpKind[] = Object.keys(opInfo) as OpKind[]

const inGroup = <G extends OpGroup>(g: G): readonly KindsIn<G>[] => allOps.filter((k): k is KindsIn<G> => opInfo[k].group === g)

/** The op kinds of each group, in the record's order. */
export const groups = Object.fromEntries(opGroups.map((g) => [g, inGroup(g)])) as { readonly [G in OpGroup]: readonly KindsIn<G>[] }

/** Ops whose two inputs commute. */
export const commutative: ReadonlySet<OpKind> = new Set(allOps.filter((k) => 'commutative' in opInfo[k]))

/** Ops computed in float32 between casts by float64 promotion (no float64 CPU kernel). */
export const float32Only: ReadonlySet<OpKind> = new Set(allOps.filter((k) => 'float32Only' in opInfo[k]))
