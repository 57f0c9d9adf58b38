/** Checkpoints trained at another image size: pos_embed is resized as ALBEF's interpolate_pos_embed does (values from PyTorch). */
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import * as E from 'fp-ts/lib/Either.js'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import type { HostTensor } from '../compiler/ir/tensor.js'
import { describeCheckpoint, matchCheckpoint } from '../apps/compile/checkpoint.js'
import { readConfigFile } from '../apps/cmga/config-file.js'
import { interpolatePosEmbed } from '../models/cmga/pos-embed.js'
import { readSafetensors } from '../runtime/safetensors/index.js'

const here = (p: string): string => fileURLToPath(new URL(p, import.meta.url))
const get = <A>(e: E.Either<{ message: string }, A>): A => {
  if (E.isLeft(e)) throw new Error(e.left.message)
  return e.right
}
const fixture = get(readSafetensors(here('./fixtures/torch/pos-embed.safetensors'))).tensors
const f32 = (name: string): HostTensor<'float32'> => fixture.get(name) as HostTensor<'float32'>

/** Largest |a - b| / max(1, |b|). */
const worst = (a: HostTensor, b: HostTensor): number =>
  Array.from(a.data as Float32Array).reduce((m, v, i) => Math.max(m, Math.abs(v - (b.data[i] as number)) / Math.max(1, Math.abs(b.data[i] as number))), 0)

test("interpolatePosEmbed equals PyTorch's bicubic resize (down 16 -> 14, up 4 -> 7, 6 -> 4)", () => {
  for (const [from, to, m] of [['grid16', 'grid16_to14', 14], ['grid4', 'grid4_to7', 7], ['grid6', 'grid6_to4', 4]] as const) {
    const got = interpolatePosEmbed(f32(from), m)
    assert.equal(got.shape, f32(to).shape, from)
    assert.ok(worst(got, f32(to)) < 1e-5, `${from}: ${worst(got, f32(to))}`)
    assert.equal(Array.from(got.data.subarray(0, got.shape[2])), Array.from(f32(from).data.subarray(0, got.shape[2])), `${from}: [CLS] row kept`)
  }
  assert.throws(() => interpolatePosEmbed({ dtype: 'float32', shape: [1, 11, 8], data: new Float32Array(88) }, 4), /not \[1, 1 \+ n\*n, D\]/)
})

const tiny = here('./fixtures/cmga-tiny/')
const config = get(readConfigFile(join(tiny, 'config.json')))
const weights = get(readSafetensors(join(tiny, 'weights.safetensors'))).tensors

test('a checkpoint whose pos_embed is for another grid is resized on import, and says so', () => {
  const ck = get(matchCheckpoint(config, new Map([...weights, ['visual_encoder.pos_embed', f32('grid6')]]), 'grid6.pth'))
  const pe = ck.weights.get('visual_encoder.pos_embed') as HostTensor<'float32'>
  assert.equal(pe.shape, [1, 17, 64])
  assert.ok(worst(pe, f32('grid6_to4')) < 1e-5)
  assert.equal(ck.summary.interpolated, ['visual_encoder.pos_embed: 6x6 -> 4x4'])
  assert.match(describeCheckpoint(ck), /interpolated \(bicubic, as ALBEF\) visual_encoder\.pos_embed: 6x6 -> 4x4/)
  // the config's own grid is taken as is
  assert.equal(get(matchCheckpoint(config, weights, 'same')).summary.interpolated, [])
})

test('a pos_embed that is not a square grid, or of another width, is still a mis-shaped weight', () => {
  for (const shape of [[1, 20, 64], [1, 37, 32]]) {
    const bad: HostTensor = { dtype: 'float32', shape, data: new Float32Array(shape[1] * shape[2]) }
    const r = matchCheckpoint(config, new Map([...weights, ['visual_encoder.pos_embed', bad]]), 'bad.pth')
    assert.ok(E.isLeft(r) && r.left.message.includes(`visual_encoder.pos_embed is [${shape.join(', ')}], expected [1, 17, 64]`), E.isLeft(r) ? r.left.message : 'accepted')
  }
})

test.run()
