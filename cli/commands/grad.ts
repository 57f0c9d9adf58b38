/**
 * `cmga grad`: one forward and backward pass of the pre-training objectives on a batch.
 * @since 0.1.0
 */
import * as E from 'fp-ts/lib/Either.js'
import * as TE from 'fp-ts/lib/TaskEither.js'
import { pipe } from 'fp-ts/lib/function.js'
import type { CmgaError } from '../../compiler/errors.js'
import { fail } from '../../compiler/errors.js'
import { importCheckpoint } from '../../apps/compile/checkpoint.js'
import { readConfigFile } from '../../apps/cmga/config-file.js'
import { readSafetensors, writeSafetensorsAtomic } from '../../runtime/safetensors/index.js'
import type { Precision } from '../../apps/train/compile.js'
import { computeGradients } from '../../apps/train/gradients.js'
import type { Command, Values } from '../command.js'
import { integer, required, requiredOutput } from '../command.js'

const help = `Usage: cmga grad --config CONFIG.json --weights WEIGHTS --inputs INPUTS.safetensors --out OUT.safetensors
                 [--precision float64|float32] [--threads N] [--force]

One training step's forward and backward pass (spec section 9: ITC + FTC + ITM + MLM)
on the batch in INPUTS, compiled to one ONNX graph by the compiler's grad transform and
run with onnxruntime. Nothing is updated.

Inputs (safetensors): pixels float32 [B,3,S,S] (normalized, spec section 8),
input_ids, attention_mask, mlm_input_ids int64 [B,L], mlm_labels int64 [B,L]
(-100 where no token is predicted). B >= 2.
Outputs: loss, loss_itc, loss_ftc, loss_itm, loss_mlm (float32 [1]; also printed, one a line), itm_neg_image,
itm_neg_text (int64 [B], the hard negatives), and grad.<name> for every parameter of
the config (zeros for parameters the objectives do not use, e.g. the VQA head).

  --config FILE       model config (spec section 1)
  --weights FILE      checkpoint with ALBEF names, safetensors or PyTorch .pth (MLM head
                      and temp included)
  --inputs FILE       the batch
  --out FILE          where to write the results (written atomically)
  --precision P       float64 (default): the graph computes in float64 inside, so the
                      gradients are exact to float32 output precision; float32: as
                      training runs it (faster, but deep-network gradients then carry
                      float32 rounding of a few 1e-4 on values of order 10)
  --threads N         onnxruntime intra-op threads (default 2)
  --force             replace an existing --out file
  -h, --help          this text`

const precisionOf = (values: Values): E.Either<CmgaError, Precision> => {
  const p = values.precision ?? 'float64'
  return p === 'float64' || p === 'float32' ? E.right(p) : fail('usage', `cmga grad: --precision must be float64 or float32, got "${String(p)}"`)
}

/** @since 0.1.0 */
export const gradCommand: Command = {
  name: 'grad',
  summary: 'forward and backward pass of the pre-training losses on a batch: losses and every gradient',
  help,
  flags: { config: { type: 'string' }, weights: { type: 'string' }, inputs: { type: 'string' }, out: { type: 'string' }, precision: { type: 'string' }, threads: { type: 'string' }, force: { type: 'boolean' } },
  run: (values, log) =>
    pipe(
      TE.fromEither(
        pipe(
          E.Do,
          E.bind('configPath', () => required('grad', values, 'config')),
          E.bind('weightsPath', () => required('grad', values, 'weights')),
          E.bind('inputs', () => required('grad', values, 'inputs')),
          E.bind('out', () => requiredOutput('grad', values, 'out', 'file')),
          E.bind('precision', () => precisionOf(values)),
          E.bind('threads', () => integer('grad', values, 'threads', 2, 1, 256)),
          E.bind('config', ({ configPath }) => readConfigFile(configPath)),
          E.bind('checkpoint', ({ config, weightsPath }) => importCheckpoint(config, weightsPath, 'training')),
          E.bind('batch', ({ inputs }) => readSafetensors(inputs))
        )
      ),
      TE.bind('result', ({ config, checkpoint, batch, inputs, precision, threads }) =>
        computeGradients({ config, weights: checkpoint.weights, batch: batch.tensors, source: inputs, precision, threads })
      ),
      TE.chainFirstEitherK(({ out, result }) => writeSafetensorsAtomic(out, result)),
      // the losses, one line each (the gradients are in the file)
      TE.map(({ result }) => [...result].filter(([name]) => name.startsWith('loss')).forEach(([name, t]) => log(`${name} ${Number(t.data[0]).toFixed(6)}`))),
      TE.map(() => log(`wrote ${values.out as string}`))
    )()
}
