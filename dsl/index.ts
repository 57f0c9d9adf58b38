/**
 * The CMGA graph DSL: model code is plain functions from parameters and inputs to
 * outputs, over typed tensors.
 * @since 0.1.0
 */
export * from './tensor.js'
export * from './math.js'
export * from './shape.js'
export { graph } from '../compiler/ir/graph.js'
export type { Graph, Output } from '../compiler/ir/graph.js'
