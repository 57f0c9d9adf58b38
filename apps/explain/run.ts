/**
 * `cmga explain` end to end, as a runtime function: an image file and a text in, the
 * explanation, the preprocessed image and the picture out.
 * @since 0.1.0
 */
import * as E from 'fp-ts/lib/Either.js'
import * as TE from 'fp-ts/lib/TaskEither.js'
import { pipe } from 'fp-ts/lib/function.js'
import type { CmgaError } from '../../compiler/errors.js'
import { cmgaError, fail } from '../../compiler/errors.js'
import type { CmgaModel } from '../cmga/model.js'
import { decodeRgb, normalizeRgb } from '../../runtime/images/index.js'
import type { BertTokenizer } from '../../runtime/text/index.js'
import { loadTokenizer } from '../../runtime/text/index.js'
import type { Canvas } from './canvas.js'
import type { Explanation } from './explain.js'
import { explainPair } from './explain.js'
import { renderExplanation } from './render.js'

/** What to explain. */
export interface ExplainRequest {
  readonly model: CmgaModel
  /** An image file (JPEG, PNG, WebP, ...). */
  readonly image: string
  readonly text: string
  /** A `vocab.txt` / `tokenizer.json` (or a folder with one); default: the model directory. */
  readonly vocab?: string
}

/** The explanation, the preprocessed image as RGB bytes [S, S, 3], and the picture. */
export interface ExplainResult {
  readonly explanation: Explanation
  readonly rgb: Uint8Array
  readonly picture: Canvas
}

/** The model's tokenizer: `--vocab`, else a vocabulary inside the model directory. */
export const modelTokenizer = (m: CmgaModel, vocab?: string): E.Either<CmgaError, BertTokenizer> => {
  const { maxPositions, vocabSize } = m.manifest.config.text
  return pipe(
    loadTokenizer(vocab ?? m.dir, { maxLength: maxPositions, maxPositions }),
    E.mapLeft((e) => (vocab === undefined ? cmgaError(e.kind, `${e.message}; pass --vocab VOCAB.txt`) : e)),
    E.chain((t) => (t.vocabSize > vocabSize ? fail<BertTokenizer>('input', `${t.source} has ${t.vocabSize} tokens but the model's text.vocabSize is ${vocabSize}: not this model's vocabulary`) : E.right(t)))
  )
}

/** Loads, tokenizes, runs and draws. */
export const explainImage = (req: ExplainRequest): TE.TaskEither<CmgaError, ExplainResult> => {
  const c = req.model.manifest.config
  const S = c.vision.imageSize
  return pipe(
    TE.fromEither(modelTokenizer(req.model, req.vocab)),
    TE.bindTo('tokenizer'),
    TE.bind('rgb', () => () => decodeRgb(req.image, S)),
    TE.bind('explanation', ({ tokenizer, rgb }) => {
      const enc = tokenizer.encode([req.text])
      const pixels = { dtype: 'float32' as const, shape: [1, 3, S, S], data: normalizeRgb(rgb, S) }
      return explainPair(req.model, { pixels, ids: enc.ids, mask: enc.mask, tokens: enc.tokens[0] })
    }),
    TE.map(({ explanation, rgb }) => ({ explanation, rgb, picture: renderExplanation(explanation, rgb, { text: req.text, imageWeight: c.compression.imageWeight }) }))
  )
}
