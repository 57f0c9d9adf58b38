import { mkdirSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import * as E from 'fp-ts/lib/Either.js'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import type { BertTokenizer } from '../runtime/text/index.js'
import { bertTokenizerJson, loadTokenizer, parseVocab, preCaption, words } from '../runtime/text/index.js'
import { tempDir } from './support/cli.js'
import { vocabLines, writeVocab } from './support/retrieval-data.js'

const dir = tempDir('cmga-text-')
const vocabPath = writeVocab(join(dir, 'vocab.txt'))
const lines = vocabLines()
const id = (t: string): number => lines.indexOf(t)

const load = (path: string, maxLength = 16): BertTokenizer => {
  const r = loadTokenizer(path, { maxLength, maxPositions: 32 })
  if (E.isLeft(r)) throw new Error(r.left.message)
  return r.right
}

test('generated vocabulary: 100 entries, the fixture vocabSize', () => {
  const t = load(vocabPath)
  assert.is(t.vocabSize, 100)
  assert.equal(t.special, { pad: 0, unk: 1, cls: 2, sep: 3, mask: 4 })
})

test('encode: lower-casing, accent stripping, WordPiece pieces, [CLS] and [SEP], [UNK]', () => {
  const t = load(vocabPath)
  const e = t.encode(['The RED Squares, playing on Grass!', 'a Café zebra'])
  assert.equal(e.tokens[0], ['[CLS]', 'the', 'red', 'square', '##s', ',', 'play', '##ing', 'on', 'grass', '!', '[SEP]'])
  assert.equal(e.tokens[1], ['[CLS]', 'a', 'cafe', '[UNK]', '[SEP]'])
  assert.equal(e.ids.shape, [2, 12])
  const ids = Array.from(e.ids.data, Number)
  assert.equal(ids.slice(0, 12), e.tokens[0].map(id))
  assert.equal(ids.slice(12), [...e.tokens[1].map(id), 0, 0, 0, 0, 0, 0, 0])
  assert.equal(Array.from(e.mask.data, Number).slice(12), [1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0])
})

test('encode: truncation keeps [CLS] and [SEP]; padding to the longest of the batch', () => {
  const t = load(vocabPath, 5)
  const e = t.encode(['a red square on black', 'sky'])
  assert.equal(e.tokens, [['[CLS]', 'a', 'red', 'square', '[SEP]'], ['[CLS]', 'sky', '[SEP]']])
  assert.equal(e.ids.shape, [2, 5])
  assert.equal(Array.from(e.mask.data, Number), [1, 1, 1, 1, 1, 1, 1, 1, 0, 0])
  const short = t.encode(['sky', 'sea'])
  assert.equal(short.ids.shape, [2, 3])
  assert.equal(t.encode([]).ids.shape, [0, 0])
})

test('decode, idToToken, tokenToId and words', () => {
  const t = load(vocabPath)
  const e = t.encode(['dogs playing in the sun'])
  assert.is(t.decode(Array.from(e.ids.data)), 'dogs playing in the sun')
  assert.is(t.idToToken(id('grass')), 'grass')
  assert.is(t.tokenToId('[SEP]'), 3)
  assert.is(t.tokenToId('zebra'), undefined)
  assert.equal(words(e.tokens[0]).map((w) => [w.text, w.from, w.to]), [['[CLS]', 0, 1], ['dogs', 1, 3], ['playing', 3, 5], ['in', 5, 6], ['the', 6, 7], ['sun', 7, 8], ['[SEP]', 8, 9]])
})

test('tokenizer.json and a checkpoint folder give the same encoding as vocab.txt', () => {
  const v = parseVocab(lines.join('\n') + '\n', 'vocab.txt')
  if (E.isLeft(v)) return assert.unreachable(v.left.message)
  const folder = join(dir, 'checkpoint')
  mkdirSync(folder)
  writeFileSync(join(folder, 'tokenizer.json'), JSON.stringify(bertTokenizerJson(v.right)))
  const texts = ['The bright SUN, running', 'a small cat']
  const a = load(vocabPath).encode(texts)
  const b = load(folder).encode(texts)
  assert.equal(Array.from(b.ids.data), Array.from(a.ids.data))
  assert.equal(b.tokens, a.tokens)
})

test('a cased vocabulary keeps case when asked', () => {
  const r = loadTokenizer(vocabPath, { maxLength: 8, lowercase: false })
  if (E.isLeft(r)) return assert.unreachable(r.left.message)
  assert.equal(r.right.encode(['RED red']).tokens[0], ['[CLS]', '[UNK]', 'red', '[SEP]'])
})

test('missing or malformed vocabularies and bad lengths are clear errors', () => {
  const msg = (path: string, maxLength = 8, maxPositions = 32): string => {
    const r = loadTokenizer(path, { maxLength, maxPositions })
    return E.isLeft(r) ? r.left.message : 'no error'
  }
  assert.is(msg(join(dir, 'absent.txt')), `vocabulary ${join(dir, 'absent.txt')}: no such file`)
  const empty = join(dir, 'empty-folder')
  mkdirSync(empty)
  assert.is(msg(empty), `no vocabulary in ${empty}: expected vocab.txt or tokenizer.json there`)
  const noSpecials = join(dir, 'plain.txt')
  writeFileSync(noSpecials, 'a\nb\nc\n')
  assert.match(msg(noSpecials), 'not a BERT vocabulary, missing [PAD], [UNK], [CLS], [SEP]')
  const bpe = join(dir, 'bpe.json')
  writeFileSync(bpe, JSON.stringify({ model: { type: 'BPE', vocab: {}, merges: [] } }))
  assert.match(msg(bpe), 'needs WordPiece')
  assert.match(msg(vocabPath, 40, 32), "maxLength 40 exceeds the model's text.maxPositions (32)")
  assert.match(msg(vocabPath, 1), 'maxLength must be an integer >= 2')
})

test("preCaption: ALBEF's caption clean-up", () => {
  assert.is(preCaption('A man, riding a horse!  Out-door/field.\n', 30), 'a man riding a horse out door field')
  assert.is(preCaption('one two three four', 2), 'one two')
  assert.is(preCaption('<person> waves', 30), 'person waves')
})

test.after(() => rmSync(dir, { recursive: true, force: true }))

test.run()
