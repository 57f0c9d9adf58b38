/**
 * A model's vocabulary, checked the same way by every command that tokenizes for a
 * model: one larger than the model's `text.vocabSize` is refused (its ids would fall
 * outside the embedding table); one smaller than half of it is most likely another
 * model's, and gets a one-line warning.
 * @since 0.1.0
 */
import * as E from 'fp-ts/lib/Either.js'
import { pipe } from 'fp-ts/lib/function.js'
import type { CmgaError } from '../../compiler/errors.js'
import { cmgaError, fail } from '../../compiler/errors.js'
import type { BertTokenizer, TokenizerOptions } from '../../runtime/text/index.js'
import { loadTokenizer } from '../../runtime/text/index.js'

/** A vocabulary of `size` entries for a model of `modelSize`: refused when larger; a warning line when under half of it. */
export const vocabularyFit = (source: string, size: number, modelSize: number): E.Either<CmgaError, string | null> => {
  if (size > modelSize) return fail('input', `${source} has ${size} entries but the model's vocabulary has ${modelSize} (text.vocabSize): not this model's vocabulary`)
  return E.right(size * 2 < modelSize ? `warning: ${source} has ${size} entries, the model's vocabulary has ${modelSize}: is this the model's vocabulary?` : null)
}

/**
 * The tokenizer of a compiled model in `dir`: `vocab` (a vocab.txt, tokenizer.json or
 * a folder with one), else the one in the model directory; checked by `vocabularyFit`
 * (its warning goes to `warn`). A model directory without one names `--vocab`.
 */
export const modelTokenizer = (dir: string, modelSize: number, vocab: string | undefined, opts: TokenizerOptions, warn: (line: string) => void = () => undefined): E.Either<CmgaError, BertTokenizer> =>
  pipe(
    loadTokenizer(vocab ?? dir, opts),
    E.mapLeft((e) => (vocab === undefined && e.message.startsWith('no vocabulary in') ? cmgaError(e.kind, `${e.message}; pass --vocab VOCAB.txt (or compile with cmga compile --vocab, which puts it in the model directory)`) : e)),
    E.chainFirst((t) =>
      E.map((warning: string | null) => {
        if (warning !== null) warn(warning)
      })(vocabularyFit(t.source, t.vocabSize, modelSize))
    )
  )
