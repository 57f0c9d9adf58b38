/**
 * The lowering context: what a lowering rule may do to the ONNX graph under
 * construction. It emits ONNX nodes (memoized, so equal requests share one node) and
 * creates deduplicated initializers. Names are handed out in emission order, so the
 * same lowering sequence always gives the same names.
 * @since 0.1.0
 */
import type { DType } from '../ir/dtype.js'
import { byteSize } from '../ir/dtype.js'
import type { Shape } from '../ir/ops.js'
import type { HostTensor } from '../ir/tensor.js'
import { fromNumbers } from '../ir/tensor.js'
import { raise } from '../errors.js'

// -------------------------------------------------------------------------------------
// model
// -------------------------------------------------------------------------------------

/** One ONNX attribute value, tagged by its ONNX attribute type. */
export type AttrValue =
  | { readonly int: number }
  | { readonly float: number }
  | { readonly ints: readonly number[] }
  | { readonly floats: readonly number[] }
  | { readonly string: string }

/** The attributes of one ONNX node, by name. */
export type AttrSpec = Readonly<Record<string, AttrValue>>

/** An ONNX node as emitted: protobuf-free. */
export interface EmittedNode {
  readonly name: string
  readonly opType: string
  readonly domain: string
  readonly inputs: readonly string[]
  readonly outputs: readonly string[]
  readonly attrs: AttrSpec
}

/** An initializer as created by the context. */
export interface EmittedConstant {
  readonly name: string
  readonly value: HostTensor
}

/** A value whose shape is known, used to find named dims at run time. */
export interface ShapedValue {
  readonly value: string
  readonly shape: Shape
}

/** What a lowering rule may do. */
export interface LowerContext {
  /**
   * Emits `opType(inputs; attrs)` with `nOutputs` outputs and returns their names.
   * Memoized on (domain, opType, inputs, attrs): a repeated request returns the same names.
   */
  emit(opType: string, inputs: readonly string[], attrs?: AttrSpec, nOutputs?: number, domain?: string): readonly string[]
  /** A deduplicated int64 rank-1 initializer. */
  constInt64(values: readonly number[]): string
  /** A deduplicated rank-0 initializer. */
  constScalar(dtype: DType, value: number): string
  /** A deduplicated initializer holding `value`. */
  constTensor(value: HostTensor): string
  /**
   * An int64 [1] value holding the run-time size of the named dim: read from the first
   * of `sources` (then of the graph inputs) that has a dim of that name. Throws a
   * `BuildError` (kind 'shape') when none has.
   */
  runtimeDim(name: string, sources: readonly ShapedValue[]): string
}

/** A context plus what it has built so far. */
export interface Builder extends LowerContext {
  readonly nodes: readonly EmittedNode[]
  readonly constants: readonly EmittedConstant[]
  /** Whether a value is the output of an emitted node. */
  isNodeOutput(value: string): boolean
}

// -------------------------------------------------------------------------------------
// attribute constructors
// -------------------------------------------------------------------------------------

/** An INT attribute. */
export const int = (value: number | boolean): AttrValue => ({ int: Number(value) })
/** A FLOAT attribute. */
export const float = (value: number): AttrValue => ({ float: value })
/** An INTS attribute. */
export const ints = (values: readonly number[]): AttrValue => ({ ints: [...values] })
/** A STRING attribute. */
export const str = (value: string): AttrValue => ({ string: value })

// -------------------------------------------------------------------------------------
// the builder
// -------------------------------------------------------------------------------------

const attrKey = (attrs: AttrSpec): string =>
  JSON.stringify(Object.keys(attrs).sort().map((k) => [k, attrs[k]]))

const bytesOf = (t: HostTensor): Uint8Array => new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.length * byteSize[t.dtype])

const constantKey = (t: HostTensor): string => `${t.dtype}[${t.shape.join(',')}]${Buffer.from(bytesOf(t)).toString('base64')}`

/**
 * A fresh builder. `reserved` are names the graph already uses (inputs, parameters,
 * outputs) and are never handed out; `graphInputs` are the fallback sources of
 * run-time dims.
 */
export const createBuilder = (reserved: ReadonlySet<string>, graphInputs: readonly ShapedValue[]): Builder => {
  const nodes: EmittedNode[] = []
  const constants: EmittedConstant[] = []
  const memo = new Map<string, readonly string[]>()
  const constMemo = new Map<string, string>()
  const produced = new Set<string>()
  const counters = new Map<string, number>()

  const fresh = (prefix: string): string => {
    for (;;) {
      const k = counters.get(prefix) ?? 0
      counters.set(prefix, k + 1)
      const name = `${prefix}${k}`
      if (!reserved.has(name)) return name
    }
  }

  const emit = (opType: string, inputs: readonly string[], attrs: AttrSpec = {}, nOutputs = 1, domain = ''): readonly string[] => {
    const key = `${domain}|${opType}|${nOutputs}|${inputs.join(',')}|${attrKey(attrs)}`
    const found = memo.get(key)
    if (found !== undefined) return found
    const outputs = Array.from({ length: nOutputs }, () => fresh('t'))
    for (const o of outputs) produced.add(o)
    nodes.push({ name: `${opType}_${nodes.length}`, opType, domain, inputs: [...inputs], outputs, attrs })
    memo.set(key, outputs)
    return outputs
  }

  const constTensor = (value: HostTensor): string => {
    const key = constantKey(value)
    const found = constMemo.get(key)
    if (found !== undefined) return found
    const name = fresh('c')
    constants.push({ name, value })
    constMemo.set(key, name)
    return name
  }

  const runtimeDim = (name: string, sources: readonly ShapedValue[]): string => {
    for (const s of [...sources, ...graphInputs]) {
      const j = s.shape.indexOf(name)
      if (j >= 0) return emit('Shape', [s.value], { start: int(j), end: int(j + 1) })[0]
    }
    return raise('shape', `named dim '${name}' is not a dim of any input, so its size is unknown at run time`)
  }

  return {
    nodes,
    constants,
    isNodeOutput: (value) => produced.has(value),
    emit,
    constTensor,
    constInt64: (values) => constTensor(fromNumbers('int64', [values.length], values)),
    constScalar: (dtype, value) => constTensor(fromNumbers(dtype, [], [value])),
    runtimeDim
  }
}
