/**
 * Conversions from emitted (protobuf-free) values to `onnx-proto` message objects:
 * attributes, nodes, value infos and tensors with little-endian raw data. The only
 * module besides `model.ts` that knows the protobuf shapes.
 * @since 0.1.0
 */
import pkg from 'onnx-proto'
import type { onnx as proto } from 'onnx-proto'
import { byteSize, hostIsLittleEndian, onnxDataType } from '../ir/dtype.js'
import type { TensorType } from '../ir/node.js'
import type { HostTensor } from '../ir/tensor.js'
import type { AttrValue, EmittedNode } from './context.js'

const { onnx } = pkg

/** The `onnx-proto` namespace (a CJS module, re-exported for typed use). */
export { onnx }

// -------------------------------------------------------------------------------------
// attributes and nodes
// -------------------------------------------------------------------------------------

const AttrType = onnx.AttributeProto.AttributeType

const attribute = (name: string, v: AttrValue): proto.IAttributeProto => {
  if ('int' in v) return { name, type: AttrType.INT, i: v.int }
  if ('float' in v) return { name, type: AttrType.FLOAT, f: v.float }
  if ('ints' in v) return { name, type: AttrType.INTS, ints: [...v.ints] }
  if ('floats' in v) return { name, type: AttrType.FLOATS, floats: [...v.floats] }
  return { name, type: AttrType.STRING, s: new TextEncoder().encode(v.string) }
}

/** A NodeProto, with value names passed through `rename`; attributes sorted by name. */
export const nodeProto = (n: EmittedNode, rename: (value: string) => string): proto.INodeProto => ({
  name: n.name,
  opType: n.opType,
  domain: n.domain,
  input: n.inputs.map(rename),
  output: n.outputs.map(rename),
  attribute: Object.keys(n.attrs)
    .sort()
    .map((k) => attribute(k, n.attrs[k]))
})

// -------------------------------------------------------------------------------------
// types
// -------------------------------------------------------------------------------------

/** A ValueInfoProto: named dims become `dim_param`, numbers `dim_value`. */
export const valueInfo = (name: string, t: TensorType): proto.IValueInfoProto => ({
  name,
  type: {
    tensorType: {
      elemType: onnxDataType[t.dtype],
      shape: { dim: t.shape.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) }
    }
  }
})

// -------------------------------------------------------------------------------------
// tensors
// -------------------------------------------------------------------------------------


/** The little-endian bytes of a tensor's elements (a view when the host is little-endian). */
export const rawBytes = (t: HostTensor): Uint8Array => {
  const size = byteSize[t.dtype]
  const view = new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.length * size)
  if (hostIsLittleEndian || size === 1) return view
  const out = new Uint8Array(view.length)
  for (let i = 0; i < view.length; i += size) for (let j = 0; j < size; j++) out[i + j] = view[i + size - 1 - j]
  return out
}

/** Where an external tensor's bytes are. */
export interface ExternalLocation {
  readonly location: string
  readonly offset: number
  readonly length: number
}

/** The TensorProto fields that point its data into an external file. */
export const externalFields = (at: ExternalLocation): Pick<proto.ITensorProto, 'dataLocation' | 'externalData'> => ({
  dataLocation: onnx.TensorProto.DataLocation.EXTERNAL,
  externalData: [
    { key: 'location', value: at.location },
    { key: 'offset', value: String(at.offset) },
    { key: 'length', value: String(at.length) }
  ]
})

/** A TensorProto with raw data inline, or pointing into an external file. */
export const tensorProto = (name: string, t: HostTensor, external?: ExternalLocation): proto.ITensorProto => {
  const base = { name, dims: [...t.shape], dataType: onnxDataType[t.dtype] }
  return external === undefined ? { ...base, rawData: rawBytes(t) } : { ...base, ...externalFields(external) }
}
