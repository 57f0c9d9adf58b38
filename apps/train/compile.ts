/**
 * Compiling a training graph for onnxruntime: the default pass pipeline, optionally
 * float64 promotion (then the pipeline again), then ONNX bytes with every parameter as
 * a graph input (parameters change every step, so none is an initializer).
 * @since 0.1.0
 */
import * as E from 'fp-ts/lib/Either.js'
import { pipe } from 'fp-ts/lib/function.js'
import type { CmgaError } from '../../compiler/errors.js'
import { tryBuild } from '../../compiler/errors.js'
import type { Graph } from '../../compiler/ir/graph.js'
import { emitModel } from '../../compiler/emit/model.js'
import { defaultPasses, runPipeline } from '../../compiler/passes/pipeline.js'
import { runPromoteFloat64 } from '../../compiler/passes/promote-float64.js'

/** Arithmetic of the compiled graph: float32 as written, or float64 inside (see `promoteFloat64`). */
export type Precision = 'float32' | 'float64'

/** A compiled training graph: the optimized IR and its ONNX bytes. */
export interface CompiledTraining {
  readonly graph: Graph
  readonly model: Uint8Array
  /** Milliseconds spent in passes and in emitting. */
  readonly ms: { readonly passes: number; readonly emit: number }
}

/** Optimizes (and for float64 promotes) a graph and emits it with parameters as inputs. */
export const compileTraining = (g: Graph, precision: Precision = 'float32'): E.Either<CmgaError, CompiledTraining> => {
  const t0 = performance.now()
  return pipe(
    tryBuild(() => {
      const optimized = runPipeline(g, defaultPasses).graph
      return precision === 'float64' ? runPipeline(runPromoteFloat64(optimized).graph, defaultPasses).graph : optimized
    }),
    E.bindTo('graph'),
    E.bind('t1', () => E.right(performance.now())),
    E.bind('emitted', ({ graph }) => emitModel(graph, { docString: `cmga training graph (${precision})` })),
    E.map(({ graph, t1, emitted }) => ({ graph, model: emitted.model, ms: { passes: t1 - t0, emit: performance.now() - t1 } }))
  )
}
