import * as fs from 'node:fs'
import { fileURLToPath } from 'node:url'
import * as E from 'fp-ts/lib/Either.js'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { type CmgaConfig, decodeConfig, keptCounts, numPatches } from '../models/cmga/config.js'
import { readConfigFile } from '../apps/cmga/config-file.js'

const here = (rel: string): string => fileURLToPath(new URL(rel, import.meta.url))
const basePath = here('../models/cmga/configs/base.json')
const tinyPath = here('../models/cmga/configs/tiny.json')
const fixturePath = here('./fixtures/cmga-tiny/config.json')

const load = (path: string): CmgaConfig => {
  const r = readConfigFile(path)
  if (E.isLeft(r)) throw new Error(r.left.message)
  return r.right
}

/** The base config as raw JSON, with `edit` applied to a deep copy. */
const baseWith = (edit: (j: any) => void): unknown => {
  const j = JSON.parse(fs.readFileSync(basePath, 'utf8'))
  edit(j)
  return j
}

const rejects = (json: unknown, ...fragments: string[]): void => {
  const r = decodeConfig(json)
  if (E.isRight(r)) return assert.unreachable('expected a Left')
  assert.is(r.left.kind, 'config')
  for (const f of fragments) assert.ok(r.left.message.includes(f), `"${r.left.message}" should name "${f}"`)
}

// -------------------------------------------------------------------------------------
// shipped configs
// -------------------------------------------------------------------------------------

test('shipped configs and the fixture decode', () => {
  const base = load(basePath)
  assert.is(base.vision.width, 768)
  assert.is(base.vqa?.numAnswers, 3129)
  assert.equal(load(fixturePath), load(tinyPath))
})

test('vqa is optional and compression layers may be empty', () => {
  assert.ok(E.isRight(decodeConfig(baseWith((j) => delete j.vqa))))
  const r = decodeConfig(baseWith((j) => (j.compression.layers = [])))
  assert.ok(E.isRight(r) && keptCounts(r.right).length === 0)
})

// -------------------------------------------------------------------------------------
// derived sizes
// -------------------------------------------------------------------------------------

test('keptCounts: base 197 -> 140 -> 100 -> 72', () => {
  const base = load(basePath)
  assert.is(numPatches(base), 196)
  assert.equal(keptCounts(base), [
    { layer: 3, candidates: 196, kept: 138, tokensAfter: 140 },
    { layer: 6, candidates: 139, kept: 98, tokensAfter: 100 },
    { layer: 9, candidates: 99, kept: 70, tokensAfter: 72 }
  ])
})

test('keptCounts: tiny 17 -> 14 -> 12', () => {
  const tiny = load(tinyPath)
  assert.is(numPatches(tiny), 16)
  assert.equal(keptCounts(tiny), [
    { layer: 1, candidates: 16, kept: 12, tokensAfter: 14 },
    { layer: 2, candidates: 13, kept: 10, tokensAfter: 12 }
  ])
})

test('keptCounts: rounds to 6 decimals before ceil; keepRate 1 keeps all and adds a fused token', () => {
  const c = load(basePath)
  // 0.55 * 100 is 55.00000000000001 in floating point: it must keep 55, not 56
  const n100 = { ...c, vision: { ...c.vision, imageSize: 160 }, compression: { ...c.compression, keepRate: 0.55 } }
  assert.equal(keptCounts(n100)[0], { layer: 3, candidates: 100, kept: 55, tokensAfter: 57 })
  const one = { ...c, compression: { ...c.compression, keepRate: 1 } }
  assert.equal(
    keptCounts(one).map((k) => k.tokensAfter),
    [198, 199, 200]
  )
})

// -------------------------------------------------------------------------------------
// violations
// -------------------------------------------------------------------------------------

test('imageSize must be divisible by patchSize', () =>
  rejects(baseWith((j) => (j.vision.imageSize = 230)), 'vision.imageSize (230)', 'vision.patchSize (16)'))
test('vision width divisible by heads', () =>
  rejects(baseWith((j) => (j.vision.heads = 10)), 'vision.width', 'vision.heads'))
test('text width divisible by heads', () =>
  rejects(baseWith((j) => (j.text.heads = 10)), 'text.width', 'text.heads'))
test('vision.width must equal text.width', () =>
  rejects(baseWith((j) => (j.text.width = 384)), 'vision.width (768) must equal text.width (384)'))
test('compression layers must be strictly increasing', () =>
  rejects(baseWith((j) => (j.compression.layers = [3, 3, 9])), 'compression.layers[1]'))
test('compression layers must be below depth', () =>
  rejects(baseWith((j) => (j.compression.layers = [3, 12])), 'compression.layers[1] (12)', 'vision.depth'))
test('compression layers must be non-negative integers', () =>
  rejects(baseWith((j) => (j.compression.layers = [-1, 2.5])), 'compression.layers[0]', 'compression.layers[1]'))
test('keepRate in (0, 1]', () => {
  rejects(baseWith((j) => (j.compression.keepRate = 0)), 'compression.keepRate')
  rejects(baseWith((j) => (j.compression.keepRate = 1.2)), 'compression.keepRate')
})
test('imageWeight in [0, 1]', () => {
  assert.ok(E.isRight(decodeConfig(baseWith((j) => (j.compression.imageWeight = 0)))))
  rejects(baseWith((j) => (j.compression.imageWeight = -0.1)), 'compression.imageWeight')
})
test('channels must be 3', () => rejects(baseWith((j) => (j.vision.channels = 4)), 'vision.channels (4) must be 3'))
test('padTokenId below vocabSize', () =>
  rejects(baseWith((j) => (j.text.padTokenId = 30522)), 'text.padTokenId', 'text.vocabSize'))
test('eps must be positive', () => rejects(baseWith((j) => (j.text.eps = 0)), 'text.eps'))
test('vqa.numAnswers must be a positive integer', () =>
  rejects(baseWith((j) => (j.vqa.numAnswers = 0)), 'vqa.numAnswers'))
test('unknown fields are reported by path', () => {
  rejects(baseWith((j) => (j.vision.widht = 768)), 'vision.widht: unknown field')
  rejects(baseWith((j) => (j.extra = {})), 'extra: unknown field')
})
test('wrong type', () => {
  const r = decodeConfig(baseWith((j) => (j.vision.width = '768')))
  assert.equal(r, E.left({ kind: 'config', message: 'config: vision.width: expected positive integer, got "768"' }))
})
test('missing field', () => rejects(baseWith((j) => delete j.text.vocabSize), 'text.vocabSize: missing'))
test('missing section', () => rejects(baseWith((j) => delete j.align), 'align: missing'))
test('non-integer size', () => rejects(baseWith((j) => (j.vision.depth = 12.5)), 'vision.depth'))
test('not an object', () => rejects(42, '(root)'))
test('all violations are reported together', () => {
  const r = decodeConfig(baseWith((j) => ((j.vision.imageSize = 230), (j.text.width = 384))))
  assert.ok(E.isLeft(r) && r.left.message.split('; ').length === 2)
  assert.ok(E.isLeft(r) && r.left.message.startsWith('config: '))
})

// -------------------------------------------------------------------------------------
// files
// -------------------------------------------------------------------------------------

test('readConfigFile: io error for a missing file, config error naming the file for bad JSON', () => {
  const missing = readConfigFile('/nonexistent/cmga.json')
  assert.ok(E.isLeft(missing) && missing.left.kind === 'io')
  const dir = fs.mkdtempSync('/tmp/cmga-config-')
  const bad = `${dir}/bad.json`
  fs.writeFileSync(bad, '{ "vision": ')
  const r = readConfigFile(bad)
  assert.ok(E.isLeft(r) && r.left.kind === 'config' && r.left.message.includes(bad))
  fs.rmSync(dir, { recursive: true })
})

test.run()
