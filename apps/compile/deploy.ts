/**
 * The deployment graphs of a compiled model directory: the stage graphs of `graphs.ts`,
 * plus the text-independent prefix of the joint vision graph split off as two more
 * stages (`vision_prefix`: pixels -> everything the rest reads that does not depend on
 * the text, packed in one [B, P] value: the first compression block's attention
 * output, keys and image guidance, and, with the row-wise work moved before the token
 * gather (`hoist-rows.ts`), that block's MLP and the next block's QKV projection for
 * every token; `vision_joint_suffix`: that value and `text_cls` -> what `vision_joint`
 * outputs), each optimized by the default passes and, unless turned off, the fusions.
 * @since 0.1.0
 */
import * as E from 'fp-ts/lib/Either.js'
import { pipe } from 'fp-ts/lib/function.js'
import type { CmgaError } from '../../compiler/errors.js'
import { tryBuild } from '../../compiler/errors.js'
import type { Graph } from '../../compiler/ir/graph.js'
import type { Pass, PassStats } from '../../compiler/passes/pass.js'
import { defaultPasses, runPipeline } from '../../compiler/passes/pipeline.js'
import type { FusionOptions } from '../../compiler/passes/fusions/index.js'
import { fusionPasses } from '../../compiler/passes/fusions/index.js'
import { splitPrefix } from '../../compiler/passes/split-prefix.js'
import { hoistRows } from '../../compiler/passes/hoist-rows.js'
import type { CmgaConfig } from '../../models/cmga/config.js'
import { stageGraph, stages } from '../../models/cmga/graphs.js'
import type { CmgaStage } from '../../models/cmga/stages.js'
import { prefixValue } from '../../models/cmga/stages.js'

/** What to build. */
export interface DeployOptions {
  /** Run the fusion passes (default true). */
  readonly fuse?: boolean
  readonly fusion?: FusionOptions
  /** Passes run before the fusions (default: the default pipeline). */
  readonly passes?: readonly Pass[]
}

/** One optimized stage graph and the stats of the passes that built it. */
export interface DeployGraph {
  readonly stage: CmgaStage
  readonly graph: Graph
  readonly stats: Readonly<Record<string, PassStats>>
}

/** The passes a stage goes through. */
export const deployPasses = (o: DeployOptions = {}): readonly Pass[] => [...(o.passes ?? defaultPasses), ...(o.fuse === false ? [] : fusionPasses(o.fusion))]

const optimize = (stage: CmgaStage, g: Graph, passes: readonly Pass[]): DeployGraph => {
  const r = runPipeline(g, passes)
  return { stage, graph: r.graph, stats: r.stats }
}

/** The joint vision graph's prefix and suffix, unoptimized but for the row-wise work moved before the gather (none when the graph does not use the text). */
export const splitJointVision = (c: CmgaConfig): E.Either<CmgaError, readonly { stage: CmgaStage; graph: Graph }[]> =>
  pipe(
    tryBuild(() => runPipeline(stageGraph(c, 'vision_joint'), [...defaultPasses, hoistRows(['text_cls'])]).graph),
    E.chain((g) =>
      !g.inputs.some((i) => i.attrs.name === 'text_cls')
        ? E.right([])
        : pipe(
            splitPrefix(g, ['text_cls'], prefixValue),
            E.map((s) => [
              { stage: 'vision_prefix', graph: { ...s.prefix, name: 'vision_prefix' } },
              { stage: 'vision_joint_suffix', graph: { ...s.suffix, name: 'vision_joint_suffix' } }
            ])
          )
    )
  )

/** Every deployment graph, in the order `cmga compile` writes them. */
export const deployGraphs = (c: CmgaConfig, o: DeployOptions = {}): E.Either<CmgaError, readonly DeployGraph[]> => {
  const passes = deployPasses(o)
  return pipe(
    tryBuild(() => stages.map((s) => optimize(s, stageGraph(c, s), passes))),
    E.chain((main) => E.map((extra: readonly { stage: CmgaStage; graph: Graph }[]) => [...main, ...extra.map((x) => optimize(x.stage, x.graph, passes))])(splitJointVision(c)))
  )
}
