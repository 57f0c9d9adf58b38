/**
 * `cmga sample-inputs`: a seeded random input file for a model's config, to try
 * `cmga infer` (and `cmga grad`) without preparing real data.
 * @since 0.1.0
 */
import * as E from 'fp-ts/lib/Either.js'
import { pipe } from 'fp-ts/lib/function.js'
import type { HostTensor } from '../../compiler/ir/tensor.js'
import { fromNumbers } from '../../compiler/ir/tensor.js'
import type { CmgaConfig } from '../../models/cmga/config.js'
import { readConfigFile } from '../../apps/cmga/config-file.js'
import { mulberry32, normal } from '../../runtime/prng.js'
import { readCmgaManifest } from '../../apps/cmga/model.js'
import { writeSafetensorsAtomic } from '../../runtime/safetensors/index.js'
import type { Command } from '../command.js'
import { aliased, integer, required, requiredOutput } from '../command.js'

const help = `Usage: cmga sample-inputs (--model DIR | --config CONFIG.json) --out FILE [--batch B] [--max-length L] [--seed S] [--force]

Writes seeded random inputs for B image-text pairs: pixels float32 [B,3,S,S] (standard
normal, like normalized images), input_ids and attention_mask int64 [B,L] ([CLS]-like
token 101 or 1 first, random ids, the last rows padded), and mlm_input_ids / mlm_labels
for cmga grad (15% of the tokens masked, -100 elsewhere).

  --model DIR | --config FILE   where the sizes come from
  --out FILE                    output safetensors (written atomically)
  --batch B                     pairs (default 2)
  --max-length L                tokens per text (default 16, at most text.maxPositions;
                                --length is an old name of it)
  --seed S                      seed (default 0)
  --force                       replace an existing --out file
  -h, --help                    this text`

/** Random inputs for a config. */
export const sampleInputs = (c: CmgaConfig, B: number, L: number, seed: number): Map<string, HostTensor> => {
  const rand = mulberry32(seed)
  const S = c.vision.imageSize
  const V = c.text.vocabSize
  const pixels = Array.from({ length: B * 3 * S * S }, () => normal(rand))
  const ids: number[] = []
  const mask: number[] = []
  const mlmIds: number[] = []
  const labels: number[] = []
  const cls = V > 101 ? 101 : Math.min(1, V - 1)
  for (let b = 0; b < B; b++) {
    const valid = b === 0 ? L : Math.max(2, L - Math.floor(rand() * (L / 2)))
    for (let j = 0; j < L; j++) {
      const id = j === 0 ? cls : j < valid ? Math.floor(rand() * V) : c.text.padTokenId
      ids.push(id)
      mask.push(j < valid ? 1 : 0)
      const masked = j > 0 && j < valid && rand() < 0.15
      mlmIds.push(masked ? Math.floor(rand() * V) : id)
      labels.push(masked ? id : -100)
    }
  }
  return new Map<string, HostTensor>([
    ['pixels', fromNumbers('float32', [B, 3, S, S], pixels)],
    ['input_ids', fromNumbers('int64', [B, L], ids)],
    ['attention_mask', fromNumbers('int64', [B, L], mask)],
    ['mlm_input_ids', fromNumbers('int64', [B, L], mlmIds)],
    ['mlm_labels', fromNumbers('int64', [B, L], labels)]
  ])
}

/** @since 0.1.0 */
export const sampleInputsCommand: Command = {
  name: 'sample-inputs',
  summary: 'write seeded random inputs for a model, to try infer and grad',
  help,
  flags: { model: { type: 'string' }, config: { type: 'string' }, out: { type: 'string' }, batch: { type: 'string' }, 'max-length': { type: 'string' }, length: { type: 'string' }, seed: { type: 'string' }, force: { type: 'boolean' } },
  run: async (given, log) => {
    const values = aliased(given, 'max-length', 'length')
    return pipe(
      E.Do,
      E.bind('out', () => requiredOutput('sample-inputs', values, 'out', 'file')),
      E.bind('config', () =>
        typeof values.model === 'string'
          ? E.map((m: { config: CmgaConfig }) => m.config)(readCmgaManifest(values.model))
          : E.chain(readConfigFile)(required('sample-inputs', values, 'config'))
      ),
      E.bind('B', () => integer('sample-inputs', values, 'batch', 2, 1, 4096)),
      E.bind('L', ({ config }) => integer('sample-inputs', values, 'max-length', Math.min(16, config.text.maxPositions), 2, config.text.maxPositions)),
      E.bind('seed', () => integer('sample-inputs', values, 'seed', 0, 0, 2 ** 32 - 1)),
      E.chain(({ out, config, B, L, seed }) => writeSafetensorsAtomic(out, sampleInputs(config, B, L, seed))),
      E.map(() => log(`wrote ${values.out as string}`))
    )
  }
}
