/**
 * Where a tokenizer comes from: a BERT `vocab.txt` (one token a line, the id is the
 * line number) or a Hugging Face `tokenizer.json`, found directly or inside a
 * checkpoint folder. A `vocab.txt` becomes the `tokenizer.json` that Hugging Face's
 * `BertTokenizerFast` would write for it (BERT normalizer, BERT pre-tokenizer, WordPiece
 * with `##` continuations, [CLS] A [SEP]).
 * @since 0.1.0
 */
import { existsSync, readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'
import * as E from 'fp-ts/lib/Either.js'
import type { CmgaError } from '../../compiler/errors.js'
import { fail, readProblem } from '../../compiler/errors.js'

// -------------------------------------------------------------------------------------
// model
// -------------------------------------------------------------------------------------

/** The special tokens a BERT vocabulary must have. */
export const SPECIAL_TOKENS = ['[PAD]', '[UNK]', '[CLS]', '[SEP]'] as const

/** A tokenizer definition in Hugging Face's `tokenizer.json` layout (the parts we read). */
export interface TokenizerJson {
  readonly model: { readonly type: string; readonly vocab: Readonly<Record<string, number>>; readonly [key: string]: unknown }
  readonly normalizer: unknown
  readonly pre_tokenizer: unknown
  readonly post_processor: unknown
  readonly decoder: unknown
  readonly added_tokens: readonly unknown[]
  readonly [key: string]: unknown
}

/** A tokenizer definition and where it was read from. */
export interface TokenizerSource {
  readonly path: string
  readonly json: TokenizerJson
}

/** Options for building a definition from `vocab.txt`. */
export interface VocabOptions {
  /** BERT-uncased lower-casing and accent stripping (default true). */
  readonly lowercase?: boolean
}

// -------------------------------------------------------------------------------------
// vocab.txt
// -------------------------------------------------------------------------------------

/** Parses `vocab.txt`: token i is line i (a trailing newline is not a token). */
export const parseVocab = (text: string, source: string): E.Either<CmgaError, Map<string, number>> => {
  const lines = text.split(/\r?\n/)
  if (lines.length > 0 && lines[lines.length - 1] === '') lines.pop()
  const vocab = new Map<string, number>()
  for (const [i, token] of lines.entries()) {
    if (token === '') return fail('format', `${source}: line ${i + 1} is empty (every line of vocab.txt is one token)`)
    if (!vocab.has(token)) vocab.set(token, i)
  }
  const missing = SPECIAL_TOKENS.filter((t) => !vocab.has(t))
  if (missing.length > 0) return fail('format', `${source}: not a BERT vocabulary, missing ${missing.join(', ')}`)
  return E.right(vocab)
}

const special = (content: string, id: number): Record<string, unknown> => ({
  id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true
})

/** The `tokenizer.json` of a BERT WordPiece vocabulary. */
export const bertTokenizerJson = (vocab: ReadonlyMap<string, number>, opts: VocabOptions = {}): TokenizerJson => {
  const id = (t: string): number => vocab.get(t) as number
  const specials = [...SPECIAL_TOKENS, '[MASK]'].filter((t) => vocab.has(t))
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: specials.map((t) => special(t, id(t))),
    normalizer: { type: 'BertNormalizer', clean_text: true, handle_chinese_chars: true, strip_accents: null, lowercase: opts.lowercase ?? true },
    pre_tokenizer: { type: 'BertPreTokenizer' },
    post_processor: {
      type: 'TemplateProcessing',
      single: [{ SpecialToken: { id: '[CLS]', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }, { SpecialToken: { id: '[SEP]', type_id: 0 } }],
      pair: [
        { SpecialToken: { id: '[CLS]', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }, { SpecialToken: { id: '[SEP]', type_id: 0 } },
        { Sequence: { id: 'B', type_id: 1 } }, { SpecialToken: { id: '[SEP]', type_id: 1 } }
      ],
      special_tokens: {
        '[CLS]': { id: '[CLS]', ids: [id('[CLS]')], tokens: ['[CLS]'] },
        '[SEP]': { id: '[SEP]', ids: [id('[SEP]')], tokens: ['[SEP]'] }
      }
    },
    decoder: { type: 'WordPiece', prefix: '##', cleanup: true },
    model: { type: 'WordPiece', unk_token: '[UNK]', continuing_subword_prefix: '##', max_input_chars_per_word: 100, vocab: Object.fromEntries(vocab) }
  }
}

// -------------------------------------------------------------------------------------
// files
// -------------------------------------------------------------------------------------

const readText = (path: string): E.Either<CmgaError, string> => {
  try {
    return E.right(readFileSync(path, 'utf8'))
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code
    return fail('io', `vocabulary ${path}: ${readProblem(e)}`)
  }
}

const parseTokenizerJson = (text: string, path: string): E.Either<CmgaError, TokenizerJson> => {
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch (e) {
    return fail('format', `${path}: not valid JSON (${(e as Error).message})`)
  }
  const j = json as Partial<TokenizerJson> | null
  if (j === null || typeof j !== 'object' || typeof j.model !== 'object' || j.model === null) return fail('format', `${path}: not a tokenizer.json (no "model")`)
  if (j.model.type !== 'WordPiece') return fail('format', `${path}: a ${String(j.model.type)} tokenizer; CMGA's text encoder is BERT and needs WordPiece`)
  const vocab = j.model.vocab as Record<string, number> | undefined
  if (typeof vocab !== 'object' || vocab === null) return fail('format', `${path}: the WordPiece model has no vocab`)
  const missing = SPECIAL_TOKENS.filter((t) => typeof vocab[t] !== 'number')
  if (missing.length > 0) return fail('format', `${path}: not a BERT vocabulary, missing ${missing.join(', ')}`)
  return E.right({ normalizer: null, pre_tokenizer: null, post_processor: null, decoder: null, added_tokens: [], ...j } as TokenizerJson)
}

/** The vocabulary file in a folder: its tokenizer.json, else its vocab.txt; undefined when it has neither. */
export const vocabularyIn = (dir: string): string | undefined => ['tokenizer.json', 'vocab.txt'].map((f) => join(dir, f)).find((f) => existsSync(f))

/**
 * Reads a tokenizer definition from `path`: a `vocab.txt`, a `tokenizer.json`, or a
 * folder holding one of them (`tokenizer.json` first). A missing vocabulary is an error
 * that says where it looked.
 */
export const readTokenizerSource = (path: string, opts: VocabOptions = {}): E.Either<CmgaError, TokenizerSource> => {
  let file = path
  if (existsSync(path) && statSync(path).isDirectory()) {
    const found = vocabularyIn(path)
    if (found === undefined) return fail('io', `no vocabulary in ${path}: expected vocab.txt or tokenizer.json there`)
    file = found
  }
  return E.chain((text: string) =>
    file.endsWith('.json')
      ? E.map((json: TokenizerJson) => ({ path: file, json }))(parseTokenizerJson(text, file))
      : E.map((v: Map<string, number>) => ({ path: file, json: bertTokenizerJson(v, opts) }))(parseVocab(text, file))
  )(readText(file))
}
