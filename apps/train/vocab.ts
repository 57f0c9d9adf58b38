/**
 * The vocabulary training tokenizes with: a given `vocab.txt` / `tokenizer.json`, or one
 * made from the captions when the run has none (the special tokens, then the caption
 * words by frequency, as many as the config's `vocabSize` holds). Whatever is used is
 * saved in the output directory as `vocab.txt`, so a trained model's texts can be
 * tokenized later (`cmga` commands look for `vocab.txt` beside a model). A run started
 * from other weights (`--init`) uses the vocabulary found beside them, since their word
 * embeddings are indexed by it.
 * @since 0.1.0
 */
import { existsSync, readFileSync } from 'node:fs'
import { basename, dirname, join } from 'node:path'
import * as E from 'fp-ts/lib/Either.js'
import type { CmgaError } from '../../compiler/errors.js'
import type { CmgaConfig } from '../../models/cmga/config.js'
import type { BertTokenizer, TokenizerOptions, TokenizerSource } from '../../runtime/text/index.js'
import { bertTokenizerJson, makeTokenizer, parseVocab, preCaption, readTokenizerSource, vocabularyIn } from '../../runtime/text/index.js'
import { SPECIAL_TOKENS } from '../../runtime/text/vocab.js'
import type { Example } from './data.js'

/** The special tokens a made vocabulary starts with ([PAD] is id 0). */
export const SPECIALS: readonly string[] = [...SPECIAL_TOKENS, '[MASK]']

/** `vocab.txt` lines for the captions: specials, then words by frequency (ties alphabetical), at most `size`. */
export const vocabFromCaptions = (examples: readonly Example[], size: number, maxWords = 30): string[] => {
  const counts = new Map<string, number>()
  for (const x of examples) {
    for (const w of preCaption(x.caption, maxWords).split(' ')) if (w !== '' && !SPECIALS.includes(w)) counts.set(w, (counts.get(w) ?? 0) + 1)
  }
  const words = [...counts].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0)).map(([w]) => w)
  return [...SPECIALS, ...words].slice(0, size)
}

/** Where a run's vocabulary comes from. */
export interface VocabChoice {
  /** A vocabulary path given by the user (`--vocab`). */
  readonly given?: string
  /** The config file: a `vocab.txt` beside it is used when nothing is given. */
  readonly configPath: string
  /** A `vocab.txt` from an earlier run (resuming) comes first. */
  readonly saved?: string
  /**
   * The weights a run starts from (`--init`): their word embeddings are indexed by the
   * vocabulary they were trained with, so one found beside them (in their folder, or in
   * the run folder of a checkpoint) comes before the config's and before one made from
   * the captions.
   */
  readonly init?: string
}

/** The vocabulary beside weights (`vocabularyIn`): in their folder, else, for a checkpoint `RUN/checkpoints/step-N/`, in `RUN`. */
export const vocabBesideWeights = (weights: string): string | undefined => {
  const dir = dirname(weights)
  const checkpoints = dirname(dir)
  return vocabularyIn(dir) ?? (basename(checkpoints) === 'checkpoints' ? vocabularyIn(dirname(checkpoints)) : undefined)
}

/** The tokenizer, and the `vocab.txt` text to save with the run (null when a tokenizer.json was given). */
export interface RunVocab {
  readonly tokenizer: BertTokenizer
  /** What the tokenizer was built from, with its options (a data worker builds its own). */
  readonly definition: TokenizerSource
  readonly options: TokenizerOptions
  readonly text: string | null
  /** Where it came from, for the log. */
  readonly source: string
  /** Whether it was made from the captions (sized to the model by construction). */
  readonly fromCaptions: boolean
}

/** Picks the vocabulary (saved, given, beside the config, or made from the captions) and builds the tokenizer. */
export const runVocabulary = (choice: VocabChoice, c: CmgaConfig, examples: readonly Example[], length: number): E.Either<CmgaError, RunVocab> => {
  const opts: TokenizerOptions = { maxLength: length, maxPositions: c.text.maxPositions }
  const beside = join(dirname(choice.configPath), 'vocab.txt')
  const besideInit = choice.init === undefined ? undefined : vocabBesideWeights(choice.init)
  const path = [choice.saved !== undefined && existsSync(choice.saved) ? choice.saved : undefined, choice.given, besideInit, existsSync(beside) ? beside : undefined].find((p) => p !== undefined)
  if (path !== undefined) {
    return E.chain((src: TokenizerSource) =>
      E.map((tokenizer: BertTokenizer): RunVocab => ({ tokenizer, definition: src, options: opts, text: src.path.endsWith('.json') ? null : readFileSync(src.path, 'utf8'), source: src.path, fromCaptions: false }))(makeTokenizer(src, opts))
    )(readTokenizerSource(path))
  }
  const lines = vocabFromCaptions(examples, c.text.vocabSize)
  const text = lines.join('\n') + '\n'
  return E.chain((vocab: Map<string, number>) => {
    const definition: TokenizerSource = { path: 'vocab.txt (made from the captions)', json: bertTokenizerJson(vocab) }
    return E.map((tokenizer: BertTokenizer): RunVocab => ({ tokenizer, definition, options: opts, text, source: `${lines.length} words made from the captions`, fromCaptions: true }))(makeTokenizer(definition, opts))
  })(parseVocab(text, 'captions vocabulary'))
}
