/**
 * A small learnable world for the training tests: coloured shapes on a noisy dark
 * background (PNG files written with sharp, random position and size), captioned
 * "a <colour> <shape>", a training set and a held-out set of new drawings, and a very
 * small CMGA config to train on it.
 * @since 0.1.0
 */
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import sharp from 'sharp'
import { mulberry32 } from '../../runtime/prng.js'

/** The colours and shapes of the world. */
export const COLOURS: ReadonlyArray<readonly [string, readonly [number, number, number]]> = [
  ['red', [220, 40, 40]], ['green', [40, 200, 60]], ['blue', [50, 70, 230]], ['yellow', [230, 220, 40]]
]
export const SHAPES = ['square', 'cross', 'ring'] as const

/** A very small config: 32 px images of 16 patches, one compression layer, 32-wide encoders. */
export const SMALL_CONFIG = {
  vision: { imageSize: 32, patchSize: 8, channels: 3, width: 32, depth: 2, heads: 2, mlpDim: 64, eps: 1e-6 },
  text: { vocabSize: 16, maxPositions: 8, typeVocabSize: 2, width: 32, heads: 2, intermediate: 64, textLayers: 1, fusionLayers: 1, eps: 1e-12, padTokenId: 0 },
  compression: { layers: [1], keepRate: 0.75, imageWeight: 0.5 },
  align: { embedDim: 16 }
}

const inside = (shape: (typeof SHAPES)[number], dx: number, dy: number, r: number): boolean => {
  const [ax, ay, d2] = [Math.abs(dx), Math.abs(dy), dx * dx + dy * dy]
  return shape === 'square' ? ax <= r * 0.8 && ay <= r * 0.8 : shape === 'cross' ? (ax <= r && ay <= r * 0.25) || (ay <= r && ax <= r * 0.25) : d2 <= r * r && d2 >= (r * 0.6) ** 2
}

/** One drawing, w x h RGB bytes. */
const draw = (shape: (typeof SHAPES)[number], rgb: readonly [number, number, number], w: number, h: number, rand: () => number): Buffer => {
  const buf = Buffer.alloc(w * h * 3)
  const r = w * (0.3 + 0.06 * rand())
  const [cx, cy] = [w * (0.42 + 0.16 * rand()), h * (0.42 + 0.16 * rand())]
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const on = inside(shape, x - cx, y - cy, r)
      for (let ch = 0; ch < 3; ch++) buf[(y * w + x) * 3 + ch] = on ? rgb[ch] : Math.floor(30 + 30 * rand())
    }
  }
  return buf
}

/** A written split: its annotation file and its pairs. */
export interface Split {
  readonly annotations: string
  readonly pairs: ReadonlyArray<{ readonly image: string; readonly caption: string }>
}

/** Writes `perCombo` drawings of every colour-shape pair under `root/images/<name>/` and `root/<name>.json`. */
export const writeSplit = async (root: string, name: string, perCombo: number, seed: number): Promise<Split> => {
  const rand = mulberry32(seed)
  mkdirSync(join(root, 'images', name), { recursive: true })
  const pairs: Array<{ image: string; caption: string }> = []
  for (let k = 0; k < perCombo; k++) {
    for (const [colour, rgb] of COLOURS) {
      for (const shape of SHAPES) {
        const image = `images/${name}/${colour}-${shape}-${k}.png`
        const [w, h] = [40, 40] // the loader resizes to the config's 32
        await sharp(draw(shape, rgb, w, h, rand), { raw: { width: w, height: h, channels: 3 } }).png().toFile(join(root, image))
        pairs.push({ image, caption: `a ${colour} ${shape}` })
      }
    }
  }
  const annotations = join(root, `${name}.json`)
  writeFileSync(annotations, JSON.stringify(pairs))
  return { annotations, pairs }
}

/** Writes the small config (and a vocab.txt beside it) into `root`; returns the config path. */
export const writeSmallConfig = (root: string): string => {
  mkdirSync(root, { recursive: true })
  const path = join(root, 'config.json')
  writeFileSync(path, JSON.stringify(SMALL_CONFIG, null, 1))
  const words = ['a', ...COLOURS.map(([c]) => c), ...SHAPES]
  writeFileSync(join(root, 'vocab.txt'), ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]', ...words].join('\n') + '\n')
  return path
}
