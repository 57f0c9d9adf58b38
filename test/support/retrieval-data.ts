/**
 * A small retrieval world made by the tests: the tiny fixture model compiled, a
 * 100-token BERT vocabulary (the fixture's vocabSize), PNG images written with sharp,
 * and their captions in ALBEF's and Karpathy's annotation formats.
 * @since 0.1.0
 */
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import * as E from 'fp-ts/lib/Either.js'
import sharp from 'sharp'
import { importCheckpoint } from '../../apps/compile/checkpoint.js'
import { compileModel } from '../../apps/compile/compile.js'
import { readConfigFile } from '../../apps/cmga/config-file.js'

const get = <A>(e: E.Either<{ message: string }, A>): A => {
  if (E.isLeft(e)) throw new Error(e.left.message)
  return e.right
}

/** The words of the generated vocabulary (after the special tokens). */
export const WORDS = [
  'a', 'an', 'the', 'of', 'on', 'in', 'with', 'and', 'is', 'photo', 'picture', 'image', 'red', 'green', 'blue', 'yellow',
  'white', 'black', 'square', 'circle', 'stripe', '##s', 'dog', 'cat', 'sky', 'grass', 'sea', 'sun', 'big', 'small',
  'bright', 'dark', 'play', '##ing', 'run', '##ning', 'cafe', '.', ',', '!'
]

/** A BERT vocabulary of exactly `size` entries: specials, `WORDS`, then `[unusedN]`. */
export const vocabLines = (size = 100): string[] => {
  const head = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]', ...WORDS]
  return [...head, ...Array.from({ length: size - head.length }, (_, i) => `[unused${i}]`)]
}

/** Writes `vocab.txt` at `path`. */
export const writeVocab = (path: string, size = 100): string => {
  writeFileSync(path, vocabLines(size).join('\n') + '\n')
  return path
}

/** Compiles the tiny fixture model into `dir` (with a vocab.txt there unless `vocab` is false). */
export const compileTinyModel = (dir: string, vocab = true): string => {
  const config = get(readConfigFile('test/fixtures/cmga-tiny/config.json'))
  const ck = get(importCheckpoint(config, 'test/fixtures/cmga-tiny/weights.safetensors'))
  get(compileModel({ config, weights: ck.weights, weightsSource: 'test/fixtures/cmga-tiny/weights.safetensors', weightsSummary: 'fixture', out: dir }))
  if (vocab) writeVocab(join(dir, 'vocab.txt'))
  return dir
}

/** An image of the dataset: its file name, colour and pattern. */
interface Picture {
  readonly name: string
  readonly rgb: readonly [number, number, number]
  readonly pattern: 'square' | 'circle' | 'stripe'
  readonly captions: readonly string[]
}

/** The dataset's pictures: colours x patterns, two captions each. */
export const PICTURES: readonly Picture[] = (() => {
  const colours: [string, [number, number, number]][] = [['red', [220, 30, 30]], ['green', [30, 200, 40]], ['blue', [30, 40, 220]], ['yellow', [230, 220, 30]]]
  const patterns = ['square', 'circle', 'stripe'] as const
  return colours.flatMap(([c, rgb], ci) =>
    patterns.map((p, pi) => ({ name: `${c}-${p}.png`, rgb, pattern: p, captions: [`a ${c} ${p} on black`, `the ${ci % 2 === 0 ? 'bright' : 'dark'} ${c} ${p}${pi === 2 ? 's' : ''}`] }))
  )
})()

const pixelsOf = (p: Picture, w: number, h: number): Buffer => {
  const buf = Buffer.alloc(w * h * 3)
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const [cx, cy] = [x - w / 2, y - h / 2]
      const on = p.pattern === 'square' ? Math.abs(cx) < w / 4 && Math.abs(cy) < h / 4 : p.pattern === 'circle' ? cx * cx + cy * cy < (w * w) / 9 : Math.floor(x / 6) % 2 === 0
      if (on) buf.set(p.rgb, 3 * (y * w + x))
    }
  }
  return buf
}

/** Writes the pictures as PNG (48 x 40, so the loader resizes) under `root/images`, and the annotation files. */
export const writeDataset = async (root: string): Promise<{ images: string; albef: string; karpathy: string }> => {
  const images = join(root, 'images')
  mkdirSync(images, { recursive: true })
  for (const p of PICTURES) await sharp(pixelsOf(p, 48, 40), { raw: { width: 48, height: 40, channels: 3 } }).png().toFile(join(images, p.name))
  const albef = join(root, 'captions.json')
  writeFileSync(albef, JSON.stringify(PICTURES.map((p) => ({ image: p.name, caption: p.captions }))))
  const karpathy = join(root, 'dataset_tiny.json')
  const entries = PICTURES.map((p, i) => ({ filename: p.name, split: i % 4 === 3 ? 'train' : 'test', sentences: p.captions.map((raw) => ({ raw })) }))
  writeFileSync(karpathy, JSON.stringify({ dataset: 'tiny', images: entries }))
  return { images, albef, karpathy }
}
