/**
 * `cmga train`: pre-training or retrieval fine-tuning with compiled train-step graphs.
 * @since 0.1.0
 */
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import cliProgress from 'cli-progress'
import * as E from 'fp-ts/lib/Either.js'
import { pipe } from 'fp-ts/lib/function.js'
import type { CmgaError } from '../../compiler/errors.js'
import { fail } from '../../compiler/errors.js'
import type { NegativeChoice } from '../../models/cmga/losses.js'
import type { Objective, TrainMode } from '../../models/cmga/train-step.js'
import { lossNames, modeObjectives, objectiveNames } from '../../models/cmga/train-step.js'
import type { FlipMode, VerticalFlip } from '../../apps/train/data.js'
import type { HistoryEntry, RunOptions } from '../../apps/train/loop.js'
import type { FocusOption } from '../../apps/train/near-misses.js'
import type { TrainRequest } from '../../apps/train/train.js'
import { DEFAULT_IMAGE_CACHE_MB, adamwFrom, runTraining } from '../../apps/train/train.js'
import { hasCheckpoint, latestCheckpoint } from '../../apps/train/checkpoint.js'
import { QK_INIT_STD } from '../../apps/compile/random-init.js'
import type { Command, Values } from '../command.js'
import { aliased, checkOutput, integer, oneOf, required } from '../command.js'
import { whileInterruptible } from '../interrupt.js'

const help = `Usage: cmga train --config CONFIG.json --annotations FILE --images ROOT --out DIR
                  --steps N --batch B --lr LR [--init WEIGHTS] [--resume]
                  [--mode pretrain|retrieval | --objectives LIST] [--itm-negatives K] [--flip F]
                  [--warmup-keep STEPS] [--seed S] [more flags]

Trains CMGA with compiled train-step graphs (forward, backward and AdamW in one
onnxruntime run per step). The loss is the sum of the chosen objectives of spec section 9:
pretrain is ITC + FTC + ITM + MLM; retrieval (fine-tuning) is ITC + FTC + ITM.

  --config FILE          model config (spec section 1)
  --annotations FILE     JSON array (or .jsonl) of {"image": PATH, "caption": TEXT or [TEXT, ...]}
  --images ROOT          folder the image paths are relative to
  --out DIR              where checkpoints, weights.safetensors, log.json, loss.svg and vocab.txt go
                         (must not exist, unless --resume continues the run in it or --force
                         replaces it)
  --steps N              total steps (updates); with --resume, more steps than the run took
                         extend it (the cosine then spans the new total from the resumed step on)
  --batch B              pairs per step (at least 2)
  --lr LR                peak learning rate (linear warm-up, then cosine to --lr-floor times it)
  --init FILE            start from these weights (ALBEF names; safetensors or PyTorch
                         .pth) instead of random ones (seeded)
  --resume               continue the run in DIR from its latest checkpoint (same flags; a
                         differing one is named). Ctrl-C or SIGTERM stops a run and says which
                         checkpoint was kept
  --force                remove an existing DIR and start afresh
  --mode M               pretrain (default: itc,ftc,itm,mlm) or retrieval (itc,ftc,itm)
  --objectives LIST      instead of --mode, a comma list of itc, ftc, itm, mlm: the loss is their
                         sum, and only the parameters they use are trained (e.g. itc alone, a
                         CLIP-style baseline); the others are saved as they started
  --itm-negatives K      how ITM picks each pair's negative text and image: hard (default, the
                         spec's argmax of score_global), sample (drawn with probability
                         softmax(score_global / --neg-temp), the positive excluded), random
                         (uniform among the others) or mixed (random for the first half of the
                         batch, hard for the rest); the spec's training note says why hard
                         negatives can leave the ITM loss at its prior; partner: with
                         --near-misses, a pair and its near-miss partner are each other's
                         negative, the rest hard, and never a caption meaning the same as the
                         positive's (equal words, or a shapes-world synonym)
  --neg-temp T           sampling temperature of --itm-negatives sample (default 0.05)
  --itm-detach           ITM trains only the relation module and the ITM head: its gradient
                         stops at the text and vision encoders' outputs, which ITC and FTC
                         then train alone (not ALBEF's sum; the step skips ITM's backward
                         pass through the joint vision encoder)
  --flip F               horizontal flip of each image with probability 1/2: swap (default) mirrors
                         the image and swaps the words left and right in its caption; plain mirrors
                         the image only, which makes "left of" / "right of" unlearnable (the
                         caption becomes false); none never flips
  --vflip F              vertical flip of each image with probability 1/2: none (default), or swap:
                         mirror the image top-bottom and swap the words above and below in its
                         caption (only where no --vflip-skip word is in it or its partner's)
  --vflip-skip WORDS     comma-listed words whose captions --vflip swap leaves unflipped, e.g.
                         triangle (not symmetric top-bottom, so a flip would draw one upside
                         down, which the shapes world never does); default none
  --near-misses F        share of each batch (0 to 0.5, default 0) made of near-miss partners: for
                         a pair of the batch, another whose caption differs in one word or in two
                         words swapped, so contrast and ITM's hard negatives meet the
                         near-identical pairs a re-rank must tell apart
  --near-miss-focus W:S  with share S (0 to 1), a partner's edit is drawn among those that change
                         one of the comma-listed words W (e.g. left,right,above,below:0.5: the
                         relation, which contrast of bags of words cannot see), where it has one
  --near-miss-spans      a caption where one word stands for two is a near miss too, e.g. "a red
                         circle above a blue square" for "a red circle left of a blue square"
                         (the relation on the other axis), which the default pairs of equal
                         length never meet
  --warmup-keep STEPS    keep-rate warm-up: keep rate 1 at first, cosine to the config's rate over
                         STEPS steps, quantized to --keep-levels levels (one graph each); default 0
  --seed S               seed of the initial weights, data order, flips, MLM masks and ITM
                         negative noise (default 0)
  --init-qk-std S        standard deviation of the text and fusion layers' attention query and
                         key matrices when drawn at random (default ${QK_INIT_STD}, kept by --resume;
                         other matrices 0.02, as ALBEF). At 0.02 the text attention starts
                         uniform and on the shapes world half the seeds never bound colours to
                         shapes; weights from --init keep their own
  --vocab FILE           vocab.txt or tokenizer.json (default: the one beside --init's weights,
                         in their folder or, for a checkpoint, their run's, since their word
                         embeddings are indexed by it; else vocab.txt beside the config; else one
                         made from the captions)
  --max-length N         tokens per caption, [CLS] and [SEP] included (default min(30, maxPositions);
                         --max-len is an old name of it)
  --warmup-lr STEPS      learning-rate warm-up steps (default 5% of --steps, kept by --resume)
  --lr-floor F           the final learning rate as a fraction of --lr, in [0, 1] (default 0.01;
                         0 decays to 0)
  --weight-decay W       AdamW decoupled weight decay on matrices (default 0.02)
  --clip NORM            clip the global gradient norm (default: no clipping)
  --keep-levels K        keep-rate levels of the warm-up (default 4)
  --save-every N         checkpoint every N steps (default 100; always after the last step)
  --keep-checkpoints K   checkpoints kept (default 2)
  --log-every N          a log line every N steps when stderr is not a terminal, with the mean
                         of each loss over those N steps (default 50)
  --threads N            onnxruntime intra-op threads (default 2)
  --image-cache MB       decoded training images kept in memory for later epochs, in MiB
                         (default ${DEFAULT_IMAGE_CACHE_MB}; 0: decode every image each time it comes); the
                         same pixels either way
  -h, --help             this text

Checkpoints (DIR/checkpoints/step-N/) are written atomically: weights.safetensors
(ALBEF names; cmga compile --weights takes it), optimizer.safetensors (AdamW moments and
step) and trainer.json. At the end: DIR/weights.safetensors, DIR/log.json (every
step's losses, learning rate, keep rate) and DIR/loss.svg.`

const number = (cmd: string, values: Values, flag: string, fallback: number | undefined, ok: (x: number) => boolean, what: string): E.Either<CmgaError, number | undefined> => {
  const v = values[flag]
  if (v === undefined) return E.right(fallback)
  const x = Number(v)
  return typeof v === 'string' && v.trim() !== '' && Number.isFinite(x) && ok(x) ? E.right(x) : fail('usage', `cmga ${cmd}: --${flag} must be ${what}, got "${String(v)}"`)
}

const modeOf = (values: Values): E.Either<CmgaError, TrainMode> => {
  const m = values.mode ?? 'pretrain'
  return m === 'pretrain' || m === 'retrieval' ? E.right(m) : fail('usage', `cmga train: --mode must be pretrain or retrieval, got "${String(m)}"`)
}

/** `--objectives LIST` (in `objectiveNames` order), else the objectives of `--mode`. */
const objectivesOf = (values: Values): E.Either<CmgaError, readonly Objective[]> => {
  const v = values.objectives
  if (v === undefined) return E.map((m: TrainMode) => modeObjectives[m])(modeOf(values))
  if (values.mode !== undefined) return fail('usage', 'cmga train: pass --mode or --objectives, not both')
  const list = String(v).split(',').map((x) => x.trim())
  const bad = list.find((x) => !(objectiveNames as readonly string[]).includes(x))
  if (bad !== undefined || new Set(list).size !== list.length) {
    return fail('usage', `cmga train: --objectives must be a comma list of distinct ${objectiveNames.join(', ')}, got "${String(v)}"`)
  }
  return E.right(objectiveNames.filter((x) => list.includes(x)))
}

/** `--itm-negatives` and `--neg-temp`, each only where it has an effect. */
const negativesOf = (values: Values, objectives: readonly Objective[]) =>
  pipe(
    E.Do,
    E.bind('itmNegatives', () => oneOf<NegativeChoice['kind']>('train', values, 'itm-negatives', ['hard', 'sample', 'random', 'mixed', 'partner'], 'hard')),
    E.bind('negTemp', () => number('train', values, 'neg-temp', 0.05, (x) => x > 0 && x <= 100, 'a number in (0, 100]')),
    E.chainFirst(({ itmNegatives }) =>
      (values['itm-negatives'] !== undefined || values['itm-detach'] === true) && !objectives.includes('itm')
        ? fail('usage', `cmga train: ${values['itm-negatives'] !== undefined ? '--itm-negatives' : '--itm-detach'} needs the itm objective (the objectives are ${objectives.join(',')})`)
        : values['neg-temp'] !== undefined && itmNegatives !== 'sample'
          ? fail('usage', `cmga train: --neg-temp is the temperature of --itm-negatives sample (here ${itmNegatives})`)
          : E.right(undefined)
    )
  )

/** `--near-miss-focus WORD,WORD,...:SHARE`. */
const focusOf = (values: Values): E.Either<CmgaError, FocusOption | undefined> => {
  const v = values['near-miss-focus']
  if (v === undefined) return E.right(undefined)
  const m = /^([^:]+):([0-9.eE+-]+)$/.exec(String(v))
  const words = m === null ? [] : m[1].split(',').map((w) => w.trim().toLowerCase()).filter((w) => w !== '')
  const share = m === null ? NaN : Number(m[2])
  return words.length === 0 || !(share >= 0 && share <= 1)
    ? fail('usage', `cmga train: --near-miss-focus takes WORD,WORD,...:SHARE with SHARE in [0, 1] (e.g. left,right,above,below:0.5), not "${String(v)}"`)
    : E.right({ words, share })
}

/** --vflip and --vflip-skip: the vertical flip, undefined for none. */
const vflipOf = (values: Values): E.Either<CmgaError, VerticalFlip | undefined> => {
  const mode = oneOf('train', values, 'vflip', ['none', 'swap'] as const, 'none')
  if (E.isLeft(mode)) return mode
  const skip = typeof values['vflip-skip'] === 'string' ? values['vflip-skip'].split(',').map((w) => w.trim().toLowerCase()).filter((w) => w !== '') : []
  if (values['vflip-skip'] !== undefined && skip.length === 0) return fail('usage', `cmga train: --vflip-skip takes comma-listed words (e.g. triangle), not "${String(values['vflip-skip'])}"`)
  if (values['vflip-skip'] !== undefined && mode.right === 'none') return fail('usage', 'cmga train: --vflip-skip needs --vflip swap')
  return E.right(mode.right === 'none' ? undefined : { skip })
}

/** --flip, and the vertical flip. */
const flipsOf = (values: Values): E.Either<CmgaError, { flip: FlipMode; vflip: VerticalFlip | undefined }> =>
  pipe(
    E.Do,
    E.bind('flip', () => oneOf<FlipMode>('train', values, 'flip', ['swap', 'plain', 'none'], 'swap')),
    E.bind('vflip', () => vflipOf(values))
  )

/** Required paths and the run's numbers. */
const parseCore = (values: Values) =>
  pipe(
    E.Do,
    E.bind('configPath', () => required('train', values, 'config')),
    E.bind('annotations', () => required('train', values, 'annotations')),
    E.bind('images', () => required('train', values, 'images')),
    E.bind('out', () => required('train', values, 'out')),
    E.chainFirst(() => required('train', values, 'steps')),
    E.chainFirst(() => required('train', values, 'batch')),
    E.chainFirst(() => required('train', values, 'lr')),
    E.bind('steps', () => integer('train', values, 'steps', 0, 1)),
    E.bind('batch', () => integer('train', values, 'batch', 0, 2, 4096)),
    E.bind('lr', () => number('train', values, 'lr', 0, (x) => x > 0, 'a positive number')),
    E.bind('objectives', () => objectivesOf(values)),
    E.bindW('negatives', ({ objectives }) => negativesOf(values, objectives)),
    E.bind('flips', () => flipsOf(values)),
    E.bind('nearMisses', () => number('train', values, 'near-misses', 0, (x) => x >= 0 && x <= 0.5, 'a number in [0, 0.5]')),
    E.bind('nearMissFocus', () => focusOf(values)),
    E.chainFirst(({ nearMisses }) =>
      (values['near-miss-focus'] !== undefined || values['near-miss-spans'] === true) && nearMisses === 0 ? fail('usage', `cmga train: ${values['near-miss-focus'] !== undefined ? '--near-miss-focus' : '--near-miss-spans'} needs --near-misses above 0`) : E.right(undefined)
    ),
    E.bind('warmupKeep', () => integer('train', values, 'warmup-keep', 0, 0)),
    E.bind('seed', () => integer('train', values, 'seed', 0, 0, 2 ** 32 - 1)),
    E.bind('length', () => integer('train', values, 'max-length', 0, 2))
  )

/** The optimizer, schedule and bookkeeping flags. */
const parseRest = (values: Values) =>
  pipe(
    E.Do,
    // undefined: 5% of --steps, or in a resume the resumed run's warm-up
    E.bind('warmupLr', () => (values['warmup-lr'] === undefined ? E.right(undefined) : integer('train', values, 'warmup-lr', 0, 0))),
    E.bind('lrFloor', () => number('train', values, 'lr-floor', 0.01, (x) => x >= 0 && x <= 1, 'a number in [0, 1]')),
    E.bind('weightDecay', () => number('train', values, 'weight-decay', 0.02, (x) => x >= 0, 'a non-negative number')),
    E.bind('clip', () => number('train', values, 'clip', undefined, (x) => x > 0, 'a positive number')),
    // undefined: QK_INIT_STD, or in a resume the resumed run's
    E.bind('initQkStd', () => number('train', values, 'init-qk-std', undefined, (x) => x > 0, 'a positive number')),
    E.bind('keepLevels', () => integer('train', values, 'keep-levels', 4, 1, 64)),
    E.bind('saveEvery', () => integer('train', values, 'save-every', 100, 1)),
    E.bind('keepCheckpoints', () => integer('train', values, 'keep-checkpoints', 2, 1)),
    E.bind('logEvery', () => integer('train', values, 'log-every', 50, 1)),
    E.bind('threads', () => integer('train', values, 'threads', 2, 1, 256)),
    E.bind('imageCacheMb', () => integer('train', values, 'image-cache', DEFAULT_IMAGE_CACHE_MB, 0, 2 ** 20))
  )

const parse = (values: Values): E.Either<CmgaError, TrainRequest & { logEvery: number }> =>
  pipe(
    parseCore(values),
    E.bindW('rest', () => parseRest(values)),
    E.map(({ rest, ...f }) => {
      const options: TrainRequest['options'] = {
        objectives: f.objectives,
        itmNegatives: f.negatives.itmNegatives,
        negTemp: f.negatives.negTemp as number,
        ...(values['itm-detach'] === true ? { itmDetach: true } : {}),
        flip: f.flips.flip,
        ...(f.flips.vflip === undefined ? {} : { vflip: f.flips.vflip }),
        nearMisses: f.nearMisses as number,
        ...(f.nearMissFocus === undefined ? {} : { nearMissFocus: f.nearMissFocus }),
        ...(values['near-miss-spans'] === true ? { nearMissSpans: true } : {}),
        steps: f.steps,
        batch: f.batch,
        length: f.length, // 0: the default (see TrainRequest)
        lr: f.lr as number,
        ...(rest.warmupLr === undefined ? {} : { warmupLr: rest.warmupLr }),
        lrFloor: rest.lrFloor as number,
        seed: f.seed,
        ...(rest.initQkStd === undefined ? {} : { initQkStd: rest.initQkStd }),
        warmupKeep: f.warmupKeep,
        keepLevels: rest.keepLevels,
        adamw: adamwFrom(rest.weightDecay as number, rest.clip)
      }
      return {
        configPath: f.configPath,
        annotations: f.annotations,
        images: f.images,
        out: f.out,
        ...(typeof values.init === 'string' ? { init: values.init } : {}),
        ...(typeof values.vocab === 'string' ? { vocab: values.vocab } : {}),
        resume: values.resume === true,
        replace: values.force === true,
        options,
        threads: rest.threads,
        saveEvery: rest.saveEvery,
        keepCheckpoints: rest.keepCheckpoints,
        imageCacheMb: rest.imageCacheMb,
        logEvery: rest.logEvery
      }
    })
  )

const fmt = (x: number | undefined): string => (x === undefined ? '-' : x.toFixed(3))

/** The losses and speed over the last `window` steps (fewer at the start of a run or a resume). */
const windowMeans = (window: number) => {
  const recent: HistoryEntry[] = []
  return (e: HistoryEntry): { n: number; mean: (name: string) => number | undefined; speed: number } => {
    recent.push(e)
    if (recent.length > window) recent.shift()
    const mean = (name: string): number | undefined => (e.values[name] === undefined ? undefined : recent.reduce((a, h) => a + (h.values[name] ?? 0), 0) / recent.length)
    const before = recent.length > 1 ? recent[0] : undefined
    const speed = before === undefined ? 1 / Math.max(e.time, 1e-9) : (e.step - before.step) / Math.max(e.time - before.time, 1e-9)
    return { n: recent.length, mean, speed }
  }
}

/** "loss 3.210 (itc 1.100 ftc ...)": the means of the run's losses. */
const lossText = (o: RunOptions, mean: (name: string) => number | undefined): string =>
  `loss ${fmt(mean('loss'))} (${lossNames(o.objectives).slice(1).map((n) => `${n.slice('loss_'.length)} ${fmt(mean(n))}`).join(' ')})`

/**
 * Progress: a bar on a terminal, a line every `every` steps otherwise, each with the
 * mean of every loss over the last `every` steps (one step is too noisy to read).
 */
const progress = (log: (l: string) => void, every: number): { onStep: (e: HistoryEntry, o: RunOptions) => void; stop: () => void } => {
  const tty = process.stderr.isTTY === true
  const bar = tty ? new cliProgress.SingleBar({ format: 'step {value}/{total} [{bar}] mean of last {n}: {losses} | {speed} steps/s | eta {eta_formatted}', stream: process.stderr, hideCursor: true, etaBuffer: 50 }, cliProgress.Presets.shades_classic) : null
  const means = windowMeans(every)
  let started = false
  return {
    onStep: (e, o) => {
      const m = means(e)
      if (bar !== null) {
        const payload = { n: m.n, losses: lossText(o, m.mean), speed: m.speed.toFixed(2) }
        if (!started) bar.start(o.steps, e.step - 1, payload)
        started = true
        bar.update(e.step, payload)
      } else if (e.step % every === 0 || e.step === o.steps) {
        log(`step ${e.step}/${o.steps}  mean of last ${m.n}: ${lossText(o, m.mean)}  lr ${e.lr.toExponential(2)}  keep ${e.keepRate.toFixed(2)}  ${m.speed.toFixed(2)} steps/s`)
      }
    },
    stop: () => {
      if (started) bar?.stop()
    }
  }
}

/** What an interrupted run keeps, and how to continue it. */
const kept = (out: string): string => {
  const last = latestCheckpoint(out)
  return last === null
    ? `no checkpoint was written yet; run the same command with --resume to start it again (or --force to replace ${out})`
    : `the last checkpoint is ${last.dir} (step ${last.step}); run the same command with --resume to continue from it`
}

/** @since 0.1.0 */
export const trainCommand: Command = {
  name: 'train',
  summary: 'pre-train or fine-tune with compiled train-step graphs (checkpoints, --resume, log, loss plot)',
  help,
  flags: {
    config: { type: 'string' }, annotations: { type: 'string' }, images: { type: 'string' }, init: { type: 'string' }, out: { type: 'string' },
    steps: { type: 'string' }, batch: { type: 'string' }, lr: { type: 'string' }, resume: { type: 'boolean' }, mode: { type: 'string' },
    'warmup-keep': { type: 'string' }, seed: { type: 'string' }, vocab: { type: 'string' }, 'max-length': { type: 'string' }, 'max-len': { type: 'string' }, force: { type: 'boolean' }, 'warmup-lr': { type: 'string' },
    'weight-decay': { type: 'string' }, clip: { type: 'string' }, 'keep-levels': { type: 'string' }, 'save-every': { type: 'string' }, 'image-cache': { type: 'string' },
    'keep-checkpoints': { type: 'string' }, 'log-every': { type: 'string' }, threads: { type: 'string' }, objectives: { type: 'string' },
    'itm-negatives': { type: 'string' }, 'neg-temp': { type: 'string' }, flip: { type: 'string' }, vflip: { type: 'string' }, 'vflip-skip': { type: 'string' }, 'lr-floor': { type: 'string' }, 'init-qk-std': { type: 'string' }, 'near-misses': { type: 'string' }, 'near-miss-focus': { type: 'string' }, 'near-miss-spans': { type: 'boolean' }, 'itm-detach': { type: 'boolean' }
  },
  run: async (values, log) => {
    const req = parse(aliased(values, 'max-length', 'max-len'))
    if (E.isLeft(req)) return req
    const out = req.right.out
    if (values.resume !== true) {
      // --resume is the way to reuse a run's directory; otherwise the output policy of every command
      const o = checkOutput('out', out, 'directory', values.force === true)
      if (E.isLeft(o)) return hasCheckpoint(out) ? fail('usage', `${o.left.message}; it holds a training run: --resume continues it`) : o
    }
    const p = progress(log, req.right.logEvery)
    const r = await whileInterruptible(() => kept(out), () => runTraining(req.right, { log, onStep: p.onStep }))
    p.stop()
    return E.map((s: { steps: number; stepsRun: number; stepsPerSecond: number; final: Readonly<Record<string, number>> }) => {
      log(`trained to step ${s.steps} (${s.stepsRun} steps run, ${s.stepsPerSecond.toFixed(2)} steps/s); final loss ${fmt(s.final.loss)}`)
      log(`wrote ${out}/weights.safetensors, log.json, loss.svg`)
      const vocab = existsSync(join(out, 'vocab.txt')) ? join(out, 'vocab.txt') : req.right.vocab
      log(`compile it: cmga compile --config ${req.right.configPath} --weights ${join(out, 'weights.safetensors')}${vocab === undefined ? '' : ` --vocab ${vocab}`} --out MODEL`)
    })(r)
  }
}
