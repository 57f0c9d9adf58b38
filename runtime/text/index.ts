/**
 * BERT WordPiece tokenization for CMGA's text encoder (through `@huggingface/tokenizers`).
 * @since 0.1.0
 */
export { preCaption } from './caption.js'
export {
  loadTokenizer, makeTokenizer, words,
  type BertTokenizer, type EncodedTexts, type SpecialIds, type TokenizerOptions, type Word
} from './tokenizer.js'
export { SPECIAL_TOKENS, bertTokenizerJson, parseVocab, readTokenizerSource, vocabularyIn, type TokenizerJson, type TokenizerSource, type VocabOptions } from './vocab.js'
