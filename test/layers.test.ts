/**
 * The layers point one way. Every import of every `.ts` / `.mjs` file in the repository
 * (node_modules excluded), read by TypeScript's own pre-processor, is checked against
 * the allowed directions between top-level folders; the folder graph has no cycle; the
 * model specification touches no file system, process or onnxruntime; the generic
 * runtime takes only the compiler's basics.
 */
import { readdirSync, readFileSync } from 'node:fs'
import { dirname, join, relative, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import ts from 'typescript'
import { test } from 'uvu'
import * as assert from 'uvu/assert'

const root = fileURLToPath(new URL('..', import.meta.url))

/** What each top-level folder may import besides itself; `'*'`: anything. */
const allowed: Readonly<Record<string, readonly string[] | '*'>> = {
  compiler: [],
  dsl: ['compiler'],
  models: ['dsl', 'compiler'],
  runtime: ['compiler'],
  native: ['runtime', 'compiler'],
  apps: ['models', 'runtime', 'dsl', 'compiler', 'native'],
  cli: ['apps', 'models', 'runtime', 'dsl', 'compiler', 'native'],
  bin: ['cli'],
  bench: '*',
  examples: '*',
  test: '*'
}

/** The compiler modules the runtime may use: the IR's values and types, errors, atomic writes. */
const runtimeFromCompiler = /^compiler\/(ir\/[^/]+|errors|atomic)\.ts$/

/** Packages the model specification must not import: files, processes, onnxruntime, images. */
const notInModels = /^(node:)?(fs|fs\/promises|child_process|worker_threads)$|^onnxruntime-|^sharp$/

interface Import {
  readonly from: string
  /** A repository path (`.js` read as `.ts`), or a package name. */
  readonly to: string
  readonly local: boolean
}

const sources = (dir: string): string[] =>
  readdirSync(join(root, dir), { withFileTypes: true }).flatMap((e) => {
    const path = dir === '' ? e.name : `${dir}/${e.name}`
    if (e.isDirectory()) return e.name === 'node_modules' || e.name.startsWith('.') ? [] : sources(path)
    return /\.(ts|mjs)$/.test(e.name) ? [path] : []
  })

const importsOf = (file: string): Import[] =>
  ts.preProcessFile(readFileSync(join(root, file), 'utf8'), true, true).importedFiles.map(({ fileName }) =>
    fileName.startsWith('.')
      ? { from: file, to: relative(root, resolve(root, dirname(file), fileName)).replace(/\.js$/, '.ts'), local: true }
      : { from: file, to: fileName, local: false }
  )

const imports = sources('').flatMap(importsOf)
const top = (path: string): string => (path.includes('/') ? path.split('/')[0] : '.')
const crossing = imports.filter((i) => i.local && top(i.from) !== top(i.to))
const show = (is: readonly Import[]): string => is.map((i) => `${i.from} -> ${i.to}`).join('\n')

test('the import reader sees the imports (a known one, and many)', () => {
  assert.ok(imports.some((i) => i.from === 'dsl/tensor.ts' && i.to === 'compiler/ir/node.ts'))
  assert.ok(imports.some((i) => i.from === 'runtime/workers/worker.mjs' && i.to === 'runtime/workers/worker-main.ts'))
  assert.ok(crossing.length > 300, `${crossing.length} imports between folders`)
})

test('every top-level folder with code has a rule', () => {
  const folders = [...new Set(imports.map((i) => top(i.from)))].filter((f) => f !== '.')
  assert.equal(folders.filter((f) => allowed[f] === undefined), [])
})

test('imports between top-level folders point only down', () => {
  const bad = crossing.filter((i) => {
    const may = allowed[top(i.from)]
    return may !== '*' && !(may ?? []).includes(top(i.to))
  })
  assert.is(show(bad), '')
})

test('no cycle between top-level folders', () => {
  const edges = new Map<string, Set<string>>()
  for (const i of crossing) edges.set(top(i.from), (edges.get(top(i.from)) ?? new Set()).add(top(i.to)))
  const reaches = (a: string, b: string, seen = new Set<string>()): boolean =>
    [...(edges.get(a) ?? [])].some((n) => n === b || (!seen.has(n) && reaches(n, b, seen.add(n))))
  const cycles = [...edges].flatMap(([a, tos]) => [...tos].filter((b) => reaches(b, a)).map((b) => `${a} <-> ${b}`))
  assert.equal(cycles, [])
})

test('models/ imports no file system, process, worker or onnxruntime package', () => {
  assert.is(show(imports.filter((i) => top(i.from) === 'models' && !i.local && notInModels.test(i.to))), '')
})

test('runtime/ takes only the compiler basics (ir, errors, atomic)', () => {
  assert.is(show(crossing.filter((i) => top(i.from) === 'runtime' && top(i.to) === 'compiler' && !runtimeFromCompiler.test(i.to))), '')
})

test.run()
