/**
 * `cmga reproduce`: the paper's claim on the shapes world with this project's own
 * commands (apps/reproduce).
 * @since 0.1.0
 */
import { fileURLToPath } from 'node:url'
import * as E from 'fp-ts/lib/Either.js'
import { pipe } from 'fp-ts/lib/function.js'
import type { CmgaError } from '../../compiler/errors.js'
import { fail } from '../../compiler/errors.js'
import { readConfigFile } from '../../apps/cmga/config-file.js'
import { fullPlan, quickPlan, withoutHeadPhase } from '../../apps/reproduce/plan.js'
import { reproduce } from '../../apps/reproduce/reproduce.js'
import { stopSteps } from '../../apps/reproduce/cli-steps.js'
import type { Command, Values } from '../command.js'
import { checkOutput, integer, required } from '../command.js'
import { whileInterruptible } from '../interrupt.js'

const shapesConfig = fileURLToPath(new URL('../../models/cmga/configs/shapes.json', import.meta.url))

const help = `Usage: cmga reproduce --out DIR [--quick] [--no-head-phase] [--steps N] [--threads N] [--force]

Reproduces the paper's claim on the shapes world (docs/shapes-world.md), end to end with
cmga's own commands, each model trained on the same data and steps:
  cmga-0.7   CMGA, compression at keep rate 0.7 (models/cmga/configs/shapes.json)
  cmga-1.0   the same model at keep rate 1.0 (no token dropped)
  clip       CLIP-style: ITC only, no compression layers, same size; stage 1 by
             the global score alone, no re-ranking
Steps: cmga data shapes (${fullPlan.trainCount} training pairs, seed ${fullPlan.trainSeed}; ${fullPlan.testCount} held-out pairs with masks,
seed ${fullPlan.testSeed}); cmga train per model (${fullPlan.steps} steps x ${fullPlan.batch}, lr ${fullPlan.lr}, ${fullPlan.trainFlags.join(' ')}),
checkpoints every ${fullPlan.evalEvery} steps scored by stage-1 recall; then (the head phase) cmga-0.7's
ITM head alone for ${fullPlan.head.steps} steps from its trained weights (${fullPlan.head.flags.join(' ')}):
the relation module and the ITM head learn, stage 1 stays as trained; cmga eval retrieval on the final
models (stage 1, rerank_itm, rerank_combined, top ${fullPlan.k}), and on ${fullPlan.validationCount} validation pairs
(seed ${fullPlan.validationSeed}), where the combined rule's weight is chosen among ${fullPlan.itmWeights.join(', ')} (the
shipped model's ranking default: that weight where it beat stage 1 there, else stage 1
alone); the vision encoders timed side by
side (alternating rounds, one process); the share of the objects' pixels that the
compression keeps (joint guidance, last layer, ${fullPlan.coverageCount} held-out images).

Writes into DIR: data/, configs/, runs/ (training runs), models/ (compiled final
models), eval/ (every evaluation as JSON), results.json, results.md (tables and the
targets met or missed), chart.png (recall per model and stage; stage-1 recall vs
step) and shipped/ (cmga-0.7 as models/cmga/shapes/ ships a model).
About 51 minutes on 2 cores with the head phase (timed whole on an AMD EPYC: its
training 6.4 of them).
Run the same command again after an interruption (Ctrl-C, SIGTERM: the steps running
are stopped) to continue: finished steps are kept.

  --out DIR      where everything goes (an existing DIR is continued when it holds a
                 run of the same plan, else refused unless --force)
  --quick        the same pipeline at toy size (${quickPlan.trainCount} pairs, ${quickPlan.steps} steps x ${quickPlan.batch}): minutes
  --no-head-phase  leave out the head phase (about 7 minutes); another plan than
                 the default's, so a DIR holding one is not continued with the other
                 (--head-phase, the default, is accepted)
  --steps N      training steps per model (default ${fullPlan.steps}; ${quickPlan.steps} with --quick)
  --threads N    onnxruntime intra-op threads (default 2)
  --force        replace DIR
  -h, --help     this text`

const run = async (values: Values, log: (line: string) => void): Promise<E.Either<CmgaError, void>> => {
  const cmd = 'reproduce'
  const base = values.quick === true ? quickPlan : fullPlan
  const args = pipe(
    E.Do,
    // an existing DIR is continued (same plan) or refused (another plan) by reproduce; a file never does
    E.bind('out', () => E.chain((out: string) => checkOutput('out', out, 'directory', true))(required(cmd, values, 'out'))),
    E.bind('steps', () => integer(cmd, values, 'steps', base.steps, 1)),
    E.bind('threads', () => integer(cmd, values, 'threads', 2, 1, 256)),
    E.bind('config', () => readConfigFile(shapesConfig))
  )
  if (E.isLeft(args)) return args
  const a = args.right
  if (values['head-phase'] === true && values['no-head-phase'] === true) return fail('usage', 'cmga reproduce: --head-phase and --no-head-phase contradict each other')
  const plan = { ...(values['no-head-phase'] === true ? withoutHeadPhase(base) : base), steps: a.steps, evalEvery: Math.min(base.evalEvery, a.steps) }
  const kept = (): string => `finished steps are kept in ${a.out}; run the same command again to continue`
  const r = await whileInterruptible(kept, () => reproduce({ out: a.out, plan, config: a.config, threads: a.threads, force: values.force === true, log }), stopSteps)
  return E.map(() => undefined)(r)
}

/** @since 0.1.0 */
export const reproduceCommand: Command = {
  name: 'reproduce',
  summary: "train CMGA, CMGA at keep 1.0 and a CLIP-style model on the shapes world; recall, speed, chart",
  help,
  flags: { out: { type: 'string' }, quick: { type: 'boolean' }, 'head-phase': { type: 'boolean' }, 'no-head-phase': { type: 'boolean' }, steps: { type: 'string' }, threads: { type: 'string' }, force: { type: 'boolean' } },
  run
}
