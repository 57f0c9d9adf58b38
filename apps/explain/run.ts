/**
 * `cmga explain` end to end, as a runtime function: an image file and a text in, the
 * explanation, the preprocessed image and the picture out.
 * @since 0.1.0
 */
import * as E from 'fp-ts/lib/Either.js'
import * as TE from 'fp-ts/lib/TaskEither.js'
import { pipe } from 'fp-ts/lib/function.js'
import type { CmgaError } from '../../compiler/errors.js'
import type { CmgaModel } from '../cmga/model.js'
import { decodeRgb, normalizeRgb } from '../../runtime/images/index.js'
import type { BertTokenizer } from '../../runtime/text/index.js'
import { modelTokenizer } from '../cmga/vocabulary.js'
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
  /** Tokens of the text, [CLS] and [SEP] included (default: text.maxPositions). */
  readonly maxLength?: number
  /** Where a warning line goes (a vocabulary much smaller than the model's). */
  readonly warn?: (line: string) => void
}

/** The explanation, the preprocessed image as RGB bytes [S, S, 3], and the picture. */
export interface ExplainResult {
  readonly explanation: Explanation
  readonly rgb: Uint8Array
  readonly picture: Canvas
}

/** The model's tokenizer: `--vocab`, else a vocabulary inside the model directory (checked as every command checks it). */
export const explainTokenizer = (m: CmgaModel, vocab?: string, warn?: (line: string) => void, maxLength?: number): E.Either<CmgaError, BertTokenizer> => {
  const { maxPositions, vocabSize } = m.manifest.config.text
  return modelTokenizer(m.dir, vocabSize, vocab, { maxLength: maxLength ?? maxPositions, maxPositions }, warn)
}

/** Loads, tokenizes, runs and draws. */
export const explainImage = (req: ExplainRequest): TE.TaskEither<CmgaError, ExplainResult> => {
  const c = req.model.manifest.config
  const S = c.vision.imageSize
  return pipe(
    TE.fromEither(explainTokenizer(req.model, req.vocab, req.warn, req.maxLength)),
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
