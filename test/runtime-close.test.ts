/**
 * Closing a loaded model (workers 0): close waits for the runs in flight, then releases
 * every session; a run after close is one clear error.
 */
import { spawnSync } from 'node:child_process'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import * as E from 'fp-ts/lib/Either.js'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { loadModel } from '../runtime/model/model.js'
import { randomTensor } from './support/random.js'
import { compileTinyModel } from './support/retrieval-data.js'
import { tempDir } from './support/cli.js'

const model = compileTinyModel(join(tempDir('cmga-close-'), 'model'))

test('close: waits for the runs in flight, releases the sessions, refuses runs after it', async () => {
  const m = loadModel(model)
  if (E.isLeft(m)) throw new Error(m.left.message)
  const S = m.right.manifest.config as { vision: { imageSize: number } }
  const pixels = randomTensor('float32', [2, 3, S.vision.imageSize, S.vision.imageSize], 3)
  const running = Array.from({ length: 8 }, () => m.right.run('vision_image', { pixels })())
  await m.right.close()
  for (const r of await Promise.all(running)) assert.ok(E.isRight(r), 'every run in flight finished')
  const after = await m.right.run('vision_image', { pixels })()
  assert.ok(E.isLeft(after) && after.left.kind === 'runtime' && after.left.message.endsWith('was closed'))
  await m.right.close() // twice is fine
})

test('open, run, close 30 times: every cycle works (sessions are released, not left to the GC)', async () => {
  for (let k = 0; k < 30; k++) {
    const m = loadModel(model)
    if (E.isLeft(m)) throw new Error(m.left.message)
    const S = m.right.manifest.config as { vision: { imageSize: number } }
    const r = await m.right.run('vision_image', { pixels: randomTensor('float32', [1, 3, S.vision.imageSize, S.vision.imageSize], k) })()
    assert.ok(E.isRight(r))
    await m.right.close()
  }
})

test('close on 2 workers with 64 runs in flight, 10 times: no crash; each run finished or refused', () => {
  const child = fileURLToPath(new URL('./support/close-in-flight.ts', import.meta.url))
  for (let k = 0; k < 10; k++) {
    const r = spawnSync(process.execPath, ['--import', 'tsx', child, model], { encoding: 'utf8' })
    assert.is(r.status, 0, `run ${k}: exit ${r.status} ${r.signal ?? ''} ${r.stderr.slice(-300)}`)
    const out = JSON.parse(r.stdout) as { ok: number; closed: number; other: number }
    assert.is(out.ok + out.closed, 64, JSON.stringify(out))
  }
})

test.run()
