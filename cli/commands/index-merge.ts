/**
 * `cmga index merge`: joins the parts of a gallery indexed on several machines
 * (`cmga index --shard I/N`) into one Lance dataset; with one part, converts an index
 * to a Lance dataset.
 * @since 0.2.0
 */
import * as E from 'fp-ts/lib/Either.js'
import * as TE from 'fp-ts/lib/TaskEither.js'
import { pipe } from 'fp-ts/lib/function.js'
import type { CmgaError } from '../../compiler/errors.js'
import { fail } from '../../compiler/errors.js'
import { mergeIndexes } from '../../apps/retrieval/merge.js'
import { isUri } from '../../apps/retrieval/store/lance.js'
import type { Command, Values } from '../command.js'
import { checkOutput, repeated, required } from '../command.js'
import { progressReporter } from '../progress.js'
import { annFlagDefs, annFlags } from './index-gallery.js'

const help = `Usage: cmga index merge --part PART [--part PART ...] --out DATASET [flags]

Joins the parts of a gallery indexed on several machines (cmga index --shard I/N on
each, either store) into one Lance dataset DATASET, rows in the order one machine
would have indexed the images (their sorted names), so retrieval from it equals
retrieval from a one-machine index. The parts must come from the same model, share no
image, and be every part of one split (1/N ... N/N); texts come from the part that
holds them (part 1). With one part that is a whole index, converts it (a safetensors
index, say) to a Lance dataset.

DATASET is a local folder (written as DATASET.partial and renamed when complete) or an
object-store URI LanceDB accepts (s3://bucket/path, gs://..., az://...; credentials
from the environment as LanceDB reads them; only local folders are tested here).

  --part PART          an index folder or a Lance URI; give once per part
  --out DATASET        the dataset to write (must not exist unless --force)
  --force              replace an existing DATASET
  --root FOLDER        the folder the images' names are relative to, when the parts
                       were indexed under different folders (for re-ranking)
  --ann                build an IVF-PQ index over the global features
  --ann-partitions N   IVF partitions (default: about sqrt(images))
  --ann-sub-vectors N  PQ sub-vectors, dividing the embed dim (default: dim / 8)
  -h, --help           this text`

const run = async (values: Values, log: (line: string) => void): Promise<E.Either<CmgaError, void>> => {
  const cmd = 'index merge'
  const args = pipe(
    E.Do,
    E.bind('parts', () => repeated(cmd, values, 'part')),
    E.bind('out', () => required(cmd, values, 'out')),
    E.chainFirst(({ out }) => (isUri(out) ? E.right(out) : checkOutput('out', out, 'directory', values.force === true))),
    E.bind('ann', () => annFlags(cmd, values)),
    E.chainFirst(() => (values.root === '' ? fail('usage', `cmga ${cmd}: --root must not be empty`) : E.right(undefined)))
  )
  if (E.isLeft(args)) return args
  const bar = progressReporter(cmd, log)
  const a = args.right
  return pipe(
    mergeIndexes({
      parts: a.parts,
      out: a.out,
      ...(typeof values.root === 'string' ? { root: values.root } : {}),
      ...(a.ann === undefined ? {} : { ann: a.ann }),
      force: values.force === true,
      onProgress: (done, total) => bar.update('images', done, total)
    }),
    TE.map((m) => {
      bar.stop()
      log(`merged ${m.parts} part${m.parts === 1 ? '' : 's'}: ${m.images} images${m.texts > 0 ? `, ${m.texts} texts` : ''}`)
      log(`wrote ${a.out}`)
    }),
    TE.mapLeft((e) => (bar.stop(), e))
  )()
}

/** @since 0.2.0 */
export const indexMergeCommand: Command = {
  name: 'index merge',
  summary: 'join the parts of a gallery indexed with --shard into one Lance dataset',
  help,
  flags: { part: { type: 'string', multiple: true }, out: { type: 'string' }, force: { type: 'boolean' }, root: { type: 'string' }, ...annFlagDefs },
  run
}
