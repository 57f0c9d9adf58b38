/**
 * `cmga demo`: compiles the bundled tiny model and runs it on the bundled inputs, as a
 * first check that everything works on this machine.
 * @since 0.1.0
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import * as E from 'fp-ts/lib/Either.js'
import * as TE from 'fp-ts/lib/TaskEither.js'
import { pipe } from 'fp-ts/lib/function.js'
import { toNumbers } from '../../compiler/ir/tensor.js'
import { describeCheckpoint, importCheckpoint } from '../../apps/compile/checkpoint.js'
import { compileModel } from '../../apps/compile/compile.js'
import { readConfigFile } from '../../apps/cmga/config-file.js'
import { inferPairs } from '../../apps/cmga/infer.js'
import type { Outputs } from '../../apps/cmga/infer.js'
import { loadCmgaModel } from '../../apps/cmga/model.js'
import { readSafetensors } from '../../runtime/safetensors/index.js'
import type { Command } from '../command.js'
import { deviceFlag, deviceHelp } from '../runtime-flags.js'

const here = (p: string): string => fileURLToPath(new URL(`../../models/cmga/${p}`, import.meta.url))

const help = `Usage: cmga demo [--keep DIR] [--device D]

Compiles the bundled tiny CMGA model (models/cmga/configs/tiny.json with the weights in
models/cmga/demo/) and runs it on the bundled inputs: 3 image-text pairs. Prints the
global and local score matrices, the ITM match probabilities and the kept tokens.

  --keep DIR   write the compiled model directory to DIR instead of a temporary one
${deviceHelp(15)}
  -h, --help   this text`

const matrix = (o: Outputs, name: string): string[] => {
  const t = o.get(name)
  if (t === undefined) return []
  const v = toNumbers(t)
  const [r, c] = t.shape
  return Array.from({ length: r }, (_, i) => `    image ${i}: ` + Array.from({ length: c }, (_, j) => v[i * c + j].toFixed(4).padStart(8)).join(' '))
}

const report = (o: Outputs): string[] => {
  const itm = toNumbers(o.get('itm_logits') as NonNullable<ReturnType<Outputs['get']>>)
  const probs = Array.from({ length: itm.length / 2 }, (_, b) => 1 / (1 + Math.exp(itm[2 * b] - itm[2 * b + 1])))
  const keeps = [...o.entries()].filter(([k]) => k.startsWith('keep.')).map(([k, t]) => `    ${k}: ${t.shape[1]} tokens kept, pair 0 keeps [${Array.from(toNumbers(t).slice(0, t.shape[1])).join(', ')}]`)
  return [
    '  score_global (rows: images, columns: texts)',
    ...matrix(o, 'score_global'),
    '  score_local',
    ...matrix(o, 'score_local'),
    `  ITM match probability of each pair: ${probs.map((p) => p.toFixed(4)).join(', ')}`,
    ...keeps
  ]
}

/** @since 0.1.0 */
export const demoCommand: Command = {
  name: 'demo',
  summary: 'compile the bundled tiny model and run it on bundled inputs',
  help,
  flags: { keep: { type: 'string' }, device: { type: 'string' } },
  run: async (values, log) => {
    const scratch = mkdtempSync(join(tmpdir(), 'cmga-demo-'))
    const out = typeof values.keep === 'string' ? values.keep : join(scratch, 'model')
    const started = Date.now()
    const r = await pipe(
      TE.fromEither(
        pipe(
          E.Do,
          E.bind('device', () => deviceFlag('demo', values)),
          E.bind('config', () => readConfigFile(here('configs/tiny.json'))),
          E.bind('ck', ({ config }) => importCheckpoint(config, here('demo/weights.safetensors'))),
          E.chainFirst(({ ck }) => E.right(log(describeCheckpoint(ck)))),
          E.chain(({ config, ck, device }) =>
            E.map(() => device)(
              compileModel({ config, weights: ck.weights, weightsSource: 'models/cmga/demo/weights.safetensors', weightsSummary: describeCheckpoint(ck), out, onStage: (s, i, n) => log(`compile [${i + 1}/${n}] ${s}`) })
            )
          ),
          E.chain((device) => loadCmgaModel(out, { device })),
          E.bindTo('model'),
          E.bind('inputs', () => readSafetensors(here('demo/inputs.safetensors')))
        )
      ),
      TE.chain(({ model, inputs }) => inferPairs(model, inputs.tensors, 'models/cmga/demo/inputs.safetensors')),
      TE.map((o) => {
        log(`compiled and ran in ${Date.now() - started} ms${typeof values.keep === 'string' ? `; model directory kept in ${out}` : ''}`)
        process.stdout.write(report(o).join('\n') + '\n')
      })
    )()
    rmSync(scratch, { recursive: true, force: true })
    return r
  }
}
