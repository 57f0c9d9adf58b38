/**
 * The Lance store's ANN index on a synthetic gallery (bench/synthetic.ts): built with
 * the given parameters; its candidates are gallery rows ordered by the exact global
 * score, and mostly the exact search's.
 */
import { join } from 'node:path'
import * as E from 'fp-ts/lib/Either.js'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { connect, lanceWriter, openLanceStore } from '../apps/retrieval/store/lance.js'
import type { ImageStore } from '../apps/retrieval/store/store.js'
import { mixture } from '../bench/synthetic.js'
import { tempDir } from './support/cli.js'

const get = <A>(e: E.Either<{ message: string }, A>): A => {
  if (E.isLeft(e)) throw new Error(e.left.message)
  return e.right
}

const dim = 32
const model = { fingerprint: 'synthetic', dir: 'none', weights: 'none', quantize: 'none' }

test('an IVF-PQ index over 3000 synthetic images: candidates in exact score order, recall@10 >= 0.8 of exact', async () => {
  const dir = join(tempDir('cmga-ann-'), 'gallery')
  const gen = mixture({ dim, clusters: 24, spread: 0.6, seed: 3 })
  const w = get(await lanceWriter(dir, { format: 'cmga-index', formatVersion: 2, store: 'lance', model, root: '/nowhere', shard: null }, dim, null)())
  for (let k = 0; k < 3; k++) get(await w.append(k, k * 1000, Array.from({ length: 1000 }, (_, i) => `img-${String(k * 1000 + i).padStart(5, '0')}.png`), gen.batch(1000, 2))())
  get(await w.finish({ partitions: 16, subVectors: 8 })())
  await w.close()
  const store: ImageStore = get(await openLanceStore(get(await connect(dir)()), dir)())
  assert.ok(store.hasAnn)
  assert.is(store.size, 3000)
  const queries = gen.queries(20)
  let found = 0
  for (let q = 0; q < 20; q++) {
    const query = queries.subarray(q * dim, (q + 1) * dim)
    const exact = get(await store.candidates(query, 10, { kind: 'exact' })())
    const ann = get(await store.candidates(query, 10, { kind: 'ann', nprobes: 4, refineFactor: 5 })())
    assert.is(ann.length, 10)
    const taken = get(await store.take(ann)())
    const scores = ann.map((_, r) => taken.features.global.data.subarray(r * dim, (r + 1) * dim).reduce((s, v, e) => s + v * query[e], 0))
    assert.ok(scores.every((s, r) => r === 0 || s <= scores[r - 1] + 1e-6), 'best first')
    found += ann.filter((r) => exact.includes(r)).length
  }
  assert.ok(found / 200 >= 0.8, `recall@10 ${found / 200}`)
  await store.close()
})

test.run()
