/**
 * `cmga compile`: a config and weights (or a random-init seed) -> a model directory.
 * @since 0.1.0
 */
import * as E from 'fp-ts/lib/Either.js'
import { pipe } from 'fp-ts/lib/function.js'
import { fail } from '../../compiler/errors.js'
import type { CmgaError } from '../../compiler/errors.js'
import type { HostTensor } from '../../compiler/ir/tensor.js'
import { describeCheckpoint, importCheckpoint } from '../../apps/compile/checkpoint.js'
import { existsSync, readFileSync, rmSync, statSync } from 'node:fs'
import { join, resolve } from 'node:path'
import type { CompileRequest } from '../../apps/compile/compile.js'
import { compileModel } from '../../apps/compile/compile.js'
import { MIN_ELEMENTS } from '../../compiler/quantize/dynamic-int8.js'
import { formatReport, quantizeReport } from '../../apps/compile/quantize-report.js'
import { sampleInputs } from './sample-inputs.js'
import type { CmgaConfig } from '../../models/cmga/config.js'
import { readConfigFile } from '../../apps/cmga/config-file.js'
import { randomWeights } from '../../apps/compile/random-init.js'
import { vocabularyFit } from '../../apps/cmga/vocabulary.js'
import { writeFileAtomic } from '../../compiler/atomic.js'
import type { TokenizerSource } from '../../runtime/text/index.js'
import { readTokenizerSource } from '../../runtime/text/index.js'
import type { Command, Values } from '../command.js'
import { integer, required, requiredOutput } from '../command.js'
import { numberFlag } from '../runtime-flags.js'
import type { RankingDefaults } from '../../runtime/model/manifest.js'

const help = `Usage: cmga compile --config CONFIG.json (--weights WEIGHTS | --random-init SEED) --out DIR
                    [--vocab VOCAB.txt] [--quantize int8 [--int8-min-elements N]]
                    [--serve-k N [--serve-itm-weight W] [--serve-why TEXT]] [--no-fuse] [--force]

Compiles CMGA into DIR: one ONNX graph per deployment stage and a manifest.json.

  --config FILE        model config (spec section 1), e.g. models/cmga/configs/base.json
  --weights FILE       checkpoint with ALBEF parameter names: safetensors, or a
                       PyTorch checkpoint (.pth, e.g. ALBEF's own; read without
                       running its pickle)
  --random-init SEED   instead of --weights: seeded random weights (non-negative integer)
  --out DIR            output directory (must not exist unless --force; written into a
                       temporary directory and renamed at the end)
  --vocab FILE         vocab.txt or tokenizer.json (or a folder with one) to copy into
                       DIR, where every later command finds it; refused when larger than
                       text.vocabSize
  --quantize int8      dynamic int8 of the large matrix products (per-output-channel
                       weight scales); also compiles float32 aside, runs both on sample
                       pairs and prints (and writes DIR/quantize-report.json) the error
  --int8-min-elements N  with --quantize int8: weights of fewer than N elements stay
                       float32 (default ${MIN_ELEMENTS}, a [256, 256] matrix; the small
                       trained shapes model's [64, 64] ones need N <= 4096)
  --serve-k N          how many candidates cmga retrieve re-ranks with the ITM head by
                       default with this model (0: stage 1 only), written into the
                       manifest; without it, cmga retrieve's own default (16). Choose it
                       on held-out data: cmga eval retrieval reports stage 1 and both
                       re-ranking rules
  --serve-itm-weight W with --serve-k: the combined rule's default weight (else 0.1)
  --serve-why TEXT     with --serve-k: why (cmga retrieve says it when it uses them)
  --no-fuse            skip the fusion passes (attention, skip layer norm, bias GELU,
                       token dropping)
  --force              replace an existing DIR (only once the new one is complete)
  -h, --help           this text

Stages written: text.onnx, vision_image.onnx, vision_joint.onnx, vision_none.onnx,
relation.onnx, scores.onnx, and the joint vision graph split into a per-image prefix and
a per-pair suffix: vision_prefix.onnx, vision_joint_suffix.onnx (see README).`

interface Weights {
  readonly weights: ReadonlyMap<string, HostTensor>
  readonly source: string
  readonly summary: string
}

const weightsFor = (c: CmgaConfig, values: Values, log: (line: string) => void): E.Either<CmgaError, Weights> => {
  const w = values.weights
  const seed = values['random-init']
  if ((w === undefined) === (seed === undefined)) return fail('usage', 'cmga compile: give exactly one of --weights or --random-init (see cmga compile --help)')
  if (typeof w === 'string') {
    if (existsSync(w)) log(`reading ${w} (${(statSync(w).size / 2 ** 20).toFixed(0)} MiB)`)
    return E.map((ck: ReturnType<typeof importCheckpoint> extends E.Either<unknown, infer A> ? A : never) => ({ weights: ck.weights, source: w, summary: describeCheckpoint(ck) }))(importCheckpoint(c, w))
  }
  return E.map((s: number) => ({ weights: randomWeights(c, s), source: `random-init:${s}`, summary: `random weights, seed ${s}` }))(
    integer('compile', values, 'random-init', 0, 0, 2 ** 32 - 1)
  )
}

/** `--vocab`: the vocabulary file to copy into the model directory (as vocab.txt or tokenizer.json), checked against the config. */
const vocabFiles = (c: CmgaConfig, values: Values, log: (line: string) => void): E.Either<CmgaError, ReadonlyArray<readonly [string, string]>> => {
  if (values.vocab === undefined) return E.right([])
  return pipe(
    required('compile', values, 'vocab'),
    E.chain((v) => readTokenizerSource(v)),
    E.chainFirst((src) => E.map((warning: string | null) => (warning === null ? undefined : log(warning)))(vocabularyFit(src.path, vocabEntries(src), c.text.vocabSize))),
    E.map((src) => [[src.path.endsWith('.json') ? 'tokenizer.json' : 'vocab.txt', readFileSync(src.path, 'utf8')] as const])
  )
}

/** `--serve-k`, `--serve-itm-weight`, `--serve-why`: the manifest's ranking defaults (none without --serve-k). */
const rankingOf = (values: Values): E.Either<CmgaError, RankingDefaults | undefined> => {
  if (values['serve-k'] === undefined) {
    const stray = ['serve-itm-weight', 'serve-why'].find((f) => values[f] !== undefined)
    return stray === undefined ? E.right(undefined) : fail('usage', `cmga compile: --${stray} goes with --serve-k`)
  }
  return pipe(
    E.Do,
    E.bind('k', () => integer('compile', values, 'serve-k', 0, 0, 4096)),
    E.bind('weight', () => (values['serve-itm-weight'] === undefined ? E.right(undefined) : numberFlag('compile', values, 'serve-itm-weight', 0.1))),
    E.map(({ k, weight }) => ({ k, ...(weight === undefined ? {} : { itmWeight: weight }), ...(typeof values['serve-why'] === 'string' ? { why: values['serve-why'] } : {}) }))
  )
}

/** Entries of a vocabulary (the largest id + 1). */
const vocabEntries = (src: TokenizerSource): number => Math.max(-1, ...Object.values(src.json.model.vocab)) + 1

/** @since 0.1.0 */
export const compileCommand: Command = {
  name: 'compile',
  summary: 'compile a config and weights into a model directory of ONNX graphs',
  help,
  flags: {
    config: { type: 'string' },
    weights: { type: 'string' },
    'random-init': { type: 'string' },
    out: { type: 'string' },
    quantize: { type: 'string' },
    'int8-min-elements': { type: 'string' },
    'no-fuse': { type: 'boolean' },
    'serve-k': { type: 'string' },
    'serve-itm-weight': { type: 'string' },
    'serve-why': { type: 'string' },
    vocab: { type: 'string' },
    force: { type: 'boolean' }
  },
  run: async (values, log) => {
    const quantize = values.quantize ?? 'none'
    if (quantize !== 'none' && quantize !== 'int8') return fail('usage', `cmga compile: --quantize must be int8 or none, got "${String(quantize)}"`)
    if (values['int8-min-elements'] !== undefined && quantize !== 'int8') return fail('usage', 'cmga compile: --int8-min-elements goes with --quantize int8')
    const minElements = integer('compile', values, 'int8-min-elements', MIN_ELEMENTS, 1, 2 ** 31 - 1)
    if (E.isLeft(minElements)) return minElements
    const req = pipe(
      E.Do,
      E.bind('configPath', () => required('compile', values, 'config')),
      E.bind('out', () => requiredOutput('compile', values, 'out', 'directory')),
      E.bind('config', ({ configPath }) => readConfigFile(configPath)),
      E.bind('files', ({ config }) => vocabFiles(config, values, log)),
      E.bind('ranking', () => rankingOf(values)),
      E.bind('w', ({ config }) => weightsFor(config, values, log)),
      E.chainFirst(({ w }) => E.right(log(w.summary))),
      E.map(({ config, out, w, files, ranking }) => ({
        config,
        files,
        ...(ranking === undefined ? {} : { ranking }),
        force: values.force === true,
        weights: w.weights,
        weightsSource: w.source,
        weightsSummary: w.summary,
        out,
        fuse: values['no-fuse'] !== true,
        onStage: (s: string, i: number, n: number) => log(`[${i + 1}/${n}] ${s}`)
      }))
    )
    if (E.isLeft(req)) return req
    const r = compileModel({ ...req.right, quantize, int8MinElements: minElements.right })
    if (E.isLeft(r)) return r
    log(`wrote ${req.right.out} (${Object.keys(r.right.manifest.stages).length} graphs${quantize === 'int8' ? ', int8' : ''})`)
    return quantize === 'int8' ? reportInt8(req.right, log) : E.right(undefined)
  }
}

/** Compiles float32 aside, compares it with the int8 model on sample pairs, prints and saves the report. */
const reportInt8 = async (req: CompileRequest, log: (line: string) => void): Promise<E.Either<CmgaError, void>> => {
  const f32Dir = `${resolve(req.out)}.float32-reference`
  rmSync(f32Dir, { recursive: true, force: true })
  log('compiling the float32 reference for the error report')
  const f = compileModel({ ...req, out: f32Dir, quantize: 'none', onStage: undefined })
  if (E.isLeft(f)) return f
  const c = req.config
  const report = await quantizeReport(f32Dir, req.out, sampleInputs(c, 4, Math.min(32, c.text.maxPositions), 0))()
  rmSync(f32Dir, { recursive: true, force: true })
  if (E.isLeft(report)) return report
  for (const line of formatReport(report.right)) log(line)
  return writeFileAtomic(join(req.out, 'quantize-report.json'), JSON.stringify(report.right, null, 2) + '\n')
}
