/** The README's example runs and its model computes a softmax over 3 classes. */
import { execFileSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { test } from 'uvu'
import * as assert from 'uvu/assert'

test('examples/small-model.ts runs', () => {
  const root = fileURLToPath(new URL('..', import.meta.url))
  const out = execFileSync(process.execPath, ['--import', 'tsx', 'examples/small-model.ts'], { cwd: root, encoding: 'utf8' })
  assert.match(out, /graph mlp\(x: float32\[B,4\]\)/)
  const row = out.split('\n').find((l) => l.startsWith('y '))
  assert.ok(row !== undefined)
  const values = row.split(']')[1].trim().split(' ').map(Number)
  assert.is(values.length, 6)
  for (const r of [0, 1]) assert.ok(Math.abs(values[3 * r] + values[3 * r + 1] + values[3 * r + 2] - 1) < 1e-3)
})

test.run()
