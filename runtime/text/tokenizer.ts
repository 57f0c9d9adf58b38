/**
 * The BERT WordPiece tokenizer of CMGA's text encoder, through Hugging Face's
 * Tokenizers.js (`@huggingface/tokenizers`, pure JavaScript): BERT-uncased
 * normalization, [CLS] text [SEP], truncation to `maxLength` (as Hugging Face truncates:
 * the text is cut, [CLS] and [SEP] stay), padding to the longest text of the batch, and
 * the attention mask.
 * @since 0.1.0
 */
import { Tokenizer } from '@huggingface/tokenizers'
import * as E from 'fp-ts/lib/Either.js'
import type { CmgaError } from '../../compiler/errors.js'
import { fail } from '../../compiler/errors.js'
import type { HostTensor } from '../../compiler/ir/tensor.js'
import type { TokenizerSource, VocabOptions } from './vocab.js'
import { readTokenizerSource } from './vocab.js'

// -------------------------------------------------------------------------------------
// model
// -------------------------------------------------------------------------------------

/** Options of `loadTokenizer`. */
export interface TokenizerOptions extends VocabOptions {
  /** Tokens per text, [CLS] and [SEP] included (at least 2). */
  readonly maxLength: number
  /** The model's `text.maxPositions`: `maxLength` beyond it is an error. */
  readonly maxPositions?: number
}

/** Token ids of the special tokens ([MASK] when the vocabulary has one). */
export interface SpecialIds {
  readonly pad: number
  readonly unk: number
  readonly cls: number
  readonly sep: number
  readonly mask?: number
}

/** A batch of encoded texts, padded to its longest. */
export interface EncodedTexts {
  /** int64 [B, L]: [CLS] tokens [SEP], then [PAD]. */
  readonly ids: HostTensor<'int64'>
  /** int64 [B, L]: 1 for tokens, 0 for padding. */
  readonly mask: HostTensor<'int64'>
  /** Each text's token strings, [CLS] and [SEP] included, padding not. */
  readonly tokens: readonly (readonly string[])[]
}

/** A word of a tokenized text: its text and the tokens `[from, to)` it spans. */
export interface Word {
  readonly text: string
  readonly from: number
  readonly to: number
}

/** @since 0.1.0 */
export interface BertTokenizer {
  /** Where the vocabulary came from. */
  readonly source: string
  readonly maxLength: number
  /** Entries of the vocabulary (the largest id + 1). */
  readonly vocabSize: number
  readonly special: SpecialIds
  /** Tokenizes, truncates to `maxLength` and pads to the batch's longest. */
  readonly encode: (texts: readonly string[]) => EncodedTexts
  /** Text from ids, special tokens and padding left out, `##` pieces joined. */
  readonly decode: (ids: readonly (number | bigint)[]) => string
  /** The token string of an id (undefined outside the vocabulary). */
  readonly idToToken: (id: number) => string | undefined
  /** The id of a token string (undefined when not in the vocabulary). */
  readonly tokenToId: (token: string) => number | undefined
}

// -------------------------------------------------------------------------------------
// words
// -------------------------------------------------------------------------------------

/** Groups WordPiece tokens into words (a `##` piece joins the word before it), for display. */
export const words = (tokens: readonly string[]): Word[] => {
  const out: Word[] = []
  for (const [i, t] of tokens.entries()) {
    const last = out[out.length - 1]
    if (t.startsWith('##') && last !== undefined && last.to === i) out[out.length - 1] = { text: last.text + t.slice(2), from: last.from, to: i + 1 }
    else out.push({ text: t, from: i, to: i + 1 })
  }
  return out
}

// -------------------------------------------------------------------------------------
// constructors
// -------------------------------------------------------------------------------------

/** A tokenizer over an already-read definition. */
export const makeTokenizer = (src: TokenizerSource, opts: TokenizerOptions): E.Either<CmgaError, BertTokenizer> => {
  const { maxLength, maxPositions } = opts
  if (!Number.isInteger(maxLength) || maxLength < 2) return fail('input', `tokenizer: maxLength must be an integer >= 2 ([CLS] and [SEP]), got ${maxLength}`)
  if (maxPositions !== undefined && maxLength > maxPositions) return fail('input', `tokenizer: maxLength ${maxLength} exceeds the model's text.maxPositions (${maxPositions})`)
  let tk: Tokenizer
  try {
    tk = new Tokenizer(src.json, { clean_up_tokenization_spaces: true })
  } catch (e) {
    return fail('format', `${src.path}: cannot build a tokenizer (${(e as Error).message})`)
  }
  const id = (t: string): number => tk.token_to_id(t) as number // present: checked by readTokenizerSource
  const maskId = tk.token_to_id('[MASK]')
  const special: SpecialIds = { pad: id('[PAD]'), unk: id('[UNK]'), cls: id('[CLS]'), sep: id('[SEP]'), ...(maskId === undefined ? {} : { mask: maskId }) }
  const vocabSize = Math.max(...tk.get_vocab(true).values()) + 1
  const encode = (texts: readonly string[]): EncodedTexts => {
    const rows = texts.map((text) => {
      const e = tk.encode(text, { add_special_tokens: false })
      const n = Math.min(e.ids.length, maxLength - 2)
      return { ids: [special.cls, ...e.ids.slice(0, n), special.sep], tokens: ['[CLS]', ...e.tokens.slice(0, n), '[SEP]'] }
    })
    const L = rows.reduce((m, r) => Math.max(m, r.ids.length), 0)
    const ids = new BigInt64Array(rows.length * L).fill(BigInt(special.pad))
    const mask = new BigInt64Array(rows.length * L)
    rows.forEach((r, b) => r.ids.forEach((v, j) => ((ids[b * L + j] = BigInt(v)), (mask[b * L + j] = 1n))))
    return {
      ids: { dtype: 'int64', shape: [rows.length, L], data: ids },
      mask: { dtype: 'int64', shape: [rows.length, L], data: mask },
      tokens: rows.map((r) => r.tokens)
    }
  }
  const specials = new Set<number>(Object.values(special))
  return E.right({
    source: src.path,
    maxLength,
    vocabSize,
    special,
    encode,
    decode: (ids) => {
      const kept = ids.map(Number).filter((i) => !specials.has(i))
      return kept.length === 0 ? '' : tk.decode(kept, { skip_special_tokens: true })
    },
    idToToken: (i) => tk.id_to_token(i),
    tokenToId: (t) => tk.token_to_id(t)
  })
}

/**
 * Loads the tokenizer of a checkpoint: `path` is a `vocab.txt`, a `tokenizer.json`, or
 * a folder holding one. A missing or malformed vocabulary is an error naming the file.
 */
export const loadTokenizer = (path: string, opts: TokenizerOptions): E.Either<CmgaError, BertTokenizer> =>
  E.chain((src: TokenizerSource) => makeTokenizer(src, opts))(readTokenizerSource(path, opts))
