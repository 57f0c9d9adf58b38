/**
 * `cmga train`: pre-training or retrieval fine-tuning with compiled train-step graphs.
 * @since 0.1.0
 */
import cliProgress from 'cli-progress'
import * as E from 'fp-ts/lib/Either.js'
import { pipe } from 'fp-ts/lib/function.js'
import type { CmgaError } from '../../compiler/errors.js'
import { fail } from '../../compiler/errors.js'
import type { TrainMode } from '../../models/cmga/train-step.js'
import type { HistoryEntry, RunOptions } from '../../apps/train/loop.js'
import type { TrainRequest } from '../../apps/train/train.js'
import { adamwFrom, runTraining } from '../../apps/train/train.js'
import type { Command, Values } from '../command.js'
import { integer, required } from '../command.js'

const help = `Usage: cmga train --config CONFIG.json --annotations FILE --images ROOT --out DIR
                  --steps N --batch B --lr LR [--init WEIGHTS] [--resume]
                  [--mode pretrain|retrieval] [--warmup-keep STEPS] [--seed S] [more flags]

Trains CMGA with compiled train-step graphs (forward, backward and AdamW in one
onnxruntime run per step). pretrain: ITC + FTC + ITM + MLM (spec section 9);
retrieval (fine-tuning): ITC + FTC + ITM.

  --config FILE          model config (spec section 1)
  --annotations FILE     JSON array (or .jsonl) of {"image": PATH, "caption": TEXT or [TEXT, ...]}
  --images ROOT          folder the image paths are relative to
  --out DIR              where checkpoints, weights.safetensors, log.json, loss.svg and vocab.txt go
  --steps N              total steps (updates)
  --batch B              pairs per step (at least 2)
  --lr LR                peak learning rate (linear warm-up, then cosine to 1% of it)
  --init FILE            start from these weights (ALBEF names; safetensors or PyTorch
                         .pth) instead of random ones (seeded)
  --resume               continue the run in DIR from its latest checkpoint
  --mode M               pretrain (default) or retrieval
  --warmup-keep STEPS    keep-rate warm-up: keep rate 1 at first, cosine to the config's rate over
                         STEPS steps, quantized to --keep-levels levels (one graph each); default 0
  --seed S               seed of the initial weights, data order, flips and MLM masks (default 0)
  --vocab FILE           vocab.txt or tokenizer.json (default: vocab.txt beside the config, else
                         one made from the captions)
  --max-len N            tokens per caption, [CLS] and [SEP] included (default min(30, maxPositions))
  --warmup-lr STEPS      learning-rate warm-up steps (default 5% of --steps)
  --weight-decay W       AdamW decoupled weight decay on matrices (default 0.02)
  --clip NORM            clip the global gradient norm (default: no clipping)
  --keep-levels K        keep-rate levels of the warm-up (default 4)
  --save-every N         checkpoint every N steps (default 100; always after the last step)
  --keep-checkpoints K   checkpoints kept (default 2)
  --log-every N          a log line every N steps when stderr is not a terminal (default 50)
  --threads N            onnxruntime intra-op threads (default 2)
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
    E.bind('mode', () => modeOf(values)),
    E.bind('warmupKeep', () => integer('train', values, 'warmup-keep', 0, 0)),
    E.bind('seed', () => integer('train', values, 'seed', 0, 0, 2 ** 32 - 1)),
    E.bind('length', () => integer('train', values, 'max-len', 0, 2))
  )

/** The optimizer, schedule and bookkeeping flags. */
const parseRest = (values: Values, steps: number) =>
  pipe(
    E.Do,
    E.bind('warmupLr', () => integer('train', values, 'warmup-lr', Math.round(steps * 0.05), 0)),
    E.bind('weightDecay', () => number('train', values, 'weight-decay', 0.02, (x) => x >= 0, 'a non-negative number')),
    E.bind('clip', () => number('train', values, 'clip', undefined, (x) => x > 0, 'a positive number')),
    E.bind('keepLevels', () => integer('train', values, 'keep-levels', 4, 1, 64)),
    E.bind('saveEvery', () => integer('train', values, 'save-every', 100, 1)),
    E.bind('keepCheckpoints', () => integer('train', values, 'keep-checkpoints', 2, 1)),
    E.bind('logEvery', () => integer('train', values, 'log-every', 50, 1)),
    E.bind('threads', () => integer('train', values, 'threads', 2, 1, 256))
  )

const parse = (values: Values): E.Either<CmgaError, TrainRequest & { logEvery: number }> =>
  pipe(
    parseCore(values),
    E.bindW('rest', (core) => parseRest(values, core.steps)),
    E.map(({ rest, ...f }) => {
      const options: RunOptions = {
        mode: f.mode,
        steps: f.steps,
        batch: f.batch,
        length: f.length, // 0: the default (see TrainRequest)
        lr: f.lr as number,
        warmupLr: rest.warmupLr,
        seed: f.seed,
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
        options,
        threads: rest.threads,
        saveEvery: rest.saveEvery,
        keepCheckpoints: rest.keepCheckpoints,
        logEvery: rest.logEvery
      }
    })
  )

const fmt = (x: number | undefined): string => (x === undefined ? '-' : x.toFixed(3))

/** Running averages of the losses, a bar on a terminal, a line every `every` steps otherwise. */
const progress = (log: (l: string) => void, every: number): { onStep: (e: HistoryEntry, o: RunOptions) => void; stop: () => void } => {
  const tty = process.stderr.isTTY === true
  const bar = tty ? new cliProgress.SingleBar({ format: 'step {value}/{total} [{bar}] loss {loss} (itc {itc} ftc {ftc} itm {itm} mlm {mlm}) | {speed} steps/s | eta {eta_formatted}', stream: process.stderr, hideCursor: true, etaBuffer: 50 }, cliProgress.Presets.shades_classic) : null
  const avg: Record<string, number> = {}
  let started = false
  let first: { step: number; time: number } | null = null
  return {
    onStep: (e, o) => {
      for (const [k, v] of Object.entries(e.values)) avg[k] = avg[k] === undefined ? v : 0.9 * avg[k] + 0.1 * v
      first ??= { step: e.step - 1, time: 0 }
      const speed = (e.step - first.step) / Math.max(e.time - first.time, 1e-9)
      const payload = { loss: fmt(avg.loss), itc: fmt(avg.loss_itc), ftc: fmt(avg.loss_ftc), itm: fmt(avg.loss_itm), mlm: fmt(avg.loss_mlm), speed: speed.toFixed(2) }
      if (bar !== null) {
        if (!started) bar.start(o.steps, e.step - 1, payload)
        started = true
        bar.update(e.step, payload)
      } else if (e.step % every === 0 || e.step === o.steps) {
        log(`step ${e.step}/${o.steps}  loss ${payload.loss} (itc ${payload.itc} ftc ${payload.ftc} itm ${payload.itm} mlm ${payload.mlm})  lr ${e.lr.toExponential(2)}  keep ${e.keepRate.toFixed(2)}  ${payload.speed} steps/s`)
      }
    },
    stop: () => {
      if (started) bar?.stop()
    }
  }
}

/** @since 0.1.0 */
export const trainCommand: Command = {
  name: 'train',
  summary: 'pre-train or fine-tune with compiled train-step graphs (checkpoints, --resume, log, loss plot)',
  help,
  flags: {
    config: { type: 'string' }, annotations: { type: 'string' }, images: { type: 'string' }, init: { type: 'string' }, out: { type: 'string' },
    steps: { type: 'string' }, batch: { type: 'string' }, lr: { type: 'string' }, resume: { type: 'boolean' }, mode: { type: 'string' },
    'warmup-keep': { type: 'string' }, seed: { type: 'string' }, vocab: { type: 'string' }, 'max-len': { type: 'string' }, 'warmup-lr': { type: 'string' },
    'weight-decay': { type: 'string' }, clip: { type: 'string' }, 'keep-levels': { type: 'string' }, 'save-every': { type: 'string' },
    'keep-checkpoints': { type: 'string' }, 'log-every': { type: 'string' }, threads: { type: 'string' }
  },
  run: async (values, log) => {
    const req = parse(values)
    if (E.isLeft(req)) return req
    const p = progress(log, req.right.logEvery)
    const r = await runTraining(req.right, { log, onStep: p.onStep })
    p.stop()
    return E.map((s: { steps: number; stepsRun: number; stepsPerSecond: number; final: Readonly<Record<string, number>> }) => {
      log(`trained to step ${s.steps} (${s.stepsRun} steps run, ${s.stepsPerSecond.toFixed(2)} steps/s); final loss ${fmt(s.final.loss)}`)
      log(`wrote ${req.right.out}/weights.safetensors, log.json, loss.svg`)
    })(r)
  }
}
