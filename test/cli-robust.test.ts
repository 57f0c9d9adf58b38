/**
 * Issue 14, a CLI that never falls over and behaves the same everywhere: one output
 * policy (an existing output is refused unless --force, in one wording; a directory for
 * a file and a file for a directory are named), one vocabulary of flags, progress lines
 * off a terminal, SIGINT/SIGTERM saying what was kept (exit 130/143), a `.partial` index
 * without progress that starts over, vocabularies checked against the model, and the
 * next step printed after training. Tiny models only.
 */
import { spawn } from 'node:child_process'
import { cpSync, existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { commands } from '../cli/main.js'
import { progressReporter } from '../cli/progress.js'
import { cli, errorLine, tempDir } from './support/cli.js'
import { PICTURES, compileTinyModel, writeDataset, writeVocab } from './support/retrieval-data.js'
import { writeSmallConfig, writeSplit } from './support/shapes-data.js'

const root = tempDir('cmga-robust-')
const fixture = 'test/fixtures/cmga-tiny'
const file = join(root, 'exists.json')
const dir = join(root, 'exists-dir')
writeFileSync(file, '{}\n')
mkdirSync(dir)
writeFileSync(join(dir, 'marker'), 'old')

// -------------------------------------------------------------------------------------
// 1. one output policy
// -------------------------------------------------------------------------------------

/** Every command that writes, with an output flag pointing at `path` (other paths need not exist: the output is checked first). */
const writers = (path: string): ReadonlyArray<readonly [string, readonly string[], 'file' | 'directory']> => [
  ['out', ['compile', '--config', `${fixture}/config.json`, '--random-init', '0', '--out', path], 'directory'],
  ['out', ['index', '--model', 'm', '--images', 'i', '--out', path], 'directory'],
  ['out', ['train', '--config', 'c.json', '--annotations', 'a.json', '--images', 'i', '--steps', '1', '--batch', '2', '--lr', '1e-3', '--out', path], 'directory'],
  ['keep', ['demo', '--keep', path], 'directory'],
  ['out', ['data', 'shapes', '--out', path], 'directory'],
  ['out', ['infer', '--model', 'm', '--inputs', 'x.safetensors', '--out', path], 'file'],
  ['out', ['sample-inputs', '--config', `${fixture}/config.json`, '--out', path], 'file'],
  ['out', ['preprocess', '--images', 'i.png', '--size', '8', '--out', path], 'file'],
  ['out', ['grad', '--config', 'c.json', '--weights', 'w', '--inputs', 'x', '--out', path], 'file'],
  ['out', ['match', '--model', 'm', '--image', 'i.png', '--text', 'a', '--out', path], 'file'],
  ['out', ['vqa', '--model', 'm', '--image', 'i.png', '--question', 'q', '--out', path], 'file'],
  ['out', ['retrieve', '--model', 'm', '--index', 'x', '--query', 'q', '--out', path], 'file'],
  ['out', ['eval', 'retrieval', '--model', 'm', '--annotations', 'a.json', '--images', 'i', '--out', path], 'file'],
  ['out', ['inspect', '--model', 'm', '--out', path], 'file'],
  ['out', ['explain', '--model', 'm', '--image', 'i.png', '--text', 'a', '--out', path], 'file'],
  ['json', ['explain', '--model', 'm', '--image', 'i.png', '--text', 'a', '--out', join(root, 'new.png'), '--json', path], 'file']
]

test('every writing command refuses an existing output, in one wording, and names a file for a directory and a directory for a file', async () => {
  for (const [flag, args, kind] of writers('')) {
    const existing = kind === 'file' ? file : dir
    const r = await cli(...args.map((a) => (a === '' ? existing : a)))
    assert.is(r.code, 2, `${args[0]}: ${r.stderr.join(' | ')}`)
    assert.is(errorLine(r), `cmga: usage error: --${flag} ${existing} already exists (use --force to replace it)`, args.slice(0, 2).join(' '))
    const wrong = kind === 'file' ? dir : file
    const w = await cli(...args.map((a) => (a === '' ? wrong : a)), '--force')
    assert.is(w.code, 2, `${args[0]} --force: ${w.stderr.join(' | ')}`)
    assert.is(errorLine(w), `cmga: usage error: --${flag} ${wrong} ${kind === 'file' ? 'is a directory; give a file to write' : 'is a file; give a directory to write'}`)
  }
  // and an input that is a directory is named as one (not a bare EISDIR)
  const config = await cli('compile', '--config', dir, '--random-init', '0', '--out', join(root, 'never-compiled'))
  assert.is(errorLine(config), `cmga: io error: cannot read config ${dir}: is a directory, not a file`)
  const inputs = await cli('infer', '--model', 'm', '--inputs', dir, '--out', join(root, 'never.safetensors'))
  assert.match(errorLine(inputs), /is not a compiled model directory|is a directory, not a file/)
  const r = await cli('reproduce', '--out', file)
  assert.is([r.code, errorLine(r)].join(' '), `2 cmga: usage error: --out ${file} is a file; give a directory to write`)
  assert.is(readFileSync(join(dir, 'marker'), 'utf8'), 'old', 'nothing touched')
})

test('--force is in the help of every writing command, and replaces (atomically: the new output is whole)', async () => {
  for (const name of ['compile', 'index', 'index merge', 'train', 'demo', 'data shapes', 'infer', 'sample-inputs', 'preprocess', 'grad', 'match', 'vqa', 'retrieve', 'eval retrieval', 'eval contrasts', 'inspect', 'explain', 'reproduce']) {
    const c = commands.find((x) => x.name === name)
    assert.ok(c !== undefined && /--force/.test(c.help) && c.flags.force !== undefined, `${name} --help names --force`)
  }
  const inputs = await cli('sample-inputs', '--config', `${fixture}/config.json`, '--out', file, '--force')
  assert.is(inputs.code, 0, errorLine(inputs))
  assert.ok(readFileSync(file).length > 100 && !readdirSync(root).some((f) => f.endsWith('.tmp')))
  const model = join(root, 'forced-model')
  mkdirSync(model)
  writeFileSync(join(model, 'marker'), 'old')
  const vocab = writeVocab(join(root, 'vocab-100.txt'))
  const c = await cli('compile', '--config', `${fixture}/config.json`, '--weights', `${fixture}/weights.safetensors`, '--vocab', vocab, '--out', model, '--force')
  assert.is(c.code, 0, errorLine(c))
  assert.ok(existsSync(join(model, 'manifest.json')) && !existsSync(join(model, 'marker')))
  assert.is(readFileSync(join(model, 'vocab.txt'), 'utf8'), readFileSync(vocab, 'utf8'), 'compile --vocab copies the vocabulary into the model directory')
})

// -------------------------------------------------------------------------------------
// 2. one vocabulary of flags
// -------------------------------------------------------------------------------------

test('flags: empty --text, cmga eval alone, --k and --rerank, --max-length and --max-len, --workers 0 everywhere', async () => {
  const empty = await cli('match', '--model', 'm', '--image', 'i.png', '--text', '')
  assert.is([empty.code, errorLine(empty)].join(' '), '2 cmga: usage error: cmga match: --text must not be empty')
  const explainEmpty = await cli('explain', '--model', 'm', '--image', 'i.png', '--text', '', '--out', join(root, 'e.png'))
  assert.is([explainEmpty.code, errorLine(explainEmpty)].join(' '), '2 cmga: usage error: cmga explain: --text must not be empty')
  const which = await cli('eval')
  assert.equal([which.code, which.stderr], [2, ['cmga eval: which evaluation? (cmga eval retrieval, cmga eval contrasts)']])
  for (const flag of ['--k', '--rerank']) {
    const r = await cli('retrieve', '--model', 'm', '--index', 'x', '--query', 'q', flag, 'many')
    assert.is([r.code, errorLine(r)].join(' '), `2 cmga: usage error: cmga retrieve: --k must be an integer in [0, ${Number.MAX_SAFE_INTEGER}], got "many"`, flag)
  }
  for (const list of ['0.1,,1', '0.1,x', '']) {
    const r = await cli('eval', 'retrieval', '--model', 'm', '--annotations', 'a.json', '--images', 'i', `--itm-weight-sweep=${list}`)
    assert.is([r.code, errorLine(r)].join(' '), `2 cmga: usage error: cmga eval retrieval: --itm-weight-sweep must be numbers separated by commas (e.g. 0,0.01,0.1), got "${list}"`, list)
  }
  for (const [flags, message] of [[['--vflip-skip', 'triangle'], '--vflip-skip needs --vflip swap'], [['--vflip', 'up'], '--vflip must be one of none, swap'], [['--vflip', 'swap', '--vflip-skip', ','], '--vflip-skip takes comma-listed words'], [['--near-miss-spans'], '--near-miss-spans needs --near-misses above 0'], [['--image-cache', 'lots'], '--image-cache must be an integer in [0, 1048576], got "lots"']] as const) {
    const r = await cli('train', '--config', 'c.json', '--annotations', 'a.json', '--images', 'i', '--out', join(root, 'never'), '--steps', '1', '--batch', '2', '--lr', '1e-3', ...flags)
    assert.ok(r.code === 2 && errorLine(r).includes(message), `${flags.join(' ')}: ${errorLine(r)}`)
  }
  for (const flag of ['--max-length', '--max-len']) {
    const r = await cli('train', '--config', 'c.json', '--annotations', 'a.json', '--images', 'i', '--out', join(root, 'never'), '--steps', '1', '--batch', '2', '--lr', '1e-3', flag, '1')
    assert.match(errorLine(r), /cmga train: --max-length must be an integer in \[2, /, flag)
  }
  for (const flag of ['--max-length', '--length']) {
    const r = await cli('sample-inputs', '--config', 'models/cmga/configs/tiny.json', '--out', join(root, 'never.safetensors'), flag, '1')
    assert.match(errorLine(r), /cmga sample-inputs: --max-length must be an integer in \[2, 32\]/, flag)
  }
  for (const name of ['index', 'eval retrieval', 'match', 'retrieve', 'vqa']) {
    assert.ok((commands.find((c) => c.name === name)?.help ?? '').includes('(default 0: the main thread)'), `${name}: --workers defaults to 0`)
  }
  assert.match(commands.find((c) => c.name === 'retrieve')?.help ?? '', /--k N .*0: stage 1 only/s)
})

// -------------------------------------------------------------------------------------
// 3. progress off a terminal
// -------------------------------------------------------------------------------------

test('progress off a terminal: a line every interval with the phase, the counts and the rate', () => {
  let now = 0
  const lines: string[] = []
  const p = progressReporter('eval retrieval', (l) => lines.push(l), { tty: false, interval: 5000, now: () => now })
  p.update('images', 0, 500)
  now = 1000
  p.update('images', 24, 500)
  now = 5000
  p.update('images', 120, 500)
  now = 6000
  p.update('images', 150, 500)
  now = 10000
  p.update('images', 245, 500)
  p.stop()
  assert.equal(lines, ['eval retrieval: images 120/500 (24/s)', 'eval retrieval: images 245/500 (25/s)'])
})

// -------------------------------------------------------------------------------------
// 4. signals
// -------------------------------------------------------------------------------------

/** `cmga ARGS` as a child process, sent `signal` once `ready(stderr)` holds; its exit code and stderr. */
const interrupted = (args: readonly string[], signal: NodeJS.Signals, ready: (stderr: string) => boolean): Promise<{ code: number | null; stderr: string }> =>
  new Promise((done) => {
    const child = spawn(process.execPath, ['bin/cmga.mjs', ...args], { stdio: ['ignore', 'ignore', 'pipe'] })
    let stderr = ''
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()))
    const poll = setInterval(() => {
      if (!ready(stderr)) return
      clearInterval(poll)
      child.kill(signal)
    }, 50)
    const stuck = setTimeout(() => child.kill('SIGKILL'), 120_000) // never ready: fail rather than hang
    child.on('exit', (code) => {
      clearInterval(poll)
      clearTimeout(stuck)
      done({ code, stderr })
    })
  })

const small = join(root, 'small')
const configPath = writeSmallConfig(small)
const split = writeSplit(small, 'train', 1, 1) // 12 pairs
const trainArgs = (out: string, steps: number, ...more: string[]): string[] => [
  'train', '--config', configPath, '--annotations', join(small, 'train.json'), '--images', small, '--out', out,
  '--steps', String(steps), '--batch', '4', '--lr', '1e-3', '--max-length', '6', ...more
]

test('SIGINT stops cmga train with the last checkpoint and --resume named, exit 130', async () => {
  await split
  const out = join(root, 'interrupted-run')
  const r = await interrupted(trainArgs(out, 100000, '--save-every', '2', '--log-every', '1'), 'SIGINT', (s) => /step ([3-9]|\d\d+)\/100000/.test(s))
  assert.is(r.code, 130, r.stderr)
  const line = r.stderr.split('\n').filter((l) => l.startsWith('cmga: interrupted'))
  assert.is(line.length, 1, r.stderr)
  assert.match(line[0], new RegExp(`^cmga: interrupted \\(SIGINT\\): the last checkpoint is ${out}/checkpoints/step-\\d{8} \\(step \\d+\\); run the same command with --resume to continue from it$`))
  const kept = /(step-\d{8})/.exec(line[0])?.[1] as string
  assert.ok(existsSync(join(out, 'checkpoints', kept, 'weights.safetensors')), 'the checkpoint named is whole')
})

test('SIGTERM stops cmga reproduce with what was kept, exit 143', async () => {
  const out = join(root, 'reproduce')
  const r = await interrupted(['reproduce', '--quick', '--out', out], 'SIGTERM', () => existsSync(join(out, 'plan.json')))
  assert.is(r.code, 143, r.stderr)
  assert.ok(r.stderr.includes(`cmga: interrupted (SIGTERM): finished steps are kept in ${out}; run the same command again to continue`), r.stderr)
})

test('cmga train prints the command that compiles what it trained', async () => {
  await split
  const out = join(root, 'short-run')
  const r = await cli(...trainArgs(out, 2))
  assert.is(r.code, 0, errorLine(r))
  assert.is(r.stderr[r.stderr.length - 1], `compile it: cmga compile --config ${configPath} --weights ${join(out, 'weights.safetensors')} --vocab ${join(out, 'vocab.txt')} --out MODEL`)
})

// -------------------------------------------------------------------------------------
// 5, 6. a .partial index without progress; vocabularies
// -------------------------------------------------------------------------------------

const model = compileTinyModel(join(root, 'model'))
const noVocab = compileTinyModel(join(root, 'no-vocab'), false)
const data = writeDataset(join(root, 'data'))

test('a .partial index without progress.json starts over, with a message', async () => {
  const { images } = await data
  const out = join(root, 'index')
  mkdirSync(`${out}.partial`)
  writeFileSync(join(`${out}.partial`, 'images-00000.safetensors'), 'killed mid-way')
  const r = await cli('index', '--model', model, '--images', images, '--out', out)
  assert.is(r.code, 0, r.stderr.join('\n'))
  assert.ok(r.stderr.includes(`${resolve(out)}.partial has no readable progress.json (nothing to resume from): starting over`), r.stderr.join('\n'))
  assert.ok(existsSync(join(out, 'index.json')) && !existsSync(`${out}.partial`))
})

test('cmga explain --max-length: the text cut to that many tokens', async () => {
  const { images } = await data
  const json = join(root, 'explain.json')
  const long = 'a red square with a blue circle and a green stripe on the sea'
  const r = await cli('explain', '--model', model, '--image', join(images, PICTURES[0].name), '--text', long, '--max-length', '6', '--out', join(root, 'explain.png'), '--json', json)
  assert.is(r.code, 0, errorLine(r))
  const tokens = JSON.parse(readFileSync(json, 'utf8')).similarity.tokens as string[]
  assert.ok(tokens.length <= 6 && tokens.length >= 4, tokens.join(' '))
})

test('SIGINT stops cmga index with the .partial folder named; the same command resumes it', async () => {
  const { images } = await data
  const many = join(root, 'many')
  for (let k = 0; k < 30; k++) cpSync(images, join(many, `copy-${k}`), { recursive: true }) // 360 images
  const out = join(root, 'big-index')
  const args = ['index', '--model', model, '--images', many, '--out', out, '--shard-size', '4']
  const r = await interrupted(args, 'SIGINT', () => existsSync(join(`${out}.partial`, 'images-00002.safetensors')))
  assert.is(r.code, 130, r.stderr)
  assert.ok(r.stderr.includes(`cmga: interrupted (SIGINT): the images embedded so far are kept in ${resolve(out)}.partial; run the same command again to resume`), r.stderr)
  const again = await cli(...args)
  assert.is(again.code, 0, errorLine(again))
  assert.ok(again.stderr.some((l) => /^resuming: \d+ of 360 images already indexed$/.test(l) && !l.startsWith('resuming: 0 ')), again.stderr.join('\n'))
  assert.ok(again.stderr.includes('indexed 360 images'), again.stderr.join('\n'))
})

test('vocabularies: none names --vocab, a larger one is refused, a much smaller one is warned about', async () => {
  const { images } = await data
  const image = join(images, PICTURES[0].name)
  const none = await cli('match', '--model', noVocab, '--image', image, '--text', 'a red square')
  assert.is(none.code, 1)
  assert.match(errorLine(none), /no vocabulary in .*no-vocab.*; pass --vocab/)
  const big = writeVocab(join(root, 'vocab-101.txt'), 101)
  const refused = await cli('match', '--model', model, '--vocab', big, '--image', image, '--text', 'a red square')
  assert.is(refused.code, 1)
  assert.ok(errorLine(refused).includes(`${big} has 101 entries but the model's vocabulary has 100 (text.vocabSize)`), errorLine(refused))
  const compileBig = await cli('compile', '--config', `${fixture}/config.json`, '--random-init', '0', '--vocab', big, '--out', join(root, 'never-model'))
  assert.is(compileBig.code, 1)
  assert.ok(errorLine(compileBig).includes('has 101 entries'), errorLine(compileBig))
  await split
  const vocab17 = join(root, 'vocab-17.txt')
  writeFileSync(vocab17, ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]', ...Array.from({ length: 12 }, (_, i) => `w${i}`)].join('\n') + '\n')
  const trainBig = await cli(...trainArgs(join(root, 'never-trained'), 2, '--vocab', vocab17))
  assert.is(trainBig.code, 1)
  assert.ok(errorLine(trainBig).includes("has 17 entries but the model's vocabulary has 16 (text.vocabSize)"), errorLine(trainBig))
  const smallVocab = writeVocab(join(root, 'vocab-45.txt'), 45)
  const warned = await cli('match', '--model', model, '--vocab', smallVocab, '--image', image, '--text', 'a red square', '--out', join(root, 'warned.json'))
  assert.is(warned.code, 0, errorLine(warned))
  assert.ok(warned.stderr.includes(`warning: ${smallVocab} has 45 entries, the model's vocabulary has 100: is this the model's vocabulary?`), warned.stderr.join('\n'))
})

test.run()
