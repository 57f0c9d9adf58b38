/**
 * The shapes world (apps/data/shapes-world.ts, apps/data/write-shapes.ts, `cmga data
 * shapes`): determinism, captions and vocabulary, the spec's ranges and uniformity,
 * masks, Pillow's fills (test/fixtures/shapes/pil.json, made by make.py there) and the
 * CLI end to end.
 */
import { createHash } from 'node:crypto'
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import sharp from 'sharp'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import type { Colour, Relation, Shape, ShapesScene } from '../apps/data/shapes-world.js'
import { CAPTION_WORDS, COLOUR_RGB, COLOURS, drawSample, RELATIONS, renderScene, shapeMask, shapesSet, SHAPES, VOCAB } from '../apps/data/shapes-world.js'
import { mulberry32 } from '../runtime/prng.js'
import { cli, errorLine, tempDir } from './support/cli.js'

const bytesOf = (set: ReturnType<typeof shapesSet>): Buffer => Buffer.concat(set.flatMap((s) => [Buffer.from(s.pixels), Buffer.from(s.caption), Buffer.from(s.masks[0]), Buffer.from(s.masks[1])]))

test('same seed, same bytes; another seed, another set', () => {
  const a = bytesOf(shapesSet(3, 50, 32))
  assert.ok(a.equals(bytesOf(shapesSet(3, 50, 32))))
  assert.not.ok(a.equals(bytesOf(shapesSet(4, 50, 32))))
  assert.ok(bytesOf(shapesSet(3, 50, 64)).equals(bytesOf(shapesSet(3, 50, 64))))
})

test('captions: the grammar, the 20-entry vocabulary in the spec order', () => {
  assert.equal(VOCAB, ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]', 'a', 'above', 'below', 'blue', 'circle', 'green', 'left', 'of', 'purple', 'red', 'right', 'square', 'triangle', 'white', 'yellow'])
  const words = new Set([...COLOURS, ...SHAPES, ...RELATIONS.flatMap((r) => r.split(' ')), 'a'])
  assert.equal([...CAPTION_WORDS], [...words].sort())
  const grammar = new RegExp(`^a (${COLOURS.join('|')}) (${SHAPES.join('|')}) (${RELATIONS.join('|')}) a (${COLOURS.join('|')}) (${SHAPES.join('|')})$`)
  for (const s of shapesSet(1, 500, 32)) {
    const m = grammar.exec(s.caption)
    assert.ok(m !== null, s.caption)
    assert.equal([m![1], m![2], m![3], m![4], m![5]], [s.scene.c1, s.scene.s1, s.scene.relation, s.scene.c2, s.scene.s2])
    assert.is.not(s.scene.c1, s.scene.c2)
    for (const w of s.caption.split(' ')) assert.ok(VOCAB.includes(w), w)
  }
})

test('geometry within the spec ranges, S = 16, 32, 64', () => {
  for (const S of [16, 32, 64, 100]) {
    const rand = mulberry32(S)
    const [q, q3, r0] = [Math.floor(S / 4), Math.floor((3 * S) / 4), Math.floor(S / 7)]
    const seen = { r: new Set<number>(), g: new Set<number>(), near: new Set<number>(), far: new Set<number>(), free: new Set<number>() }
    for (let i = 0; i < 3000; i++) {
      const s = drawSample(rand, S)
      const { radius, background, relation, p1, p2 } = s.scene
      seen.r.add(radius - r0)
      seen.g.add(background)
      const [near, far, free1, free2] =
        relation === 'left of' ? [p1[0], p2[0], p1[1], p2[1]] : relation === 'right of' ? [p2[0], p1[0], p1[1], p2[1]] : relation === 'above' ? [p1[1], p2[1], p1[0], p2[0]] : [p2[1], p1[1], p1[0], p2[0]]
      seen.near.add(near - q)
      seen.far.add(far - q3)
      seen.free.add(free1).add(free2)
      assert.equal(s.pixels.length, S * S * 3)
      assert.equal(s.pixels[0] === s.pixels[1] && s.pixels[1] === s.pixels[2], true)
    }
    const range = (lo: number, hi: number): number[] => Array.from({ length: hi - lo + 1 }, (_, i) => lo + i)
    const sorted = (x: Set<number>): number[] => [...x].sort((a, b) => a - b)
    assert.equal(sorted(seen.r), [-1, 0, 1], `radius at ${S}`)
    assert.equal(sorted(seen.g), range(0, 40), `background at ${S}`)
    assert.equal(sorted(seen.near), [-2, -1, 0, 1, 2], `near at ${S}`)
    assert.equal(sorted(seen.far), [-2, -1, 0, 1, 2], `far at ${S}`)
    assert.equal(sorted(seen.free), range(q, q3), `free at ${S}`)
  }
})

test('uniform: 30 colour pairs, 3 x 3 shapes, 4 relations over 6000 draws', () => {
  const rand = mulberry32(12345)
  const N = 6000
  const pairs = new Map<string, number>()
  const shapes = new Map<string, number>()
  const relations = new Map<string, number>()
  const inc = (m: Map<string, number>, k: string): void => void m.set(k, (m.get(k) ?? 0) + 1)
  for (let i = 0; i < N; i++) {
    const { scene } = drawSample(rand, 16)
    inc(pairs, `${scene.c1}/${scene.c2}`)
    inc(shapes, `${scene.s1}/${scene.s2}`)
    inc(relations, scene.relation)
  }
  // chi-square against uniform; 0.999 quantiles: 29 df 58.3, 8 df 26.1, 3 df 16.3
  const chi2 = (m: Map<string, number>, k: number): number => [...m.values()].reduce((s, o) => s + (o - N / k) ** 2 / (N / k), 0)
  assert.equal(pairs.size, 30)
  assert.equal(shapes.size, 9)
  assert.equal(relations.size, 4)
  assert.ok(chi2(pairs, 30) < 58.3, `colour pairs chi2 ${chi2(pairs, 30)}`)
  assert.ok(chi2(shapes, 9) < 26.1, `shapes chi2 ${chi2(shapes, 9)}`)
  assert.ok(chi2(relations, 4) < 16.3, `relations chi2 ${chi2(relations, 4)}`)
})

test('masks: disjoint, each object pixel has its colour, the rest is background', () => {
  for (const S of [16, 32, 64]) {
    for (const s of shapesSet(S + 1, 300, S)) {
      const [m1, m2] = s.masks
      const [rgb1, rgb2] = [COLOUR_RGB[s.scene.c1], COLOUR_RGB[s.scene.c2]]
      const g = s.scene.background
      let n2 = 0
      for (let p = 0; p < S * S; p++) {
        const px = [s.pixels[p * 3], s.pixels[p * 3 + 1], s.pixels[p * 3 + 2]]
        assert.ok(m1[p] + m2[p] <= 1)
        assert.equal(px, m2[p] === 1 ? [...rgb2] : m1[p] === 1 ? [...rgb1] : [g, g, g])
        n2 += m2[p]
      }
      // object 2 is drawn whole: its mask is its shape's full (clipped) fill
      assert.ok(Buffer.from(m2).equals(Buffer.from(shapeMask(s.scene.s2, s.scene.p2[0], s.scene.p2[1], s.scene.radius, S))))
      assert.ok(n2 > 0)
    }
  }
})

// -------------------------------------------------------------------------------------
// Pillow's fills
// -------------------------------------------------------------------------------------

interface PilFixture {
  readonly pillow: string
  readonly grid: ReadonlyArray<{ size: number; shape: Shape; cx: number; cy: number; r: number; mask: string }>
  readonly scenes: ReadonlyArray<{ size: number; c1: Colour; s1: Shape; relation: Relation; c2: Colour; s2: Shape; background: number; radius: number; p1: [number, number]; p2: [number, number]; sha256: string; mask1: string; mask2: string }>
}

const fixture: PilFixture = JSON.parse(readFileSync(process.env.SHAPES_PIL_FIXTURE ?? join(import.meta.dirname ?? new URL('.', import.meta.url).pathname, 'fixtures/shapes/pil.json'), 'utf8'))

const packed = (m: Uint8Array): string => {
  const out = Buffer.alloc(Math.ceil(m.length / 8))
  for (let i = 0; i < m.length; i++) if (m[i] === 1) out[i >> 3] |= 0x80 >> (i & 7)
  return out.toString('base64')
}

test('the fills are Pillow 9.4\'s: every shape and radius at S = 16, 32, 64, also clipped at the borders', () => {
  assert.ok(fixture.grid.length > 0 || process.env.SHAPES_PIL_FIXTURE !== undefined)
  let bad = 0
  for (const g of fixture.grid) {
    const ours = packed(shapeMask(g.shape, g.cx, g.cy, g.r, g.size))
    if (ours !== g.mask) bad++
    assert.is(ours, g.mask, `${g.shape} r=${g.r} at (${g.cx}, ${g.cy}), S=${g.size}`)
  }
  assert.is(bad, 0)
})

test('whole scenes are Pillow\'s, byte for byte (RGB bytes\' SHA-256) with its per-object fills', () => {
  assert.ok(fixture.scenes.length > 0)
  for (const sc of fixture.scenes) {
    const scene: ShapesScene = { c1: sc.c1, s1: sc.s1, relation: sc.relation, c2: sc.c2, s2: sc.s2, background: sc.background, radius: sc.radius, p1: sc.p1, p2: sc.p2 }
    const s = renderScene(scene, sc.size)
    assert.is(createHash('sha256').update(s.pixels).digest('hex'), sc.sha256, JSON.stringify(scene))
    assert.is(packed(shapeMask(sc.s1, sc.p1[0], sc.p1[1], sc.radius, sc.size)), sc.mask1)
    assert.is(packed(s.masks[1]), sc.mask2)
  }
})

// -------------------------------------------------------------------------------------
// the CLI
// -------------------------------------------------------------------------------------

test('cmga data shapes: writes the set; PNGs decode to the generated pixels; masks; refuses an existing --out', async () => {
  const root = tempDir('cmga-shapes-')
  try {
    const out = join(root, 'set')
    const r = await cli('data', 'shapes', '--out', out, '--count', '12', '--seed', '5', '--size', '24', '--masks')
    assert.is(r.code, 0, r.stderr.join('\n'))
    assert.equal(readdirSync(root), ['set']) // no temporary directory left beside it
    const want = shapesSet(5, 12, 24)
    const annotations = JSON.parse(readFileSync(join(out, 'annotations.json'), 'utf8'))
    assert.equal(annotations, want.map((s, i) => ({ image: `images/${String(i).padStart(5, '0')}.png`, caption: [s.caption] })))
    assert.is(readFileSync(join(out, 'vocab.txt'), 'utf8'), VOCAB.join('\n') + '\n')
    const objects = JSON.parse(readFileSync(join(out, 'objects.json'), 'utf8'))
    assert.is(objects.length, 12)
    for (let i = 0; i < 12; i++) {
      const name = String(i).padStart(5, '0')
      const img = await sharp(join(out, 'images', `${name}.png`)).raw().toBuffer({ resolveWithObject: true })
      assert.equal([img.info.width, img.info.height, img.info.channels], [24, 24, 3])
      assert.ok(img.data.equals(Buffer.from(want[i].pixels)), `image ${i}`)
      const meta = await sharp(join(out, 'masks', `${name}.png`)).metadata()
      assert.equal([meta.channels, meta.depth], [1, 'uchar'])
      const mask = await sharp(join(out, 'masks', `${name}.png`)).extractChannel(0).raw().toBuffer() // sharp decodes grey to 3 channels
      const [m1, m2] = want[i].masks
      assert.ok(mask.equals(Buffer.from(m1.map((v, p) => (m2[p] === 1 ? 2 : v)))), `mask ${i}`)
      assert.equal(objects[i], { image: `images/${name}.png`, mask: `masks/${name}.png`, caption: want[i].caption, ...JSON.parse(JSON.stringify(want[i].scene)) })
    }
    // the same seed writes the same files, byte for byte
    const twin = join(root, 'twin')
    assert.is((await cli('data', 'shapes', '--out', twin, '--count', '12', '--seed', '5', '--size', '24', '--masks')).code, 0)
    for (const f of ['annotations.json', 'vocab.txt', 'objects.json', ...readdirSync(join(out, 'images')).map((n) => `images/${n}`), ...readdirSync(join(out, 'masks')).map((n) => `masks/${n}`)])
      assert.ok(readFileSync(join(out, f)).equals(readFileSync(join(twin, f))), f)
    rmSync(twin, { recursive: true })
    // an existing --out is refused (exit 2), then replaced with --force
    const again = await cli('data', 'shapes', '--out', out, '--count', '3')
    assert.is(again.code, 2)
    assert.match(errorLine(again), `--out ${out} already exists (use --force to replace it)`)
    assert.ok(existsSync(join(out, 'images', '00011.png')))
    const forced = await cli('data', 'shapes', '--out', out, '--count', '3', '--force')
    assert.is(forced.code, 0, forced.stderr.join('\n'))
    assert.equal(readdirSync(join(out, 'images')), ['00000.png', '00001.png', '00002.png'])
    assert.not.ok(existsSync(join(out, 'masks')))
    assert.equal(readdirSync(root), ['set'])
  } finally {
    rmSync(root, { recursive: true, force: true })
  }
})

test('cmga data shapes: bad flags are one clear usage error (exit 2); --help says what it writes', async () => {
  const root = tempDir('cmga-shapes-')
  try {
    mkdirSync(join(root, 'x'), { recursive: true })
    for (const [args, msg] of [
      [[], '--out is required'],
      [['--out', join(root, 'a'), '--size', '15'], '--size must be an integer in [16, 1024], got "15"'],
      [['--out', join(root, 'a'), '--count', '0'], '--count must be an integer'],
      [['--out', join(root, 'a'), '--count', 'many'], '--count must be an integer'],
      [['--out', join(root, 'a'), '--seed=-1'], '--seed must be an integer'],
      [['--out', join(root, 'a'), '--seed', '4294967296'], '--seed must be an integer'],
      [['--out', join(root, 'a'), '--colour', 'red'], 'Unknown option'],
      [['--out', join(root, 'a'), 'extra'], 'unexpected argument']
    ] as const) {
      const r = await cli('data', 'shapes', ...args)
      assert.is(r.code, 2, args.join(' '))
      assert.is(r.stderr.filter((l) => l.startsWith('cmga:')).length, 1)
      assert.match(errorLine(r), msg)
    }
    assert.not.ok(existsSync(join(root, 'a')))
    const h = await cli('data', 'shapes', '--help')
    assert.is(h.code, 0)
    for (const s of ['images/NNNNN.png', 'annotations.json', 'vocab.txt', 'masks/NNNNN.png', 'objects.json', '--force']) assert.match(h.stdout.join('\n'), s)
    const top = await cli('--help')
    assert.match(top.stdout.join('\n'), 'data shapes')
  } finally {
    rmSync(root, { recursive: true, force: true })
  }
})

test.run()
