/**
 * `npm run bench:rerank` (`npx tsx bench/rerank.ts`): re-rank throughput of `cmga eval
 * retrieval`, the code before issue 12 against this tree, in alternating rounds in one
 * process.
 *
 * The code before is `git archive` of `--before` (default 91a49e5, the last commit
 * before issue 12's re-rank work) unpacked under --work, and it compiles its own model
 * directories with its own CLI (the same config and `--random-init 0`, so the same
 * weights; `--reuse` keeps the directories of an earlier run). `--variants` picks from
 * before-f32, before-int8, now-f32, now-int8, and now-f32-image, now-int8-image (this
 * tree's `--rerank-guidance image`: the ITM head reads each image's text-agnostic tokens
 * instead of a joint-guided vision run per pair). Each round runs `evaluateRetrieval` of every
 * variant once, in alternating order, on the same shapes-world images and captions
 * (`--images` images, 2 captions each, `--k`; the defaults 21 and 8 keep the proportions
 * of issue 12's 42 images, 84 captions, k 16) and times its re-rank phase: from the first
 * re-rank progress call to the end of the evaluation (re-ranking is its last phase).
 * Pairs per second are the verdicts the evaluation asks for (images x k + texts x k), the
 * same count for every variant, so ratios are ratios of re-rank time. Each variant runs
 * through its own tree's runtime and defaults, over an engine whose stage runs are timed:
 * the results also give each stage's share and the time with no run in flight (loading
 * images, tokenizing, JS copies), and what each stage costs alone per image or pair.
 *
 * Writes bench/results-rerank.md (or --out): the machine and its load before and after
 * each round, each variant's times per round, pairs per second, the median of the
 * per-round ratios to before-f32, and whether the float32 variants' recall is identical.
 * @since 0.2.0
 */
import { execFileSync } from 'node:child_process'
import { existsSync, mkdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { parseArgs } from 'node:util'
import * as E from 'fp-ts/lib/Either.js'
import { writeShapesSet } from '../apps/data/write-shapes.js'
import { loadImages } from '../runtime/images/batch.js'
import type { Annotations } from '../apps/retrieval/annotations.js'
import type { EvalReport } from '../apps/retrieval/evaluate.js'
import type { Engine, Tensors } from '../runtime/model/engine.js'
import { loadAverages, machine, medianOf, settle } from './measure.js'

// -------------------------------------------------------------------------------------
// set-up
// -------------------------------------------------------------------------------------

const { values: flags } = parseArgs({
  options: {
    before: { type: 'string', default: '91a49e5' },
    config: { type: 'string', default: 'models/cmga/configs/base.json' },
    images: { type: 'string', default: '21' },
    k: { type: 'string', default: '8' },
    rounds: { type: 'string', default: '3' },
    variants: { type: 'string', default: 'before-f32,now-f32,now-int8' },
    batch: { type: 'string', default: '8' },
    work: { type: 'string', default: '/tmp/cmga-rerank-bench' },
    reuse: { type: 'boolean', default: false },
    out: { type: 'string', default: 'bench/results-rerank.md' }
  }
})
const root = resolve(new URL('..', import.meta.url).pathname)
const work = resolve(String(flags.work))
const [Ni, K, ROUNDS, BATCH] = [Number(flags.images), Number(flags.k), Number(flags.rounds), Number(flags.batch)]
const config = resolve(String(flags.config))

/** A variant: whose code, which precision, which visual tokens the ITM head reads. */
interface Variant {
  readonly name: string
  readonly code: 'before' | 'now'
  readonly int8: boolean
  readonly guidance: 'joint' | 'image'
}
const variants: Variant[] = String(flags.variants).split(',').map((name) => {
  const [code, p, g = 'joint'] = name.split('-')
  const ok = (code === 'before' || code === 'now') && (p === 'f32' || p === 'int8') && (g === 'joint' || (g === 'image' && code === 'now'))
  if (!ok) throw new Error(`--variants: ${name} is not before|now-f32|int8 or now-f32|int8-image`)
  return { name, code, int8: p === 'int8', guidance: g }
})

const get = <A>(e: E.Either<{ message: string }, A>): A => {
  if (E.isLeft(e)) throw new Error(e.left.message)
  return e.right
}

/** The code before, unpacked once under --work with this tree's node_modules. */
const beforeTree = (): string => {
  const sha = execFileSync('git', ['-C', root, 'rev-parse', '--short', String(flags.before)], { encoding: 'utf8' }).trim()
  const dir = join(work, `before-${sha}`)
  if (!existsSync(join(dir, 'bin'))) {
    rmSync(dir, { recursive: true, force: true })
    mkdirSync(dir, { recursive: true })
    execFileSync('sh', ['-c', `git -C '${root}' archive ${sha} | tar -x -C '${dir}'`])
  }
  // this tree's node_modules (a tree unpacked by another checkout may point at one gone since)
  const modules = join(dir, 'node_modules')
  if (!existsSync(join(modules, 'fp-ts'))) {
    rmSync(modules, { force: true })
    symlinkSync(join(root, 'node_modules'), modules)
  }
  return dir
}

/** Model directories compiled in this run, by code and precision (the guidance is chosen at run time). */
const made = new Set<string>()

/** A model directory compiled by a tree's own CLI (kept under --reuse). */
const compiled = (tree: string, v: Variant): string => {
  const dir = join(work, `model-${v.code}-${v.int8 ? 'int8' : 'f32'}`)
  if (made.has(dir) || (flags.reuse === true && existsSync(join(dir, 'manifest.json')))) return dir
  made.add(dir)
  const q = v.int8 ? ['--quantize', 'int8'] : []
  console.log(`compiling ${v.name} ...`)
  execFileSync('node', [join(tree, 'bin/cmga.mjs'), 'compile', '--config', config, '--random-init', '0', ...q, '--out', dir, '--force'], { stdio: ['ignore', 'ignore', 'inherit'] })
  return dir
}

/** Shapes-world images with two captions each: its own and another image's scene. */
const dataset = async (): Promise<{ dir: string; a: Annotations }> => {
  const dir = join(work, `shapes-${2 * Ni}`)
  if (!existsSync(join(dir, 'annotations.json'))) get(await writeShapesSet({ out: dir, seed: 7, count: 2 * Ni, size: 224, masks: false, force: true }))
  const { shapesSet } = await import('../apps/data/shapes-world.js')
  const captions = shapesSet(7, 2 * Ni, 224).map((s) => s.caption)
  const images = Array.from({ length: Ni }, (_, i) => `images/${String(i).padStart(5, '0')}.png`)
  const texts = Array.from({ length: Ni }, (_, i) => [captions[i], captions[Ni + i]]).flat()
  return { dir, a: { format: 'albef', images, texts, textImage: texts.map((_, j) => j >> 1), imageTexts: images.map((_, i) => [2 * i, 2 * i + 1]) } }
}

// -------------------------------------------------------------------------------------
// runs
// -------------------------------------------------------------------------------------

/**
 * An engine whose stage runs are timed: ms per stage (runs of two lanes overlap, so
 * these add up to more than the wall time) and, under `busy`, the wall time during
 * which any run was in flight; summed until cleared.
 */
const timed = (e: Engine): { engine: Engine; spent: Map<string, number> } => {
  const spent = new Map<string, number>()
  let inFlight = 0
  let since = 0
  const run: Engine['run'] = (stage: string, feeds: Tensors) => async () => {
    const t0 = performance.now()
    if (inFlight++ === 0) since = t0
    const r = await e.run(stage, feeds)()
    const t1 = performance.now()
    spent.set(stage, (spent.get(stage) ?? 0) + t1 - t0)
    if (--inFlight === 0) spent.set(BUSY, (spent.get(BUSY) ?? 0) + t1 - since)
    return r
  }
  return { engine: { ...e, run }, spent }
}

/** The key of the wall time with a run in flight. */
const BUSY = 'busy'

/** One round: the load averages around it, and per variant its re-rank seconds and ms per stage. */
interface Round {
  readonly loadBefore: string
  readonly loadAfter: string
  readonly seconds: number[]
  readonly stages: Map<string, number>[]
}

/** One variant, opened: one evaluation, its re-rank seconds and report. */
interface Opened {
  readonly v: Variant
  readonly evaluate: (a: Annotations, k: number) => Promise<{ seconds: number; report: EvalReport; stages: Map<string, number> }>
  /** ms per run of each stage when `match` runs `images` x `texts` pairs one run at a time. */
  readonly costs: (images: number, texts: number) => Promise<Map<string, number>>
  readonly close: () => Promise<void>
}

type EvalModule = typeof import('../apps/retrieval/evaluate.js')
type RuntimeModule = typeof import('../apps/cmga/runtime.js')

type ModelModule = typeof import('../apps/cmga/model.js')

/** The first `n` images of a set and their captions. */
const subset = (a: Annotations, n: number): Annotations => {
  const texts = a.imageTexts.slice(0, n).flat()
  return { ...a, images: a.images.slice(0, n), texts: texts.map((j) => a.texts[j]), textImage: texts.map((j) => a.textImage[j]), imageTexts: a.imageTexts.slice(0, n).map((ts) => ts.map((j) => texts.indexOf(j))) }
}

/** A variant's runtime, from its own tree's code, over an engine whose stage runs are timed. */
const open = async (v: Variant, tree: string, model: string, data: { dir: string; a: Annotations }): Promise<Opened> => {
  const ev = (await import(join(tree, 'apps/retrieval/evaluate.ts'))) as EvalModule
  const rm = (await import(join(tree, 'apps/cmga/runtime.ts'))) as RuntimeModule
  const mm = (await import(join(tree, 'apps/cmga/model.ts'))) as ModelModule
  const base = get(rm.openRuntime(model, { batchSize: BATCH, vocab: join(data.dir, 'vocab.txt'), warn: () => undefined }))
  const t = timed(base.engine)
  const rt = rm.makeRuntime(t.engine, get(mm.readCmgaManifest(model)), base.tokenizer, base.identity, BATCH, 2)
  const evaluate = async (a: Annotations, k: number): Promise<{ seconds: number; report: EvalReport; stages: Map<string, number> }> => {
    settle()
    let t0 = NaN
    const onProgress = (phase: string): void => {
      if (phase.startsWith('re-rank') && Number.isNaN(t0)) {
        t0 = performance.now()
        t.spent.clear()
      }
    }
    const r = get(await ev.evaluateRetrieval(rt, a, { root: data.dir, candidates: 128, k, itmWeight: 0.1, onError: 'fail', onProgress, ...(v.guidance === 'image' ? { rerankGuidance: 'image' as const } : {}) })())
    return { seconds: (performance.now() - t0) / 1000, report: r, stages: new Map(t.spent) }
  }
  // the same engine, one run at a time: what each stage costs alone
  const single = rm.makeRuntime(t.engine, get(mm.readCmgaManifest(model)), base.tokenizer, base.identity, BATCH, 1)
  const costs = async (images: number, texts: number): Promise<Map<string, number>> => {
    const px = get(await loadImages(data.a.images.slice(0, images).map((n) => join(data.dir, n)), base.config.vision.imageSize, { onError: 'fail' }))
    const tf = get(await single.encodeTexts(data.a.texts.slice(0, texts))())
    settle()
    t.spent.clear()
    get(await single.match(px.pixels, tf, Array.from({ length: images * texts }, (_, n) => [Math.floor(n / texts), n % texts] as const), v.guidance)())
    return new Map(t.spent)
  }
  return { v, evaluate, costs, close: () => base.close() }
}

// -------------------------------------------------------------------------------------
// main
// -------------------------------------------------------------------------------------

const main = async (): Promise<void> => {
  mkdirSync(work, { recursive: true })
  const tree = (v: Variant): string => (v.code === 'now' ? root : beforeTree())
  const models = variants.map((v) => compiled(tree(v), v))
  const data = await dataset()
  const opened: Opened[] = []
  for (const [n, v] of variants.entries()) opened.push(await open(v, tree(v), models[n], data))
  const asked = Ni * K + 2 * Ni * K
  const info = machine()
  const rounds: Round[] = []
  const reports: EvalReport[] = []
  console.log(`warm-up on 4 images (${variants.map((v) => v.name).join(', ')}), then ${ROUNDS} rounds; ${asked} re-rank verdicts asked a run`)
  for (const o of opened) await o.evaluate(subset(data.a, 4), Math.min(K, 4))
  for (let r = 0; r < ROUNDS; r++) {
    const loadBefore = loadAverages()
    // alternate the order each round so neither side always follows the other
    const order = r % 2 === 0 ? opened : [...opened].reverse()
    const byName = new Map<string, { seconds: number; report: EvalReport; stages: Map<string, number> }>()
    for (const o of order) {
      const x = await o.evaluate(data.a, K)
      byName.set(o.v.name, x)
      console.log(`round ${r + 1}: ${o.v.name} ${x.seconds.toFixed(1)} s (${(asked / x.seconds).toFixed(2)} pairs/s), load ${loadAverages()}`)
    }
    const xs = opened.map((o) => byName.get(o.v.name) as { seconds: number; report: EvalReport; stages: Map<string, number> })
    if (r === 0) reports.push(...xs.map((x) => x.report))
    rounds.push({ loadBefore, loadAfter: loadAverages(), seconds: xs.map((x) => x.seconds), stages: xs.map((x) => x.stages) })
  }
  // what one run of each stage costs, alone: 4 images x 16 texts (64 pairs, 4 runs of 16), the faster of 2
  const costs: Map<string, number>[] = []
  for (const o of opened) {
    const [x, y] = [await o.costs(4, 16), await o.costs(4, 16)]
    costs.push(new Map([...x].map(([k, ms]) => [k, Math.min(ms, y.get(k) ?? ms)])))
    console.log(`${o.v.name} alone: ${[...(costs.at(-1) as Map<string, number>)].map(([k, ms]) => `${k} ${ms.toFixed(0)} ms`).join(', ')}`)
  }
  for (const o of opened) await o.close()
  writeFileSync(String(flags.out), report(info, asked, rounds, reports, costs))
  console.log(`wrote ${String(flags.out)}`)
}

const f1 = (x: number): string => x.toFixed(1)
const f2 = (x: number): string => x.toFixed(2)

const report = (info: Record<string, string>, asked: number, rounds: Round[], reports: EvalReport[], costs: Map<string, number>[]): string => {
  const ref = variants.findIndex((v) => v.name === 'before-f32')
  const lines: string[] = [
    '# Re-rank throughput (bench/rerank.ts)',
    '',
    `Machine: ${info.cpu}, ${info.memory}, ${info.node}, ${info.onnxruntime}, 2 intra-op threads, batch ${BATCH}.`,
    `Model: ${config.replace(`${root}/`, '')}, random weights (seed 0). Data: ${Ni} shapes-world images, ${2 * Ni} captions, k ${K}, candidates 128: ${asked} verdicts asked per evaluation.`,
    `Before: ${String(flags.before)} (the code before issue 12's re-rank work), unpacked and compiling its own model directories.`,
    '',
    'Re-rank phase seconds per round (alternating order), load averages (1, 5, 15 min) before and after:',
    '',
    `| round | load before | load after | ${variants.map((v) => v.name).join(' | ')} |`,
    `| --- | --- | --- | ${variants.map(() => '---:').join(' | ')} |`,
    ...rounds.map((r, n) => `| ${n + 1} | ${r.loadBefore} | ${r.loadAfter} | ${r.seconds.map(f1).join(' | ')} |`),
    '',
    '| variant | median s | pairs/s | ratio to before-f32 (median of rounds) | per round |',
    '| --- | ---: | ---: | ---: | --- |',
    ...variants.map((v, i) => {
      const med = medianOf(rounds.map((r) => r.seconds[i]))
      const ratios = ref < 0 ? [] : rounds.map((r) => r.seconds[ref] / r.seconds[i])
      return `| ${v.name} | ${f1(med)} | ${f2(asked / med)} | ${ref < 0 ? '-' : `${f2(medianOf(ratios))}x`} | ${ratios.map(f2).join(', ')} |`
    }),
    '',
    'Where the re-rank time goes (median ms over rounds): each stage\'s runs summed (two runs are in flight at once, so the sum exceeds the wall time), and the part of the phase with no run in flight (loading images, tokenizing, JS copies):',
    '',
    `| stage | ${variants.map((v) => v.name).join(' | ')} |`,
    `| --- | ${variants.map(() => '---:').join(' | ')} |`
  ]
  const names = [...new Set(rounds.flatMap((r) => r.stages.flatMap((s) => [...s.keys()])))].filter((n) => n !== BUSY)
  const per = (i: number, n: string): number => medianOf(rounds.map((r) => r.stages[i].get(n) ?? 0))
  for (const n of names) lines.push(`| ${n} (runs summed) | ${variants.map((_, i) => per(i, n).toFixed(0)).join(' | ')} |`)
  const idle = (i: number): number => medianOf(rounds.map((r) => r.seconds[i] * 1000 - (r.stages[i].get(BUSY) ?? 0)))
  lines.push(`| phase wall time | ${variants.map((_, i) => medianOf(rounds.map((r) => r.seconds[i] * 1000)).toFixed(0)).join(' | ')} |`)
  lines.push(`| of it with no run in flight | ${variants.map((_, i) => idle(i).toFixed(0)).join(' | ')} |`, '')
  lines.push(
    'Each stage alone (the same sessions, one run at a time: 4 images x 16 texts, so the prefix on 4 images and the suffix and relation on 4 runs of 16 pairs; the faster of 2), ms per image or per pair:',
    '',
    `| stage | ${variants.map((v) => v.name).join(' | ')} |`,
    `| --- | ${variants.map(() => '---:').join(' | ')} |`
  )
  const unit: Record<string, [string, number]> = { vision_prefix: ['per image', 4], vision_image: ['per image', 4], vision_joint_suffix: ['per pair', 64], vision_joint: ['per pair', 64], relation: ['per pair', 64] }
  for (const n of [...new Set(costs.flatMap((c) => [...c.keys()]))].filter((k) => k !== BUSY && unit[k] !== undefined)) {
    lines.push(`| ${n}, ${unit[n][0]} | ${costs.map((c) => (c.has(n) ? ((c.get(n) as number) / unit[n][1]).toFixed(1) : '-')).join(' | ')} |`)
  }
  lines.push('')
  const key = (r: EvalReport): string => JSON.stringify([r.rerank_itm, r.rerank_combined])
  const recall = variants.map((v, i) => `${v.name} ${reports[i].rerank_combined?.r_mean.toFixed(2)} / ${reports[i].rerank_itm?.r_mean.toFixed(2)}`)
  const f32 = variants.map((v, i) => (v.int8 || v.guidance === 'image' ? -1 : i)).filter((i) => i >= 0)
  lines.push(`Re-ranked mean recall (combined / ITM; random weights, so these only check that variants agree): ${recall.join('; ')}. Float32 joint-guided variants: ${f32.every((i) => key(reports[i]) === key(reports[f32[0]])) ? 'identical' : 'DIFFER'}.`, '')
  return lines.join('\n')
}

await main()
