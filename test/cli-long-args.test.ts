/**
 * Long command lines: onnxruntime-node crashes (SIGSEGV) in a process whose command line
 * is over about 30 KB, so bin/cmga.mjs hands a long one to a child through a private
 * file. A 10 000-word caption and 2000 image paths on the command line both work.
 */
import { spawnSync } from 'node:child_process'
import { readdirSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { cli, errorLine, tempDir } from './support/cli.js'

const bin = fileURLToPath(new URL('../bin/cmga.mjs', import.meta.url))
const image = fileURLToPath(new URL('../models/cmga/shapes/demo/images/00002.png', import.meta.url))
const root = tempDir('cmga-long-')
const model = join(root, 'model')

const cmga = (...args: string[]) => spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', maxBuffer: 64 * 2 ** 20 })
const leftovers = (): string[] => readdirSync(tmpdir()).filter((n) => n.startsWith('cmga-args-'))

test('a 10 000-word --text and 2000 --image paths run (no crash), and leave no file behind', async () => {
  const d = await cli('demo', '--keep', model)
  assert.is(d.code, 0, errorLine(d))
  const before = leftovers().length
  const words = Array.from({ length: 10000 }, (_, i) => ['a', 'green', 'circle', 'above', 'red'][i % 5]).join(' ')
  const long = cmga('match', '--model', model, '--image', image, '--text', words, '--text', 'a green circle above a red circle')
  assert.is(long.status, 0, `exit ${long.status} ${long.signal ?? ''}: ${long.stderr.slice(-300)}`)
  assert.is(JSON.parse(long.stdout).pairs.length, 2)
  const many = cmga('match', '--model', model, ...Array.from({ length: 2000 }, () => ['--image', image]).flat(), '--text', 'a green circle above a red circle')
  assert.is(many.status, 0, `exit ${many.status} ${many.signal ?? ''}: ${many.stderr.slice(-300)}`)
  assert.is(JSON.parse(many.stdout).pairs.length, 2000)
  assert.is(leftovers().length, before, 'the arguments file is removed')
  const bad = cmga('match', '--model', join(root, 'nope'), '--image', image, '--text', words)
  assert.is(bad.status, 1, 'the child exit code is passed on')
})

test.run()
