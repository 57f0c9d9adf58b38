/**
 * `cmga index`: embeds a folder of images (and optionally a list of texts) once, for
 * `cmga retrieve`.
 * @since 0.1.0
 */
import { existsSync, readFileSync } from 'node:fs'
import { resolve } from 'node:path'
import * as E from 'fp-ts/lib/Either.js'
import * as TE from 'fp-ts/lib/TaskEither.js'
import { pipe } from 'fp-ts/lib/function.js'
import type { CmgaError } from '../../compiler/errors.js'
import { fail, readProblem } from '../../compiler/errors.js'
import { buildIndex } from '../../apps/retrieval/gallery.js'
import type { AnnParams, ShardOf } from '../../apps/retrieval/store/store.js'
import { storeKinds } from '../../apps/retrieval/store/store.js'
import type { Command, Flags, Values } from '../command.js'
import { integer, oneOf, requiredOutput } from '../command.js'
import { whileInterruptible } from '../interrupt.js'
import { progressReporter } from '../progress.js'
import { onErrorFlag, runtimeFlags, runtimeFrom, runtimeHelp, withRuntime } from '../runtime-flags.js'

const help = `Usage: cmga index --model DIR --images FOLDER --out INDEX [--texts FILE] [flags]
       cmga index merge --part PART --part PART ... --out DATASET (see cmga index merge --help)

Embeds every image under FOLDER (jpg, jpeg, png, webp, gif, bmp, tif, tiff;
sub-folders too; pixels bit-identical to PIL's, see cmga preprocess) with the model's
text-agnostic image features (spec section 7, image guidance), and optionally the
texts of FILE for image-to-text retrieval, into the index folder INDEX.

INDEX is built in INDEX.partial (each shard written atomically) and renamed when
complete: an interrupted run (Ctrl-C, SIGTERM, a crash) resumes where it stopped when
the same command is run again, and INDEX never exists half-written. Progress goes to
stderr (a bar on a terminal, else a line every 5 s). The index records which model
built it; cmga retrieve with another model is an error.

  --images FOLDER      the images (optional when --texts is given)
  --texts FILE         texts to index: a JSON list of strings, or a text file with
                       one text per line
  --out INDEX          the index folder (must not exist unless --force)
  --force              replace an existing INDEX (once the new one is complete)
  --on-error MODE      an unreadable image: fail (default) stops with its name;
                       skip leaves it out and lists it in index.json
  --shard-size N       images per shard, the unit of resuming (default 64)
  --store KIND         where the features go: safetensors (default: shard files and
                       index.json, read into memory and searched by brute force) or
                       lance (a LanceDB dataset: per image its global feature, its
                       token features as a multivector and its file name, the model
                       identity in the table metadata; searched by LanceDB, exactly or
                       through an ANN index)
  --ann                build an IVF-PQ index over the global features (lance; at
                       least 256 images): cmga retrieve then searches approximately
  --ann-partitions N   IVF partitions (default: about sqrt(images))
  --ann-sub-vectors N  PQ sub-vectors, dividing the embed dim (default: dim / 8)
  --shard I/N          index only part I of N of the sorted images (image k goes to
                       part k mod N + 1; texts go with part 1), to build a gallery on
                       N machines; join the parts with cmga index merge
${runtimeHelp()}
  -h, --help           this text`

/** Reads `--texts`: a JSON list of strings, or one text per non-empty line. */
export const readTexts = (path: string): E.Either<CmgaError, string[]> => {
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch (e) {
    return fail('io', `texts ${path}: ${readProblem(e)}`)
  }
  if (path.endsWith('.json')) {
    let j: unknown
    try {
      j = JSON.parse(text)
    } catch (e) {
      return fail('format', `texts ${path}: not valid JSON (${(e as Error).message})`)
    }
    if (!Array.isArray(j) || !j.every((x) => typeof x === 'string')) return fail('format', `texts ${path}: expected a JSON list of strings`)
    return j.length === 0 ? fail('input', `texts ${path}: the list is empty`) : E.right(j as string[])
  }
  const lines = text.split(/\r?\n/).filter((l) => l.trim() !== '')
  return lines.length === 0 ? fail('input', `texts ${path}: no text in it`) : E.right(lines)
}

/** `--shard I/N`: part I (1 to N) of N. */
export const shardFlag = (cmd: string, values: Values): E.Either<CmgaError, ShardOf | undefined> => {
  const v = values.shard
  if (v === undefined) return E.right(undefined)
  const m = typeof v === 'string' ? /^(\d+)\/(\d+)$/.exec(v) : null
  const [i, n] = m === null ? [0, 0] : [Number(m[1]), Number(m[2])]
  return m !== null && n >= 1 && i >= 1 && i <= n
    ? E.right({ index: i - 1, count: n })
    : fail('usage', `cmga ${cmd}: --shard must be I/N with 1 <= I <= N (part I of N, e.g. 2/4), got "${String(v)}"`)
}

/** The definitions of `--ann` and its parameters. */
export const annFlagDefs: Flags = { ann: { type: 'boolean' }, 'ann-partitions': { type: 'string' }, 'ann-sub-vectors': { type: 'string' } }

/** `--ann` and its parameters; undefined without `--ann`. */
export const annFlags = (cmd: string, values: Values): E.Either<CmgaError, AnnParams | undefined> => {
  const given = ['ann-partitions', 'ann-sub-vectors'].find((f) => values[f] !== undefined)
  if (values.ann !== true) return given === undefined ? E.right(undefined) : fail('usage', `cmga ${cmd}: --${given} needs --ann`)
  return pipe(
    E.Do,
    E.bind('partitions', () => integer(cmd, values, 'ann-partitions', 0, 1)),
    E.bind('subVectors', () => integer(cmd, values, 'ann-sub-vectors', 0, 1)),
    E.map(({ partitions, subVectors }): AnnParams => ({ ...(partitions > 0 ? { partitions } : {}), ...(subVectors > 0 ? { subVectors } : {}) }))
  )
}

const run = async (values: Values, log: (line: string) => void): Promise<E.Either<CmgaError, void>> => {
  const args = pipe(
    E.Do,
    E.bind('out', () => requiredOutput('index', values, 'out', 'directory')),
    E.bind('onError', () => onErrorFlag('index', values, 'fail')),
    E.bind('shardSize', () => integer('index', values, 'shard-size', 64, 1, 1 << 20)),
    E.bind('store', () => oneOf('index', values, 'store', storeKinds, 'safetensors')),
    E.bind('shard', () => shardFlag('index', values)),
    E.bind('ann', () => annFlags('index', values)),
    E.chainFirst(({ store, ann }) => (ann !== undefined && store !== 'lance' ? fail('usage', 'cmga index: --ann needs --store lance (a safetensors index is searched by brute force)') : E.right(undefined))),
    E.bind('texts', () => (typeof values.texts === 'string' ? E.map((t: string[]) => t as string[] | undefined)(readTexts(values.texts)) : E.right(undefined))),
    E.chainFirst(({ texts }) => (typeof values.images !== 'string' && texts === undefined ? fail('usage', 'cmga index: give --images FOLDER, --texts FILE, or both (see cmga index --help)') : E.right(undefined)))
  )
  if (E.isLeft(args)) return args
  const rt = runtimeFrom('index', values, log)
  if (E.isLeft(rt)) return rt
  const bar = progressReporter('index', log)
  const partial = `${resolve(args.right.out)}.partial`
  const kept = (): string => (existsSync(partial) ? `the images embedded so far are kept in ${partial}; run the same command again to resume` : 'nothing was indexed yet; run the same command again')
  return whileInterruptible(kept, () => withRuntime(rt.right, (runtime) =>
    pipe(
      buildIndex({
        runtime,
        ...(typeof values.images === 'string' ? { images: values.images } : {}),
        ...(args.right.texts === undefined ? {} : { texts: args.right.texts }),
        out: args.right.out,
        onError: args.right.onError,
        shardSize: args.right.shardSize,
        store: args.right.store,
        ...(args.right.shard === undefined ? {} : { shard: args.right.shard }),
        ...(args.right.ann === undefined ? {} : { ann: args.right.ann }),
        force: values.force === true,
        log,
        onProgress: (done, total) => bar.update('images', done, total)
      }),
      TE.map((m) => {
        bar.stop()
        const im = m.images
        if (im !== null) {
          for (const s of im.skipped) log(`skipped ${s.path}: ${s.reason}`)
          log(`indexed ${im.count} images${im.skipped.length > 0 ? ` (${im.skipped.length} skipped)` : ''}`)
        }
        if (m.texts !== null) log(`indexed ${m.texts} texts`)
        log(`wrote ${args.right.out}`)
      }),
      TE.mapLeft((e) => (bar.stop(), e))
    )()
  ))
}

/** @since 0.1.0 */
export const indexCommand: Command = {
  name: 'index',
  summary: 'embed a folder of images (and texts) once, for cmga retrieve',
  help,
  flags: {
    ...runtimeFlags,
    images: { type: 'string' },
    texts: { type: 'string' },
    out: { type: 'string' },
    'on-error': { type: 'string' },
    'shard-size': { type: 'string' },
    store: { type: 'string' },
    shard: { type: 'string' },
    ...annFlagDefs,
    force: { type: 'boolean' }
  },
  run
}
