/**
 * Serialization of a graph to ONNX ModelProto bytes (IR version 8, opset 17). Names
 * are handed out in topological order, so the same graph always gives the same bytes.
 * Parameters with weights become initializers, those without become graph inputs
 * (sorted by name, after the declared inputs). Large models keep their initializers in
 * an external data buffer at 4096-aligned offsets.
 * @since 0.1.0
 */
import { dirname, join } from 'node:path'
import * as E from 'fp-ts/lib/Either.js'
import { pipe } from 'fp-ts/lib/function.js'
import { writeFileAtomic } from '../atomic.js'
import type { CmgaError } from '../errors.js'
import { fail, tryBuild } from '../errors.js'
import type { Graph } from '../ir/graph.js'
import { paramsOf, topo } from '../ir/graph.js'
import type { Node } from '../ir/node.js'
import { showType } from '../ir/node.js'
import type { HostTensor } from '../ir/tensor.js'
import { sizeOf } from '../ir/tensor.js'
import { verify } from '../ir/verify.js'
import { compilerVersion } from '../version.js'
import type { Builder, EmittedNode } from './context.js'
import { createBuilder } from './context.js'
import { lowerNode } from './lower.js'
import type { ExternalLocation } from './proto.js'
import type { SharedData } from './shared-data.js'
import { layoutSharedData } from './shared-data.js'
import { byteSize, onnxDataType } from '../ir/dtype.js'
import { externalFields, nodeProto, onnx, rawBytes, tensorProto, valueInfo } from './proto.js'

// -------------------------------------------------------------------------------------
// model
// -------------------------------------------------------------------------------------

/** Options of `emitModel` and `writeModel`. */
export interface EmitOptions {
  /** Parameter values by name; parameters without one become graph inputs. */
  readonly weights?: ReadonlyMap<string, HostTensor>
  readonly docString?: string
  /**
   * Keep initializers over 1 KB in an external file (named relative to the model) when
   * all initializers together exceed `thresholdBytes` (default 2 GB).
   */
  readonly externalData?: { readonly fileName: string; readonly thresholdBytes?: number }
  /**
   * Weights already written to a shared external file (`layoutSharedData`): those this
   * model uses point there; the rest are handled as without it.
   */
  readonly sharedData?: SharedData
}

/** The model bytes, and the external data bytes when initializers were moved out. */
export interface EmittedModel {
  readonly model: Uint8Array
  readonly external?: Uint8Array
}

/** Initializers go to the external file when together they exceed this (protobuf's 2 GB limit). */
const DEFAULT_THRESHOLD = 2 ** 31

// -------------------------------------------------------------------------------------
// checks
// -------------------------------------------------------------------------------------

const byName = <N extends Node<'Param'>>(a: N, b: N): number => (a.attrs.name < b.attrs.name ? -1 : a.attrs.name > b.attrs.name ? 1 : 0)

/** Output names must not be input or parameter names (ONNX values are assigned once). */
const checkOutputNames = (g: Graph): E.Either<CmgaError, Graph> => {
  const taken = new Set([...g.inputs.map((i) => i.attrs.name), ...paramsOf(g).map((p) => p.attrs.name)])
  const bad = g.outputs.filter((o) => o.name === '' || taken.has(o.name)).map((o) => `"${o.name}"`)
  return bad.length === 0 ? E.right(g) : fail('verify', `graph ${g.name}: output names ${bad.join(', ')} are empty or name an input or parameter`)
}

/** Every weight given for a parameter of the graph has the parameter's dtype and shape. */
const checkWeights = (g: Graph, weights: ReadonlyMap<string, HostTensor>): E.Either<CmgaError, Graph> => {
  for (const p of paramsOf(g)) {
    const w = weights.get(p.attrs.name)
    if (w === undefined) continue
    const same = w.dtype === p.dtype && w.shape.length === p.shape.length && w.shape.every((d, i) => d === p.shape[i])
    if (!same) return fail('weights', `parameter "${p.attrs.name}" is ${showType(p)} but its weight is ${showType(w)}`)
    if (w.data.length !== sizeOf(w.shape)) return fail('weights', `parameter "${p.attrs.name}": ${w.data.length} values for ${showType(w)}`)
  }
  return E.right(g)
}

// -------------------------------------------------------------------------------------
// lowering
// -------------------------------------------------------------------------------------

interface Lowered {
  readonly builder: Builder
  readonly values: ReadonlyMap<Node, string>
  /** Identity nodes that give outputs sharing a value (or naming a leaf) their own name. */
  readonly identities: readonly EmittedNode[]
  readonly rename: (value: string) => string
}

const lowerGraph = (g: Graph): Lowered => {
  const reserved = new Set([...g.inputs.map((i) => i.attrs.name), ...paramsOf(g).map((p) => p.attrs.name), ...g.outputs.map((o) => o.name)])
  const builder = createBuilder(reserved, g.inputs.map((i) => ({ value: i.attrs.name, shape: i.shape })))
  const values = new Map<Node, string>()
  for (const n of topo(g)) values.set(n, lowerNode(builder, n, n.inputs.map((m) => values.get(m) as string)))
  const renames = new Map<string, string>()
  const identities: EmittedNode[] = []
  for (const o of g.outputs) {
    const v = values.get(o.node) as string
    if (builder.isNodeOutput(v) && !renames.has(v)) renames.set(v, o.name)
    else identities.push({ name: `Identity_${builder.nodes.length + identities.length}`, opType: 'Identity', domain: '', inputs: [v], outputs: [o.name], attrs: {} })
  }
  return { builder, values, identities, rename: (v) => renames.get(v) ?? v }
}

// -------------------------------------------------------------------------------------
// initializers
// -------------------------------------------------------------------------------------

interface Initializer {
  readonly name: string
  readonly value: HostTensor
}

/** A parameter's static byte size (NaN with a named dim). */
const paramBytes = (p: Node<'Param'>): number => p.shape.reduce<number>((a, d) => a * (typeof d === 'number' ? d : NaN), byteSize[p.dtype])

/** Whether a parameter lives in the shared data file (placed under its name, with its byte size). */
const inSharedData = (opts: EmitOptions, p: Node<'Param'>): boolean => opts.sharedData?.placement.get(p.attrs.name)?.length === paramBytes(p)

/** A TensorProto pointing into external data, typed from the parameter (no value needed). */
const externalProto = (p: Node<'Param'>, at: ExternalLocation): ReturnType<typeof tensorProto> => ({
  name: p.attrs.name,
  dims: p.shape as number[],
  dataType: onnxDataType[p.dtype],
  ...externalFields(at)
})

/** Initializer protos, moving large ones into one external buffer when asked to. */
const initializers = (
  inits: readonly Initializer[],
  external: EmitOptions['externalData']
): E.Either<CmgaError, { protos: ReturnType<typeof tensorProto>[]; external?: Uint8Array }> => {
  const sizes = inits.map((i) => rawBytes(i.value).byteLength)
  const total = sizes.reduce((a, b) => a + b, 0)
  const threshold = external?.thresholdBytes ?? DEFAULT_THRESHOLD
  if (total <= threshold) return E.right({ protos: inits.map((i) => tensorProto(i.name, i.value)) })
  if (external === undefined) return fail('format', `initializers total ${total} bytes, over the 2 GB protobuf limit: pass externalData`)
  // the same layout as a shared data file (initializer names are unique)
  const { placement } = layoutSharedData(external.fileName, inits.map((i, k) => [i.name, sizes[k]] as const))
  const end = Math.max(0, ...[...placement.values()].map((p) => p.offset + p.length))
  const buffer = new Uint8Array(end)
  for (const i of inits) {
    const at = placement.get(i.name)
    if (at !== undefined) buffer.set(rawBytes(i.value), at.offset)
  }
  const protos = inits.map((i) => tensorProto(i.name, i.value, placement.get(i.name)))
  return E.right(end === 0 ? { protos } : { protos, external: buffer })
}

// -------------------------------------------------------------------------------------
// emitting
// -------------------------------------------------------------------------------------

const build = (g: Graph, opts: EmitOptions, low: Lowered): E.Either<CmgaError, EmittedModel> => {
  const weights = opts.weights ?? new Map<string, HostTensor>()
  const params = [...paramsOf(g)].sort(byName)
  const shared = params.filter((p) => inSharedData(opts, p))
  const free = params.filter((p) => !weights.has(p.attrs.name) && !inSharedData(opts, p))
  const inits: Initializer[] = [
    ...params.filter((p) => weights.has(p.attrs.name) && !inSharedData(opts, p)).map((p) => ({ name: p.attrs.name, value: weights.get(p.attrs.name) as HostTensor })),
    ...low.builder.constants
  ]
  const sharedProtos = shared.map((p) => externalProto(p, opts.sharedData?.placement.get(p.attrs.name) as ExternalLocation))
  const nodes = [...low.builder.nodes, ...low.identities]
  const inputs = [...g.inputs, ...free].map((n) => valueInfo(n.attrs.name, n))
  const outputs = g.outputs.map((o) => valueInfo(o.name, o.node))
  const named = new Set<string>([...inputs, ...outputs].map((v) => v.name as string).concat(inits.map((i) => i.name), shared.map((p) => p.attrs.name)))
  const infos: ReturnType<typeof valueInfo>[] = []
  for (const [n, v] of low.values) {
    const name = low.rename(v)
    if (named.has(name)) continue
    named.add(name)
    infos.push(valueInfo(name, n))
  }
  const domains = [...new Set(nodes.map((n) => n.domain).filter((d) => d !== ''))].sort()
  return pipe(
    initializers(inits, opts.externalData),
    E.map(({ protos: own, external }) => {
      const protos = [...sharedProtos, ...own]
      const model = onnx.ModelProto.encode({
        irVersion: 8,
        opsetImport: [{ domain: '', version: 17 }, ...domains.map((domain) => ({ domain, version: 1 }))],
        producerName: 'cmga',
        producerVersion: compilerVersion(),
        docString: opts.docString ?? '',
        graph: {
          name: g.name,
          node: nodes.map((n) => nodeProto(n, low.rename)),
          input: inputs,
          output: outputs,
          initializer: protos,
          valueInfo: infos
        }
      }).finish()
      return external === undefined ? { model } : { model, external }
    })
  )
}

/**
 * Serializes a graph to ONNX ModelProto bytes. Verifies the graph first (its `Left` is
 * returned as is); a weight whose dtype or shape differs from its parameter is a
 * `Left` of kind 'weights' naming the parameter.
 */
export const emitModel = (g: Graph, opts: EmitOptions = {}): E.Either<CmgaError, EmittedModel> =>
  pipe(
    verify(g),
    E.chain(checkOutputNames),
    E.chain((h) => checkWeights(h, opts.weights ?? new Map())),
    E.chain((h) => tryBuild(() => lowerGraph(h))),
    E.chain((low) => build(g, opts, low))
  )

// -------------------------------------------------------------------------------------
// files
// -------------------------------------------------------------------------------------

/**
 * Emits a model and writes it to `path` atomically; the external data file, if any,
 * goes next to it under `opts.externalData.fileName` (written first).
 */
export const writeModel = (path: string, g: Graph, opts: EmitOptions = {}): E.Either<CmgaError, void> =>
  pipe(
    emitModel(g, opts),
    E.chain(({ model, external }) =>
      pipe(
        external === undefined || opts.externalData === undefined ? E.right(undefined) : writeFileAtomic(join(dirname(path), opts.externalData.fileName), external),
        E.chain(() => writeFileAtomic(path, model))
      )
    )
  )
