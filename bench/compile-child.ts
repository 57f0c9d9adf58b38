/**
 * Compiles the base config with random weights into a temporary directory and prints
 * `{ seconds, graphs }` as JSON: run by bench/run.ts as a child under /usr/bin/time,
 * so compile time and peak memory are those of a compile alone.
 * @since 0.1.0
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import * as E from 'fp-ts/lib/Either.js'
import { compileModel } from '../apps/compile/compile.js'
import { readConfigFile } from '../apps/cmga/config-file.js'
import { randomWeights } from '../apps/compile/random-init.js'

const dir = mkdtempSync(join(tmpdir(), 'cmga-bench-compile-'))
const c = readConfigFile(process.argv[2] ?? 'models/cmga/configs/base.json')
if (E.isLeft(c)) throw new Error(c.left.message)
const weights = randomWeights(c.right, 0)
const t0 = performance.now()
const r = compileModel({ config: c.right, weights, weightsSource: 'random-init:0', weightsSummary: 'bench', out: join(dir, 'model'), quantize: process.argv[3] === 'int8' ? 'int8' : 'none' })
const seconds = (performance.now() - t0) / 1000
rmSync(dir, { recursive: true, force: true })
if (E.isLeft(r)) throw new Error(r.left.message)
console.log(JSON.stringify({ seconds, graphs: Object.keys(r.right.manifest.stages).length }))
