/**
 * `cmga infer`: runs a compiled model on paired inputs from safetensors.
 * @since 0.1.0
 */
import * as E from 'fp-ts/lib/Either.js'
import * as TE from 'fp-ts/lib/TaskEither.js'
import { pipe } from 'fp-ts/lib/function.js'
import { loadCmgaModel } from '../../apps/cmga/model.js'
import { inferPairs } from '../../apps/cmga/infer.js'
import { readSafetensors, writeSafetensorsAtomic } from '../../runtime/safetensors/index.js'
import type { Command } from '../command.js'
import { integer, required, requiredOutput } from '../command.js'
import { deviceFlag, deviceHelp } from '../runtime-flags.js'

const help = `Usage: cmga infer --model DIR --inputs INPUTS.safetensors --out OUTPUTS.safetensors
                  [--threads N] [--device D] [--force]

Runs every stage of a compiled model on B image-text pairs (image b with text b).

Inputs (safetensors): pixels float32 [B,3,S,S] (normalized, spec section 8),
input_ids int64 [B,L], attention_mask int64 [B,L].
Outputs (float32; indices int64): text_embeds, vision_embeds.{image,joint,none},
itc_image, itc_text, score_global [B,B], score_local [B,B], fusion_embeds,
itm_logits, vqa_logits (when configured), keep.image.{layer}, keep.joint.{layer}.

  --model DIR      a directory written by cmga compile
  --inputs FILE    the inputs
  --out FILE       where to write the outputs (written atomically)
  --threads N      onnxruntime intra-op threads (default 2)
${deviceHelp(19)}
  --force          replace an existing --out file
  -h, --help       this text`

/** @since 0.1.0 */
export const inferCommand: Command = {
  name: 'infer',
  summary: 'run a compiled model on paired inputs and write every output',
  help,
  flags: { model: { type: 'string' }, inputs: { type: 'string' }, out: { type: 'string' }, threads: { type: 'string' }, device: { type: 'string' }, force: { type: 'boolean' } },
  run: (values, log) =>
    pipe(
      TE.fromEither(
        pipe(
          E.Do,
          E.bind('dir', () => required('infer', values, 'model')),
          E.bind('inputs', () => required('infer', values, 'inputs')),
          E.bind('out', () => requiredOutput('infer', values, 'out', 'file')),
          E.bind('threads', () => integer('infer', values, 'threads', 2, 1, 256)),
          E.bind('device', () => deviceFlag('infer', values)),
          E.bind('model', ({ dir, threads, device }) => loadCmgaModel(dir, { threads, device })),
          E.bind('feeds', ({ inputs }) => readSafetensors(inputs))
        )
      ),
      TE.bind('outputs', ({ model, feeds, inputs }) => inferPairs(model, feeds.tensors, inputs)),
      TE.chainEitherK(({ outputs, out }) => writeSafetensorsAtomic(out, outputs)),
      TE.map(() => log(`wrote ${values.out as string}`))
    )()
}
