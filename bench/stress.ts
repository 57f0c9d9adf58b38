/**
^ * `npm run bench:stress` (node --expose-gc --import tsx bench/stress.ts): the runtime's life cycle under load (issue 14's targets),
 * with workers 0 and 2, on a model compiled here (default: a mid-size config, about
 * 70 MB of weights, random) unless `--model DIR` names one:
 *  - `close()` with 64 calls in flight, 20 times: every call either finishes or is refused
 *    with an error value; the process does not crash;
 *  - open, run, close cycles (default 500): RSS after the warm-up (median of the second
 *    tenth of the cycles) against RSS at the end (median of the last tenth); target
 *    growth < 10%.
 * Writes bench/stress-results.md with the machine. Flags: --model DIR, --cycles N,
 * --rounds N, --in-flight N, --workers LIST (default 0,2).
 * @since 0.1.0
 */
import { execFileSync } from 'node:child_process'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import * as E from 'fp-ts/lib/Either.js'
import type { HostTensor } from '../compiler/ir/tensor.js'
import { openRuntime } from '../apps/cmga/runtime.js'
import { machine, medianOf } from './measure.js'

// -------------------------------------------------------------------------------------
// set-up
// -------------------------------------------------------------------------------------

const { values } = parseArgs({
  options: { model: { type: 'string' }, cycles: { type: 'string' }, rounds: { type: 'string' }, 'in-flight': { type: 'string' }, workers: { type: 'string' }, out: { type: 'string' } }
})
const cycles = Number(values.cycles ?? 500)
const rounds = Number(values.rounds ?? 20)
const inFlight = Number(values['in-flight'] ?? 64)
const workerSettings = (values.workers ?? '0,2').split(',').map(Number)
const out = values.out ?? 'bench/stress-results.md'

/** A mid-size config: ViT width 384, depth 6, 96 px; BERT width 384, 3 + 3 layers. */
const midConfig = {
  vision: { imageSize: 96, patchSize: 16, channels: 3, width: 384, depth: 6, heads: 6, mlpDim: 1536, eps: 1e-6 },
  text: { vocabSize: 1000, maxPositions: 32, typeVocabSize: 2, width: 384, heads: 6, intermediate: 1536, textLayers: 3, fusionLayers: 3, eps: 1e-12, padTokenId: 0 },
  compression: { layers: [2, 4], keepRate: 0.7, imageWeight: 0.5 },
  align: { embedDim: 128 }
}

const compileModel = (): string => {
  const dir = mkdtempSync(join(tmpdir(), 'cmga-stress-'))
  const config = join(dir, 'config.json')
  writeFileSync(config, JSON.stringify(midConfig))
  const vocab = join(dir, 'vocab.txt')
  const special = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]']
  writeFileSync(vocab, [...special, ...Array.from({ length: midConfig.text.vocabSize - special.length }, (_, i) => `w${i}`)].join('\n') + '\n')
  execFileSync(process.execPath, ['bin/cmga.mjs', 'compile', '--config', config, '--random-init', '0', '--vocab', vocab, '--out', join(dir, 'model')], { stdio: 'inherit' })
  return join(dir, 'model')
}

const model = values.model ?? compileModel()
const mb = (bytes: number): number => Math.round(bytes / 2 ** 20)
const gc = (): void => (globalThis as { gc?: () => void }).gc?.()

const pixelsFor = (size: number, n: number): HostTensor<'float32'> => ({
  dtype: 'float32',
  shape: [n, 3, size, size],
  data: Float32Array.from({ length: n * 3 * size * size }, (_, i) => Math.sin(i) * 0.5)
})

const open = (workers: number) => {
  const rt = openRuntime(model, { workers, batchSize: 1 })
  if (E.isLeft(rt)) throw new Error(rt.left.message)
  return rt.right
}

// -------------------------------------------------------------------------------------
// close with calls in flight
// -------------------------------------------------------------------------------------

interface InFlight {
  readonly workers: number
  readonly finished: number
  readonly refused: number
  readonly messages: readonly string[]
}

const closeInFlight = async (workers: number): Promise<InFlight> => {
  let finished = 0
  let refused = 0
  const messages = new Set<string>()
  for (let r = 0; r < rounds; r++) {
    const rt = open(workers)
    const px = pixelsFor(rt.config.vision.imageSize, 1)
    const calls = Array.from({ length: inFlight }, (_, i) => (i % 2 === 0 ? rt.encodeImages(px)() : rt.encodeTexts([`text ${i}`])()))
    await new Promise((res) => setTimeout(res, 5 * (r % 4)))
    await rt.close()
    for (const c of await Promise.all(calls)) {
      if (E.isRight(c)) finished++
      else {
        refused++
        messages.add(c.left.message.replace(/\d+/g, 'N'))
      }
    }
  }
  return { workers, finished, refused, messages: [...messages] }
}

// -------------------------------------------------------------------------------------
// open / run / close cycles
// -------------------------------------------------------------------------------------

interface Cycles {
  readonly workers: number
  /** Median RSS over the second tenth of the cycles. */
  readonly warm: number
  /** Median RSS over the last tenth. */
  readonly end: number
  readonly peak: number
  readonly seconds: number
}

const openCloseCycles = async (workers: number): Promise<Cycles> => {
  const rss: number[] = []
  const t0 = performance.now()
  for (let c = 1; c <= cycles; c++) {
    const rt = open(workers)
    const r = await rt.encodeImages(pixelsFor(rt.config.vision.imageSize, 1))()
    if (E.isLeft(r)) throw new Error(r.left.message)
    await rt.close()
    gc()
    rss.push(process.memoryUsage().rss)
    if (c % 50 === 0) process.stderr.write(`  workers ${workers}: cycle ${c}/${cycles}, RSS ${mb(rss[rss.length - 1])} MB\n`)
  }
  // RSS moves with each cycle's thread heaps and allocator arenas: compare the median of
  // the second tenth of the cycles (after the warm-up) with the median of the last tenth
  const tenth = Math.max(1, Math.floor(cycles / 10))
  return { workers, warm: medianOf(rss.slice(tenth, 2 * tenth)), end: medianOf(rss.slice(-tenth)), peak: Math.max(...rss), seconds: (performance.now() - t0) / 1000 }
}

// -------------------------------------------------------------------------------------
// main
// -------------------------------------------------------------------------------------

const flights: InFlight[] = []
const lives: Cycles[] = []
for (const w of workerSettings) {
  process.stderr.write(`close() with ${inFlight} calls in flight, ${rounds} rounds, workers ${w}\n`)
  flights.push(await closeInFlight(w))
  process.stderr.write(`${cycles} open/run/close cycles, workers ${w}\n`)
  lives.push(await openCloseCycles(w))
}

const lines = [
  '# Runtime stress (`npm run bench:stress`)',
  '',
  `Machine: ${Object.entries(machine()).filter(([k]) => k !== 'threads').map(([k, v]) => `${k} ${v}`).join(', ')}. Model: ${values.model === undefined ? 'mid-size config (ViT 384 x 6 at 96 px, BERT 384 x 3 + 3), random weights' : model}.`,
  `Run ${new Date().toISOString().slice(0, 10)}; the process survived every case below (a crash would end it before this file is written).`,
  '',
  `## close() with ${inFlight} calls in flight, ${rounds} rounds`,
  '',
  '| workers | calls finished | calls refused (error value) | refusal messages |',
  '| ---: | ---: | ---: | --- |',
  ...flights.map((f) => `| ${f.workers} | ${f.finished} | ${f.refused} | ${f.messages.join('; ') || '-'} |`),
  '',
  `## ${cycles} open / run / close cycles`,
  '',
  '| workers | RSS after warm-up (MB, median of cycles 10-20%) | RSS at the end (MB, median of the last 10%) | growth | peak (MB) | seconds |',
  '| ---: | ---: | ---: | ---: | ---: | ---: |',
  ...lives.map((l) => `| ${l.workers} | ${mb(l.warm)} | ${mb(l.end)} | ${(((l.end - l.warm) / l.warm) * 100).toFixed(1)}% | ${mb(l.peak)} | ${l.seconds.toFixed(0)} |`),
  ''
]
writeFileSync(out, lines.join('\n'))
process.stdout.write(lines.join('\n'))
