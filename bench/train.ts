/**
 * Training throughput: the compiled pre-training step (forward, backward, AdamW in one
 * onnxruntime run) of the tiny config and a small one, batch 8 x 16 tokens, 2
 * intra-op threads, random weights and batches. Per config: compile time, median
 * milliseconds per step with the state in pre-allocated onnxruntime tensors (what
 * `cmga train` does), the same step when onnxruntime allocates the outputs (the two
 * alternate step by step), and the bytes the binding copies out per step.
 * `benchTraining()` is called by `npm run bench`; `npx tsx bench/train.ts` runs it
 * alone, adds the PyTorch comparison (bench/torch_train_step.py, when /usr/bin/python3
 * has torch) and writes bench/results-training.md.
 * @since 0.1.0
 */
import { execFileSync } from 'node:child_process'
import { existsSync, writeFileSync } from 'node:fs'
import { cpus, loadavg } from 'node:os'
import { fileURLToPath } from 'node:url'
import * as ort from 'onnxruntime-node'
import * as E from 'fp-ts/lib/Either.js'
import type { HostTensor } from '../compiler/ir/tensor.js'
import { adamwDefaults, trainNames } from '../compiler/train/adamw.js'
import type { CmgaConfig } from '../models/cmga/config.js'
import { readConfigFile } from '../apps/cmga/config-file.js'
import { randomWeights } from '../apps/compile/random-init.js'
import { cmgaTrainStep } from '../models/cmga/train-step.js'
import { mulberry32 } from '../runtime/prng.js'
import { toOrt } from '../runtime/session.js'
import { initialState } from '../apps/train/checkpoint.js'
import { compileTraining } from '../apps/train/compile.js'
import { makeRunner, openStepSession } from '../apps/train/runner.js'
import { medianOf, THREADS } from './measure.js'

/** One configuration's measurements. */
export interface TrainingRow {
  readonly config: string
  readonly batch: number
  readonly length: number
  /** Parameters the step updates. */
  readonly trainable: number
  /** Graph building, passes, emitting and opening the session. */
  readonly compileSeconds: number
  /** Median per step, state in pre-allocated tensors (as `cmga train`). */
  readonly msPerStep: number
  readonly stepsPerSecond: number
  /** Median per step when onnxruntime allocates every output. */
  readonly msPerStepAllocated: number
  /** Bytes the binding copies out per step (updated parameters and moments), in MiB. */
  readonly copiedMiBPerStep: number
}

const [B, L] = [8, 16]
const CONFIGS: ReadonlyArray<readonly [string, string, number]> = [
  ['tiny', 'models/cmga/configs/tiny.json', 30],
  ['small', 'bench/train-small.json', 5]
]

const get = <A>(e: E.Either<{ message: string }, A>): A => {
  if (E.isLeft(e)) throw new Error(e.left.message)
  return e.right
}

/** A random pre-training batch: pixels, ids with [CLS], 15% MLM targets shown as [MASK] (id 4). */
const randomBatch = (c: CmgaConfig): Record<string, HostTensor> => {
  const rand = mulberry32(1)
  const S = c.vision.imageSize
  const V = c.text.vocabSize
  const ids = BigInt64Array.from({ length: B * L }, (_, i) => BigInt(i % L === 0 ? 2 : 5 + Math.floor(rand() * (V - 5))))
  const labels = ids.map((x, i) => (i % L !== 0 && rand() < 0.15 ? x : -100n))
  const i64 = (data: BigInt64Array): HostTensor => ({ dtype: 'int64', shape: [B, L], data })
  return {
    pixels: { dtype: 'float32', shape: [B, 3, S, S], data: Float32Array.from({ length: B * 3 * S * S }, () => rand() * 4 - 2) },
    input_ids: i64(ids),
    attention_mask: i64(new BigInt64Array(B * L).fill(1n)),
    mlm_input_ids: i64(ids.map((x, i) => (labels[i] >= 0n ? 4n : x))),
    mlm_labels: i64(labels)
  }
}


/**
 * Measures one config: `rounds` rounds of `steps` steps, each step timed pre-allocated
 * (the runner) and then ORT-allocated (same feeds, fetches by name), alternating;
 * `between` runs after each round (the PyTorch comparison), so load from other
 * processes falls on both alike. Reports the best round's medians.
 */
const benchConfig = async (name: string, path: string, steps: number, rounds = 1, between: (round: number) => void = () => undefined): Promise<TrainingRow> => {
  const c = get(readConfigFile(path))
  const t0 = performance.now()
  const step = get(cmgaTrainStep(c, B, L, 'pretrain', adamwDefaults))
  const compiled = get(compileTraining(step.graph))
  const s = get(await openStepSession(compiled.model, step.params, THREADS))
  const compileSeconds = (performance.now() - t0) / 1000
  const runner = makeRunner(initialState(randomWeights(c, 0)))
  const batch = randomBatch(c)
  for (let i = 0; i < 3; i++) get(await runner.step(s, batch, 1e-4)) // warm-up
  const state = runner.state()
  const feeds: Record<string, ort.Tensor> = { lr: new ort.Tensor('float32', Float32Array.from([1e-4]), []), [trainNames.step]: new ort.Tensor('int64', BigInt64Array.from([1n]), []) }
  for (const [k, t] of Object.entries(batch)) feeds[k] = toOrt(t)
  for (const p of step.params) {
    const copy = (t: HostTensor): ort.Tensor => new ort.Tensor('float32', Float32Array.from(t.data as Float32Array), [...t.shape])
    feeds[p.name] = copy(state.params.get(p.name) as HostTensor)
    feeds[trainNames.m(p.name)] = copy(state.m.get(p.name) as HostTensor)
    feeds[trainNames.v(p.name)] = copy(state.v.get(p.name) as HostTensor)
  }
  let [best, bestAllocated] = [Infinity, Infinity]
  for (let r = 0; r < rounds; r++) {
    const [pre, alloc]: [number[], number[]] = [[], []]
    for (let i = 0; i < steps; i++) {
      let t = performance.now()
      get(await runner.step(s, batch, 1e-4))
      pre.push(performance.now() - t)
      t = performance.now()
      await s.session.run(feeds)
      alloc.push(performance.now() - t)
    }
    best = Math.min(best, medianOf(pre))
    bestAllocated = Math.min(bestAllocated, medianOf(alloc))
    between(r)
  }
  const trainable = step.params.reduce((n, p) => n + p.shape.reduce((a, b) => a * b, 1), 0)
  await s.session.release()
  return { config: name, batch: B, length: L, trainable, compileSeconds, msPerStep: best, stepsPerSecond: 1000 / best, msPerStepAllocated: bestAllocated, copiedMiBPerStep: (3 * 4 * trainable) / 2 ** 20 }
}

/** Training steps/s of the tiny and the small config (see the module comment). */
export const benchTraining = async (): Promise<TrainingRow[]> => {
  const rows: TrainingRow[] = []
  for (const [name, path, steps] of CONFIGS) rows.push(await benchConfig(name, path, steps))
  return rows
}

/** The PyTorch comparison, when /usr/bin/python3 has torch (null otherwise). */
const pytorch = (path: string, steps: number, openblas: boolean): Record<string, unknown> | null => {
  const lib = '/usr/lib/x86_64-linux-gnu/openblas-pthread'
  if (openblas && !existsSync(lib)) return null
  try {
    // OpenBLAS single-threaded under torch's 2 intra-op threads: its own threads on top oversubscribe 2 cores
    // (measured: tiny 189 ms/step with 2 OpenBLAS threads, 55-78 ms with 1).
    const env = { ...process.env, OPENBLAS_NUM_THREADS: '1', OMP_NUM_THREADS: String(THREADS), ...(openblas ? { LD_LIBRARY_PATH: lib } : {}) }
    const out = execFileSync('/usr/bin/python3', ['bench/torch_train_step.py', '--config', path, '--batch', String(B), '--len', String(L), '--steps', String(steps), '--threads', String(THREADS)], { env, encoding: 'utf8' })
    return JSON.parse(out.trim().split('\n').pop() as string) as Record<string, unknown>
  } catch {
    return null
  }
}

/** The faster of two PyTorch results. */
const faster = (a: Record<string, unknown> | null, b: Record<string, unknown> | null): Record<string, unknown> | null =>
  a === null ? b : b === null ? a : Number(a.ms_per_step) <= Number(b.ms_per_step) ? a : b

const main = async (): Promise<void> => {
  const loadBefore = loadavg()[0]
  const rows: TrainingRow[] = []
  const torch: Array<{ name: string; openblas: Record<string, unknown> | null; generic: Record<string, unknown> | null }> = []
  for (const [name, path, steps] of CONFIGS) {
    const t = { name, openblas: null as Record<string, unknown> | null, generic: null as Record<string, unknown> | null }
    // three rounds, PyTorch after each of ours, the best round of each side reported
    rows.push(await benchConfig(name, path, steps, 3, () => {
      t.openblas = faster(t.openblas, pytorch(path, steps, true))
      if (name === 'tiny') t.generic = faster(t.generic, pytorch(path, 5, false))
    }))
    torch.push(t)
    console.log(JSON.stringify(rows[rows.length - 1]))
    console.log(JSON.stringify(t))
  }
  const f = (x: unknown, d = 1): string => (typeof x === 'number' ? x.toFixed(d) : 'n/a')
  const lines = [
    '# Training benchmark (bench/train.ts)',
    '',
    `Machine: ${cpus()[0]?.model ?? 'unknown'} x ${cpus().length}, Node ${process.version}, onnxruntime-node ${ort.env.versions.common} (CPU), ${THREADS} intra-op threads.`,
    `One pre-training step (ITC + FTC + ITM + MLM, forward + backward + AdamW) on a random batch of ${B} pairs x ${L} tokens, after 3 warm-up steps.`,
    'Three rounds, PyTorch run after each of ours; each figure is the best round\'s median (30 steps tiny, 5 small; PyTorch 30 / 5 after 3 warm-up).',
    `The machine is shared: 1-minute load average ${loadBefore.toFixed(2)} before, ${loadavg()[0].toFixed(2)} after (on 2 cores; figures move by up to 1.5x between runs).`,
    '',
    '| config | trainable params | compile s | ms / step | steps / s | ms / step, ORT-allocated outputs | copied out per step |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...rows.map((r) => `| ${r.config} | ${(r.trainable / 1e6).toFixed(2)}M | ${f(r.compileSeconds)} | ${f(r.msPerStep)} | ${f(r.stepsPerSecond, 2)} | ${f(r.msPerStepAllocated)} | ${f(r.copiedMiBPerStep)} MiB |`),
    '',
    '## PyTorch comparison (bench/torch_train_step.py, a comparison tool, not part of the project)',
    '',
    'The same step written directly in PyTorch (autograd + torch.optim.AdamW, float32, 2 intra-op threads), Debian\'s python3-torch',
    `(${String(torch[0]?.openblas?.torch ?? torch[0]?.generic?.torch ?? 'not installed')}, \`apt-get install python3-torch\`). Debian builds it against the generic reference BLAS; "OpenBLAS" runs it with`,
    'libopenblas0-pthread preloaded (LD_LIBRARY_PATH, OPENBLAS_NUM_THREADS=1), the fair comparison. `--check test/fixtures/cmga-tiny`',
    'verifies the script against the fixture (losses within 1.5e-6, the same negatives, gradients within 0.75 tolerance units in float64).',
    '',
    '| config | PyTorch ms / step (OpenBLAS) | steps / s | PyTorch ms / step (generic BLAS) | compiled ONNX step, ms |',
    '| --- | ---: | ---: | ---: | ---: |',
    ...torch.map((t, i) => `| ${t.name} | ${f(t.openblas?.ms_per_step)} | ${f(t.openblas?.steps_per_second, 2)} | ${f(t.generic?.ms_per_step)} | ${f(rows[i].msPerStep)} |`),
    ''
  ]
  writeFileSync('bench/results-training.md', lines.join('\n'))
  console.log('wrote bench/results-training.md')
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) void main()
