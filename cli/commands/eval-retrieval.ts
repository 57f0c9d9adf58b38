/**
 * `cmga eval retrieval`: R@1/5/10 on an annotation file, stage 1 and re-ranked.
 * @since 0.1.0
 */
import * as E from 'fp-ts/lib/Either.js'
import * as TE from 'fp-ts/lib/TaskEither.js'
import { pipe } from 'fp-ts/lib/function.js'
import type { CmgaError } from '../../compiler/errors.js'
import { cmgaError } from '../../compiler/errors.js'
import type { EvalReport } from '../../apps/retrieval/evaluate.js'
import { readAnnotations } from '../../apps/retrieval/annotations.js'
import { evaluateRetrieval } from '../../apps/retrieval/evaluate.js'
import type { Gallery } from '../../apps/retrieval/gallery.js'
import { openIndex } from '../../apps/retrieval/gallery.js'
import type { Command, Values } from '../command.js'
import { integer, outputFlag, required } from '../command.js'
import { rerankGuidanceFlag, rerankGuidanceFlagDef, rerankGuidanceHelp, stage1Flag, stage1FlagDef, stage1Help } from '../rerank-flags.js'
import { runEvaluation } from '../evaluation.js'
import { jsonOutHelp, numberFlag, numberListFlag, onErrorFlag, runtimeFlags, runtimeHelp, writeResult } from '../runtime-flags.js'

const help = `Usage: cmga eval retrieval --model DIR --annotations FILE --images ROOT [flags]

Text retrieval (image -> texts) and image retrieval (text -> images) recall at 1, 5 and
10 and their means, as ALBEF reports them (txt_r1 ... img_r10, txt_r_mean, img_r_mean,
r_mean, in percent): for stage 1 (global + local score) and after re-ranking the top
--k of stage 1 with the ITM head by each rule: rerank_itm (the ITM match probability
alone, ALBEF's rule) and rerank_combined (stage 1 + --itm-weight x ITM log-odds; safer
when the ITM head is weakly trained). Prints JSON (or writes it to --out). Progress goes
to stderr (a bar on a terminal, else a line every 5 s).

Annotation files: ALBEF's retrieval format (a list of {"image": PATH, "caption":
[...]}, e.g. coco_test.json) or Karpathy's dataset_*.json ({"images": [{"filepath",
"filename", "split", "sentences": [{"raw"}]}]}), whose images of --split are used.
Image paths are relative to --images. Captions are cleaned as ALBEF does (pre_caption,
30 words) unless --raw-captions.

  --annotations FILE   the annotation file
  --images ROOT        the folder image paths are relative to
  --split NAME         Karpathy split to evaluate (default test)
  --candidates N       stage-1 candidates per query (default 128; when it covers
                       every image and text, stage 1 scores the full matrix)
  --k N                candidates re-ranked with ITM per query (default 16; 0: stage 1
                       only, no re-ranking, for a model without a trained ITM head;
                       as in cmga retrieve)
${stage1Help}
  --itm-weight W       weight of the ITM log-odds in the combined rule (default 0.1)
  --itm-weight-sweep LIST
                       also score the combined rule at each of these weights
                       (comma-separated, e.g. 0.003,0.01,0.03,0.1) from the same ITM
                       verdicts: rerank_combined_sweep; choose W on a validation set
  --confusions         on shapes-world captions (cmga data shapes): for each text ->
                       image query with its image in the top --k, the other candidates
                       there by how their caption differs (same meaning, relation
                       reversed, relation on the other axis, other objects) and the
                       percent that outscore the true image by stage 1 and by ITM
${rerankGuidanceHelp}
  --on-error MODE      a missing or unreadable image: fail (default) or skip (left
                       out with its captions, listed under "skipped")
  --raw-captions       tokenize captions as they are
  --index INDEX        read the image features from this index (cmga index of the
                       same images with the same model, either store, or a Lance
                       URI) by image name instead of encoding them; stage 1 then
                       scores them in memory, exactly
${jsonOutHelp}
${runtimeHelp()}
  -h, --help           this text`

const run = async (values: Values, log: (line: string) => void): Promise<E.Either<CmgaError, void>> => {
  const cmd = 'eval retrieval'
  const args = pipe(
    E.Do,
    E.chainFirst(() => outputFlag(cmd, values, 'out', 'file')),
    E.bind('root', () => required(cmd, values, 'images')),
    E.bind('file', () => required(cmd, values, 'annotations')),
    E.bind('candidates', () => integer(cmd, values, 'candidates', 128, 1)),
    E.bind('k', () => integer(cmd, values, 'k', 16, 0)),
    E.bind('itmWeight', () => numberFlag(cmd, values, 'itm-weight', 0.1)),
    E.bind('itmWeightSweep', () => numberListFlag(cmd, values, 'itm-weight-sweep')),
    E.bind('rerankGuidance', () => rerankGuidanceFlag(cmd, values)),
    E.bind('stage1', () => stage1Flag(cmd, values)),
    E.bind('onError', () => onErrorFlag(cmd, values, 'fail')),
    E.bind('annotations', ({ file }) => readAnnotations(file, typeof values.split === 'string' ? values.split : 'test'))
  )
  if (E.isLeft(args)) return args
  const a = args.right
  const indexed = (runtime: Parameters<typeof openIndex>[1]): TE.TaskEither<CmgaError, Gallery | null> =>
    typeof values.index !== 'string'
      ? TE.right(null)
      : TE.chain((g: Gallery) => (g.images === null ? TE.left(cmgaError('input', `index ${g.path} holds no images`)) : TE.right<CmgaError, Gallery | null>(g)))(openIndex(values.index, runtime))
  return runEvaluation(
    cmd,
    values,
    log,
    (runtime, onProgress) =>
      pipe(
        indexed(runtime),
        TE.chain((g) => TE.map((r: EvalReport) => (void g?.close(), r))(TE.mapLeft((e: CmgaError) => (void g?.close(), e))(evaluateRetrieval(runtime, a.annotations, {
          ...(g?.images == null ? {} : { index: g.images }),
          root: a.root,
          candidates: a.candidates,
          k: Math.min(a.k, a.candidates),
          itmWeight: a.itmWeight,
          ...(a.itmWeightSweep === undefined ? {} : { itmWeightSweep: a.itmWeightSweep }),
          confusions: values.confusions === true,
          rerankGuidance: a.rerankGuidance,
          stage1: a.stage1,
          onError: a.onError,
          cleanCaptions: values['raw-captions'] !== true,
          onProgress
        }))))
      ),
    (runtime, r) => {
      for (const s of r.skipped) log(`skipped ${s.path}: ${s.reason}`)
      return writeResult(values, { model: runtime.identity, annotations: a.file, format: a.annotations.format, split: a.annotations.format === 'karpathy' ? (values.split ?? 'test') : null, ...r }, log)
    }
  )
}

/** @since 0.1.0 */
export const evalRetrievalCommand: Command = {
  name: 'eval retrieval',
  summary: 'R@1/5/10 of text and image retrieval on ALBEF or Karpathy annotations',
  help,
  flags: {
    ...runtimeFlags,
    annotations: { type: 'string' },
    images: { type: 'string' },
    split: { type: 'string' },
    candidates: { type: 'string' },
    k: { type: 'string' },
    ...stage1FlagDef,
    'itm-weight': { type: 'string' },
    'itm-weight-sweep': { type: 'string' },
    confusions: { type: 'boolean' },
    ...rerankGuidanceFlagDef,
    'on-error': { type: 'string' },
    'raw-captions': { type: 'boolean' },
    index: { type: 'string' },
    out: { type: 'string' },
    force: { type: 'boolean' }
  },
  run
}
