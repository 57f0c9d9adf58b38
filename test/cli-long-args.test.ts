/**
 * Long command lines: onnxruntime-node crashes (SIGSEGV) in a process whose command line
 * is over about 30 KB, so bin/cmga.mjs hands a long one to a child through a private
 * file. A 10 000-word caption and 2000 image paths on the command line both work.
 */
import { spawnSync } from 'node:child_process'
import { mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs'
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

test('--texts-from: a 100 000-word caption (over one argument\'s 128 KB) from a file; --images-from a list file or a folder of 2000 images', async () => {
  const words = Array.from({ length: 100000 }, (_, i) => ['a', 'green', 'circle', 'above', 'red'][i % 5]).join(' ')
  const texts = join(root, 'texts.txt')
  writeFileSync(texts, `${words}\na green circle above a red circle\n\n`)
  const folder = join(root, 'many')
  mkdirSync(folder, { recursive: true })
  const png = readFileSync(image)
  for (let i = 0; i < 2000; i++) writeFileSync(join(folder, `${String(i).padStart(4, '0')}.png`), png)
  const list = join(root, 'images.txt')
  writeFileSync(list, `${image}\n${image}\n`)
  const fromFiles = cmga('match', '--model', model, '--images-from', list, '--texts-from', texts)
  assert.is(fromFiles.status, 0, `exit ${fromFiles.status} ${fromFiles.signal ?? ''}: ${fromFiles.stderr.slice(-300)}`)
  const pairs = JSON.parse(fromFiles.stdout).pairs as { text: string; image: string; stage1: number }[]
  assert.is(pairs.length, 4, '2 images x 2 texts (the empty line is skipped)')
  assert.is(pairs[0].text.split(' ').length, 100000)
  const withFlag = cmga('match', '--model', model, '--image', image, '--text', 'a green circle above a red circle')
  // the same score up to float rounding (a text's features depend a little on its batch)
  assert.ok(Math.abs(JSON.parse(withFlag.stdout).pairs[0].stage1 - pairs[1].stage1) < 1e-5, 'a text from the file scores as the same text on the command line')
  const fromFolder = cmga('match', '--model', model, '--images-from', folder, '--text', 'a green circle above a red circle')
  assert.is(fromFolder.status, 0, `exit ${fromFolder.status} ${fromFolder.signal ?? ''}: ${fromFolder.stderr.slice(-300)}`)
  const got = JSON.parse(fromFolder.stdout).pairs as { image: string }[]
  assert.is(got.length, 2000)
  assert.is(got[0].image, join(folder, '0000.png'), 'a folder is listed sorted')
  const missing = cmga('match', '--model', model, '--images-from', join(root, 'nope.txt'), '--text', 'x')
  assert.is(missing.status, 1)
  assert.match(missing.stderr, /cannot read --images-from .*nope\.txt/)
  const empty = join(root, 'empty.txt')
  writeFileSync(empty, '\n')
  const nothing = cmga('match', '--model', model, '--image', image, '--texts-from', empty)
  assert.not.equal(nothing.status, 0)
  assert.match(nothing.stderr, /--texts-from .*empty\.txt lists nothing/)
})

test.run()
