/**
 * `cmga compile`: a config and weights (or a random-init seed) -> a model directory.
 * @since 0.1.0
 */
import * as E from 'fp-ts/lib/Either.js'
import { pipe } from 'fp-ts/lib/function.js'
import { fail } from '../../compiler/errors.js'
import type { CmgaError } from '../../compiler/errors.js'
import type { HostTensor } from '../../compiler/ir/tensor.js'
import { describeCheckpoint, importCheckpoint } from '../../models/cmga/checkpoint.js'
import { compileModel } from '../../models/cmga/compile.js'
import type { CmgaConfig } from '../../models/cmga/config.js'
import { readConfigFile } from '../../models/cmga/config.js'
import { randomWeights } from '../../models/cmga/random-init.js'
import type { Command, Values } from '../command.js'
import { integer, required } from '../command.js'

const help = `Usage: cmga compile --config CONFIG.json (--weights WEIGHTS.safetensors | --random-init SEED) --out DIR

Compiles CMGA into DIR: one ONNX graph per deployment stage and a manifest.json.

  --config FILE        model config (spec section 1), e.g. models/cmga/configs/base.json
  --weights FILE       checkpoint in safetensors with ALBEF parameter names
  --random-init SEED   instead of --weights: seeded random weights (non-negative integer)
  --out DIR            output directory (must not exist; written atomically)
  -h, --help           this text

Stages written: text.onnx, vision_image.onnx, vision_joint.onnx, vision_none.onnx,
relation.onnx, scores.onnx (see README, "Model directory").`

interface Weights {
  readonly weights: ReadonlyMap<string, HostTensor>
  readonly source: string
  readonly summary: string
}

const weightsFor = (c: CmgaConfig, values: Values): E.Either<CmgaError, Weights> => {
  const w = values.weights
  const seed = values['random-init']
  if ((w === undefined) === (seed === undefined)) return fail('usage', 'cmga compile: give exactly one of --weights or --random-init (see cmga compile --help)')
  if (typeof w === 'string') {
    return E.map((ck: ReturnType<typeof importCheckpoint> extends E.Either<unknown, infer A> ? A : never) => ({ weights: ck.weights, source: w, summary: describeCheckpoint(ck) }))(importCheckpoint(c, w))
  }
  return E.map((s: number) => ({ weights: randomWeights(c, s), source: `random-init:${s}`, summary: `random weights, seed ${s}` }))(
    integer('compile', values, 'random-init', 0, 0, 2 ** 32 - 1)
  )
}

/** @since 0.1.0 */
export const compileCommand: Command = {
  name: 'compile',
  summary: 'compile a config and weights into a model directory of ONNX graphs',
  help,
  flags: { config: { type: 'string' }, weights: { type: 'string' }, 'random-init': { type: 'string' }, out: { type: 'string' } },
  run: async (values, log) =>
    pipe(
      E.Do,
      E.bind('configPath', () => required('compile', values, 'config')),
      E.bind('out', () => required('compile', values, 'out')),
      E.bind('config', ({ configPath }) => readConfigFile(configPath)),
      E.bind('w', ({ config }) => weightsFor(config, values)),
      E.chainFirst(({ w }) => E.right(log(w.summary))),
      E.chain(({ config, out, w }) =>
        compileModel({
          config,
          weights: w.weights,
          weightsSource: w.source,
          weightsSummary: w.summary,
          out,
          onStage: (s, i, n) => log(`[${i + 1}/${n}] ${s}`)
        })
      ),
      E.map((r) => log(`wrote ${values.out as string} (${Object.keys(r.manifest.stages).length} graphs)`))
    )
}
