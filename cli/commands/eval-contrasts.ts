/**
 * `cmga eval contrasts`: which mistakes a model avoids on shapes-world images.
 * @since 0.1.0
 */
import * as E from 'fp-ts/lib/Either.js'
import { pipe } from 'fp-ts/lib/function.js'
import type { CmgaError } from '../../compiler/errors.js'
import { cmgaError } from '../../compiler/errors.js'
import { readAnnotations } from '../../apps/retrieval/annotations.js'
import type { ContrastReport } from '../../apps/retrieval/contrasts.js'
import { evaluateContrasts } from '../../apps/retrieval/contrasts.js'
import type { Command, Values } from '../command.js'
import { outputFlag, required } from '../command.js'
import { rerankGuidanceFlag, rerankGuidanceFlagDef, rerankGuidanceHelp, stage1Flag, stage1FlagDef, stage1Help } from '../rerank-flags.js'
import { runEvaluation } from '../evaluation.js'
import { jsonOutHelp, runtimeFlags, runtimeHelp, writeResult } from '../runtime-flags.js'

const help = `Usage: cmga eval contrasts --model DIR --annotations FILE --images ROOT [flags]

Which mistakes the model avoids, on shapes-world images (cmga data shapes): each image is
scored against its first caption and three contrasts of it, each with one thing made
false: the relation turned around ("left of" for "right of", or "above" for "below"), the
two colours swapped, the first shape changed. For each kind it reports the pairs and the
percent where the true caption scores higher, by stage 1 (global + local score) and by
the ITM head's log-odds (50 is chance). Re-ranking with the ITM head can only gain where
it tells apart what stage 1 does not. Images whose caption is not a shapes-world one are
left out (counted). Prints JSON (or writes it to --out).

  --annotations FILE   the annotation file (ALBEF's format, as cmga data shapes writes)
  --images ROOT        the folder image paths are relative to
${stage1Help}
${rerankGuidanceHelp}
${jsonOutHelp}
${runtimeHelp()}
  -h, --help           this text`

const run = async (values: Values, log: (line: string) => void): Promise<E.Either<CmgaError, void>> => {
  const cmd = 'eval contrasts'
  const args = pipe(
    E.Do,
    E.chainFirst(() => outputFlag(cmd, values, 'out', 'file')),
    E.bind('root', () => required(cmd, values, 'images')),
    E.bind('file', () => required(cmd, values, 'annotations')),
    E.bind('guidance', () => rerankGuidanceFlag(cmd, values)),
    E.bind('stage1', () => stage1Flag(cmd, values)),
    E.bind('annotations', ({ file }) => readAnnotations(file, 'test'))
  )
  if (E.isLeft(args)) return args
  const a = args.right
  return runEvaluation(
    cmd,
    values,
    log,
    (runtime, onProgress) => evaluateContrasts(runtime, a.annotations, { root: a.root, guidance: a.guidance, stage1: a.stage1, onProgress }),
    (runtime, r: ContrastReport) =>
      r.images === 0
        ? E.left(cmgaError('input', `${a.file}: no image has a shapes-world caption ("a red circle left of a blue square"), so there is nothing to contrast`))
        : writeResult(values, { model: runtime.identity, annotations: a.file, ...r }, log)
  )
}

/** @since 0.1.0 */
export const evalContrastsCommand: Command = {
  name: 'eval contrasts',
  summary: 'which mistakes a model avoids on shapes-world images (relation, colours, shape)',
  help,
  flags: {
    ...runtimeFlags,
    annotations: { type: 'string' },
    images: { type: 'string' },
    ...stage1FlagDef,
    ...rerankGuidanceFlagDef,
    out: { type: 'string' },
    force: { type: 'boolean' }
  },
  run
}
