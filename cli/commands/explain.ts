/**
 * `cmga explain`: a picture (and optionally JSON) of what a compiled model kept and
 * aligned for one image and one text.
 * @since 0.1.0
 */
import { resolve } from 'node:path'
import * as E from 'fp-ts/lib/Either.js'
import * as TE from 'fp-ts/lib/TaskEither.js'
import { pipe } from 'fp-ts/lib/function.js'
import type { CmgaError } from '../../compiler/errors.js'
import { fail } from '../../compiler/errors.js'
import { loadCmgaModel } from '../../apps/cmga/model.js'
import { encodePng, explainImage, explanationJson, writeFilesAtomic } from '../../apps/explain/index.js'
import type { Command, Values } from '../command.js'
import { integer, outputFlag, required, requiredOutput } from '../command.js'
import { deviceFlag, deviceHelp } from '../runtime-flags.js'

const help = `Usage: cmga explain --model DIR --image IMAGE --text "..." --out FILE.png
                    [--vocab VOCAB.txt] [--max-length N] [--json FILE.json] [--threads N]
                    [--device D] [--force]

Draws what a compiled model does with one image and one text, in one PNG:
  - the global score, the local (token-level) score and the ITM match probability;
  - the preprocessed image once per compression layer under image guidance and once
    under joint guidance (guided by the text): kept patches as they are, dropped ones
    dimmed and tinted orange by their weight in the fused token; patches kept inside
    a fused token made at an earlier layer have a cyan border;
  - per text token, its similarity with every final visual token (image guidance),
    drawn on the patches that token covers (white box: the best match).

  --model DIR      a directory written by cmga compile
  --image IMAGE    a JPEG, PNG or WebP image (resized to the model's size, spec section 8)
  --text TEXT      the text (tokenized with BERT WordPiece, cut to text.maxPositions)
  --out FILE       where to write the PNG (written atomically)
  --vocab FILE     vocab.txt or tokenizer.json (default: the one in the model directory)
  --max-length N   tokens of the text, [CLS] and [SEP] included (default and at most
                   text.maxPositions)
  --json FILE      also write the same information as JSON: per layer and guidance the
                   original patch positions kept, the similarity matrix, the scores
  --threads N      onnxruntime intra-op threads (default 2)
${deviceHelp(19)}
  --force          replace an existing --out or --json file
  -h, --help       this text`

/** An optional string flag that, when given, must not be empty. */
const optional = (values: Values, flag: string): E.Either<CmgaError, string | undefined> =>
  values[flag] === undefined ? E.right(undefined) : required('explain', values, flag)

/** @since 0.1.0 */
export const explainCommand: Command = {
  name: 'explain',
  summary: 'draw the kept patches, token alignment and scores of one image-text pair',
  help,
  flags: { model: { type: 'string' }, image: { type: 'string' }, text: { type: 'string' }, out: { type: 'string' }, vocab: { type: 'string' }, 'max-length': { type: 'string' }, json: { type: 'string' }, threads: { type: 'string' }, device: { type: 'string' }, force: { type: 'boolean' } },
  run: (values, log) =>
    pipe(
      TE.fromEither(
        pipe(
          E.Do,
          E.bind('dir', () => required('explain', values, 'model')),
          E.bind('image', () => required('explain', values, 'image')),
          E.bind('text', () => required('explain', values, 'text')),
          E.bind('out', () => requiredOutput('explain', values, 'out', 'file')),
          E.bind('json', ({ out }) =>
            E.chain((j: string | undefined) => (j !== undefined && resolve(j) === resolve(out) ? fail<string>('usage', 'cmga explain: --json and --out name the same file') : E.right(j)))(outputFlag('explain', values, 'json', 'file'))
          ),
          E.bind('vocab', () => optional(values, 'vocab')),
          E.bind('threads', () => integer('explain', values, 'threads', 2, 1, 256)),
          E.bind('device', () => deviceFlag('explain', values)),
          E.bind('model', ({ dir, threads, device }) => loadCmgaModel(dir, { threads, device })),
          E.bind('maxLength', ({ model }) => {
            const most = model.manifest.config.text.maxPositions
            return integer('explain', values, 'max-length', most, 2, most)
          })
        )
      ),
      TE.bind('result', ({ model, image, text, vocab, maxLength }) => explainImage({ model, image, text, vocab, maxLength, warn: log })),
      TE.bind('png', ({ result }) => () => encodePng(result.picture)),
      TE.chainEitherK(({ out, json, png, result, dir, image, text }) => {
        const files: Array<readonly [string, Uint8Array | string]> = [[out, png]]
        if (json !== undefined) files.push([json, JSON.stringify(explanationJson(result.explanation, { model: dir, image, text }), null, 1) + '\n'])
        return E.map(() => files.map(([f]) => f))(writeFilesAtomic(files))
      }),
      TE.map((written) => log(`wrote ${written.join(' and ')}`))
    )()
}
