/**
 * `npm run bench`: the base config with random weights on onnxruntime-node, 2 intra-op
 * threads, warm-up then the median of 7 to 21 runs (15 for the vision encoder; variants timed round-robin, so load from
 * other processes falls on all alike). Measures the vision encoder per guidance
 * mode (unfused / fused / int8, batch 1 and 4), the text encoder (32 tokens), re-ranking
 * 16 candidates with and without the prefix cache, the attention variants, compile time
 * and peak memory, and GFLOP/s of each graph beside a single large MatMul's (timed in
 * the same rounds as the `none` vision encoder at batch 4). Prints a
 * table and writes bench/results.md (with bench/notes.md, the analysis, appended;
 * bench/results.NAME.md for another config given by CMGA_BENCH_CONFIG).
 * @since 0.1.0
 */
import { execFileSync } from 'node:child_process'
import { existsSync, writeFileSync } from 'node:fs'
import { basename } from 'node:path'
import * as E from 'fp-ts/lib/Either.js'
import type * as ort from 'onnxruntime-node'
import type { Graph } from '../compiler/ir/graph.js'
import { make } from '../compiler/ir/node.js'
import type { HostTensor } from '../compiler/ir/tensor.js'
import { runPipeline } from '../compiler/passes/pipeline.js'
import { defaultPasses } from '../compiler/passes/pipeline.js'
import { fuseAttention, fuseSkipLayerNorm } from '../compiler/passes/fusions/index.js'
import { quantizeInt8 } from '../compiler/quantize/dynamic-int8.js'
import * as d from '../dsl/index.js'
import { readConfigFile } from '../apps/cmga/config-file.js'
import { deployPasses, splitJointVision } from '../apps/compile/deploy.js'
import type { Stage } from '../models/cmga/graphs.js'
import { stageGraph } from '../models/cmga/graphs.js'
import { MHA } from '../models/cmga/layers.js'
import { randomWeights } from '../apps/compile/random-init.js'
import { rowCosines, rowOverlaps } from '../apps/compile/quantize-report.js'
import { mulberry32 } from '../runtime/prng.js'
import { gemmFlops, graphFlops } from './flops.js'
import { int8Kernels } from './int8-kernels.js'
import type { Timing } from './measure.js'
import { feedsOf, interleaved, machine, open, profileModel, profileOps } from './measure.js'
import type { Peer } from './peer.js'
import { exportPeer, slowerBecause } from './peer.js'
import type { PeerResult, Row } from './results.js'
import { writeResults } from './results.js'

// -------------------------------------------------------------------------------------
// set-up
// -------------------------------------------------------------------------------------

/** The config measured: base unless CMGA_BENCH_CONFIG names another (a quick smoke run). */
const configPath = process.env.CMGA_BENCH_CONFIG ?? 'models/cmga/configs/base.json'
const config = readConfigFile(configPath)
if (E.isLeft(config)) throw new Error(config.left.message)
const c = config.right
const weights = randomWeights(c, 0)
const rand = mulberry32(1)
const f32 = (shape: number[]): HostTensor => ({ dtype: 'float32', shape, data: Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => rand() * 2 - 1) })
const i64 = (shape: number[], high: number): HostTensor => ({ dtype: 'int64', shape, data: BigInt64Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => BigInt(Math.floor(rand() * high))) })
const S = c.vision.imageSize
const D = c.vision.width

type Variant = 'unfused' | 'fused' | 'int8'
/** The variant name of the PyTorch peer's rows. */
const PEER = 'pytorch'
const variants: readonly Variant[] = ['unfused', 'fused', 'int8']

/** A stage graph in one variant, with the weights it needs. */
const build = (g: Graph, v: Variant): { graph: Graph; weights: ReadonlyMap<string, HostTensor> } => {
  const graph = runPipeline(g, deployPasses({ fuse: v !== 'unfused' })).graph
  if (v !== 'int8') return { graph, weights }
  const q = quantizeInt8(graph, weights)
  return { graph: q.graph, weights: new Map([...weights, ...q.weights]) }
}

const run = (s: ort.InferenceSession, feeds: Record<string, ort.Tensor>) => (): Promise<ort.InferenceSession.ReturnType> => s.run(feeds)

// -------------------------------------------------------------------------------------
// measurements
// -------------------------------------------------------------------------------------

const rows: Row[] = []
const record = (what: string, variant: string, batch: number, t: Timing, flops: number): void => {
  const row = { what, variant, batch, ms: t.median, min: t.min, perItem: t.median / batch, gflops: flops / t.median / 1e6 }
  rows.push(row)
  console.log(`${what.padEnd(24)} ${variant.padEnd(8)} B=${String(batch).padEnd(2)} ${t.median.toFixed(1).padStart(8)} ms (min ${t.min.toFixed(1)})  ${row.perItem.toFixed(1).padStart(7)} ms/item  ${row.gflops.toFixed(1).padStart(6)} GFLOP/s`)
}

/**
 * The single large MatMul [1024, 3072] x [3072, 768] (float32 and int8): its FLOPs and a
 * runner per variant. (The [1024, 768] x [768, 3072] orientation spends a large share of
 * each call copying its 12 MB output into JavaScript, so it understates the kernel.)
 */
const peakSessions = async (): Promise<{ flops: number; runs: Array<() => Promise<unknown>>; release: () => Promise<void> }> => {
  const x = d.input('x', 'float32', [1024, 3072])
  // float32: x @ W with W stored [3072, 768] (no transpose to fold); int8: the quantized form of x @ W^T
  const g = d.graph('matmul', [x], { y: d.matmul(x, d.param('wT', [3072, 768])) })
  const ws = new Map([['w', f32([768, 3072])]])
  const q = quantizeInt8(d.graph('matmul', [x], { y: d.linear(x, d.param('w', [768, 3072])) }), ws)
  const sessions = [await open(g, new Map([['wT', f32([3072, 768])]])), await open(q.graph, q.weights)]
  const feeds = feedsOf({ x: f32([1024, 3072]) })
  return { flops: 2 * 1024 * 768 * 3072, runs: sessions.map((s) => run(s, feeds)), release: async () => void (await Promise.all(sessions.map((s) => s.release()))) }
}

/** At [1, 197, 768]: attention unfused, fused (plain / flash path), the [CLS] row from the score output; residual + layer norm unfused and fused. */
const attentionVariants = async (): Promise<Array<[string, number]>> => {
  const T = 197
  const [q, k, v] = ['q', 'k', 'v'].map((n) => d.input(n, 'float32', [1, T, D]))
  const a = MHA(q, k, v, c.vision.heads)
  const row = d.mean(d.slice(a.probs, 2, 0, 1), [1, 2])
  const unfused = runPipeline(d.graph('attention', [q, k, v], { out: a.out, row }), defaultPasses).graph
  const attrs = { heads: c.vision.heads, scale: 1 / Math.sqrt(D / c.vision.heads), outputs: 4 as const }
  const qk = make('MultiHeadAttention', [q, k, v], { ...attrs, output: 3 })
  const viaQk = d.graph('attention-qk', [q, k, v], { out: make('MultiHeadAttention', [q, k, v], { ...attrs, output: 0 }), row: d.mean(d.softmax(d.slice(qk as d.F32, 2, 0, 1), -1), [1, 2]), qk })
  const graphs: Array<[string, Graph]> = [
    ['unfused (MatMul + Softmax + MatMul)', unfused],
    ['MHA plain path + one-row [CLS]', runPipeline(unfused, [fuseAttention({ present: true })]).graph],
    ['MHA flash path + one-row [CLS]', runPipeline(unfused, [fuseAttention({ present: false })]).graph],
    ['MHA qk output + sliced [CLS]', viaQk]
  ]
  const feeds = feedsOf({ q: f32([1, T, D]), k: f32([1, T, D]), v: f32([1, T, D]) })
  const sessions = await Promise.all(graphs.map(([, g]) => open(g, new Map())))
  const times = await interleaved(sessions.map((s) => run(s, feeds)), 21, 5)
  for (const s of sessions) await s.release()
  // a pre-norm residual: x + (m + bias), then its layer norm, both consumed
  const [x, m] = ['x', 'm'].map((n) => d.input(n, 'float32', [1, T, D]))
  const sum = d.add(x, d.add(m, d.param('c', [D])))
  const plain = d.graph('residual', [x, m], { sum, y: d.layerNorm(sum, d.param('g', [D]), d.param('b', [D]), 1e-6) })
  const ln = [plain, runPipeline(plain, [fuseSkipLayerNorm]).graph]
  const lnWeights = new Map(['c', 'g', 'b'].map((n) => [n, f32([D])]))
  const lnSessions = await Promise.all(ln.map((g) => open(g, lnWeights)))
  const lnFeeds = feedsOf({ x: f32([1, T, D]), m: f32([1, T, D]) })
  const lnTimes = await interleaved(lnSessions.map((s) => run(s, lnFeeds)), 41, 5)
  for (const s of lnSessions) await s.release()
  return [
    ...graphs.map(([name], i): [string, number] => [`attention: ${name}`, times[i].median]),
    ['residual + layer norm: Add + Add + LayerNormalization', lnTimes[0].median],
    ['residual + layer norm: SkipLayerNormalization (sum output used)', lnTimes[1].median]
  ]
}

const main = async (): Promise<void> => {
  const m = machine()
  console.log(`machine: ${JSON.stringify(m)}`)
  const peak = await peakSessions()
  const matmul = { f32: NaN, int8: NaN }
  const attention = await attentionVariants()
  const int8 = await int8Kernels(mulberry32(3))
  for (const k of int8) console.log(`int8 form ${k.name}: ${k.kernels.join(' + ')} ${k.kernelMs.toFixed(3)} ms`)
  for (const [k, v] of attention) console.log(`${k}: ${v.toFixed(3)} ms`)

  // vision encoder: every guidance x variant x batch, the PyTorch peer in the rounds of
  // `none` (the same computation) and `image` (which drops tokens; the peer does not)
  const itc = new Map<Variant, ort.InferenceSession.ReturnType>()
  let imageGemmFlops = NaN
  const profiles: Array<[string, Array<[string, number]>]> = []
  let peer: Peer = { skipped: 'not built' }
  const peerFlops = new Map<number, number>()
  for (const guidance of ['none', 'image', 'joint'] as const) {
    const base = stageGraph(c, `vision_${guidance}` as Stage)
    const built = variants.map((v) => build(base, v))
    const sessions = await Promise.all(built.map((b) => open(b.graph, b.weights)))
    if (guidance === 'none') {
      peer = await exportPeer(c, weights, sessions[1], f32([2, 3, S, S]))
      console.log('skipped' in peer ? peer.skipped : `PyTorch peer (torch ${peer.torch}): max |tokens - ours| ${peer.torchDiff.toExponential(2)} in PyTorch, ${peer.onnxDiff.toExponential(2)} as exported`)
    }
    const peerRuns = (feeds: Record<string, ort.Tensor>): Array<() => Promise<unknown>> => ('skipped' in peer || guidance === 'joint' ? [] : [run(peer.session, { pixels: feeds.pixels })])
    for (const B of [1, 4]) {
      const feeds = feedsOf(guidance === 'joint' ? { pixels: f32([B, 3, S, S]), text_cls: f32([B, D]) } : { pixels: f32([B, 3, S, S]) })
      const withPeak = guidance === 'none' && B === 4 // the large MatMul is timed in the same rounds as this group
      const extra = peerRuns(feeds)
      const times = await interleaved([...sessions.map((s) => run(s, feeds)), ...extra, ...(withPeak ? peak.runs : [])], 15)
      variants.forEach((v, i) => record(`vision ${guidance}`, v, B, times[i], graphFlops(built[i].graph, { B })))
      if (guidance === 'none') peerFlops.set(B, graphFlops(built[0].graph, { B })) // the peer computes what `none` does, in every group
      if (extra.length > 0) record(`vision ${guidance}`, PEER, B, times[variants.length], peerFlops.get(B) ?? NaN)
      if (withPeak) {
        const at = variants.length + extra.length
        ;[matmul.f32, matmul.int8] = [times[at], times[at + 1]].map((t) => peak.flops / t.median / 1e6)
        await peak.release()
        console.log(`large MatMul [1024x3072]x[3072x768], same rounds: ${matmul.f32.toFixed(1)} GFLOP/s float32, ${matmul.int8.toFixed(1)} GOP/s int8`)
      }
      if (guidance === 'none' && B === 1 && !('skipped' in peer)) {
        profiles.push(['vision none, fused, B=1', await profileOps(built[1].graph, built[1].weights, feeds)])
        profiles.push([`vision none, ${PEER}, B=1`, await profileModel(peer.model, { pixels: feeds.pixels })])
      }
      if (guidance === 'image' && B === 4) for (const [i, v] of variants.entries()) itc.set(v, await sessions[i].run(feeds))
      if (guidance === 'image' && B === 1) imageGemmFlops = gemmFlops(built[1].graph, { B })
      if (guidance === 'image' && B === 1) for (const [i, v] of variants.entries()) profiles.push([`vision image, ${v}, B=1`, await profileOps(built[i].graph, built[i].weights, feeds)])
    }
    for (const s of sessions) await s.release()
  }
  if (!('skipped' in peer)) await peer.session.release()
  const profileOf = (name: string): Array<[string, number]> => profiles.find(([k]) => k === name)?.[1] ?? []
  const peerResult: PeerResult =
    'skipped' in peer
      ? peer
      : { torch: peer.torch, torchDiff: peer.torchDiff, onnxDiff: peer.onnxDiff, slowerBecause: slowerBecause(profileOf('vision none, fused, B=1'), profileOf(`vision none, ${PEER}, B=1`)) }
  // text encoder, 32 tokens
  const texts = variants.map((v) => build(stageGraph(c, 'text'), v))
  const textSessions = await Promise.all(texts.map((b) => open(b.graph, b.weights)))
  const mask: HostTensor = { dtype: 'int64', shape: [1, 32], data: new BigInt64Array(32).fill(1n) }
  const textFeeds = feedsOf({ input_ids: i64([1, 32], c.text.vocabSize), attention_mask: mask })
  const textTimes = await interleaved(textSessions.map((s) => run(s, textFeeds)), 21, 3)
  variants.forEach((v, i) => record('text (32 tokens)', v, 1, textTimes[i], graphFlops(texts[i].graph, { B: 1, L: 32, 'L-1': 31 })))
  for (const s of textSessions) await s.release()
  // re-ranking 16 texts against one image, fused float32
  const K = 16
  const [joint, relation] = [build(stageGraph(c, 'vision_joint'), 'fused'), build(stageGraph(c, 'relation'), 'fused')]
  const split = splitJointVision(c)
  if (E.isLeft(split)) throw new Error(split.left.message)
  const [prefix, suffix] = split.right.map((x) => build(x.graph, 'fused'))
  const [sJoint, sRel, sPre, sSuf] = await Promise.all([joint, relation, prefix, suffix].map((b) => open(b.graph, b.weights)))
  const pixels = f32([1, 3, S, S])
  const tile = (t: HostTensor, n: number): HostTensor => {
    const data = new Float32Array(t.data.length * n)
    for (let i = 0; i < n; i++) data.set(t.data as Float32Array, i * t.data.length)
    return { dtype: 'float32', shape: [n, ...t.shape.slice(1)], data }
  }
  const textCls = f32([K, D])
  const relFeeds = { text_embeds: f32([K, 32, D]), attention_mask: { dtype: 'int64', shape: [K, 32], data: new BigInt64Array(K * 32).fill(1n) } as HostTensor }
  const toHost = (t: ort.Tensor): HostTensor => ({ dtype: 'float32', shape: t.dims.map(Number), data: t.data as Float32Array })
  const noCache = async (): Promise<void> => {
    const v = await sJoint.run(feedsOf({ pixels: tile(pixels, K), text_cls: textCls }))
    await sRel.run(feedsOf({ ...relFeeds, vision_embeds: toHost(v.vision_embeds) }))
  }
  const withCache = async (): Promise<void> => {
    const p = await sPre.run(feedsOf({ pixels }))
    const v = await sSuf.run(feedsOf({ vision_prefix: tile(toHost(p.vision_prefix), K), text_cls: textCls }))
    await sRel.run(feedsOf({ ...relFeeds, vision_embeds: toHost(v.vision_embeds) }))
  }
  const rerankFlops = graphFlops(joint.graph, { B: K }) + graphFlops(relation.graph, { B: K, L: 32 })
  const cacheFlops = graphFlops(prefix.graph, { B: 1 }) + graphFlops(suffix.graph, { B: K }) + graphFlops(relation.graph, { B: K, L: 32 })
  const [tNo, tCache] = await interleaved([noCache, withCache], 7, 1)
  record('re-rank 16, no cache', 'fused', K, tNo, rerankFlops)
  record('re-rank 16, prefix cache', 'fused', K, tCache, cacheFlops)
  for (const s of [sJoint, sRel, sPre, sSuf]) await s.release()

  // compile time and peak memory, in a child process
  const compile = compileStats()
  const training = await trainingBench()
  const cos = (v: Variant, k: string): number[] => {
    const [a, b] = [itc.get(v)?.[k] as ort.Tensor | undefined, itc.get('fused')?.[k] as ort.Tensor | undefined]
    if (a === undefined || b === undefined) return []
    const h = (t: ort.Tensor): HostTensor => ({ dtype: t.type as 'float32', shape: t.dims.map(Number), data: t.data as Float32Array })
    return k.startsWith('keep') ? rowOverlaps(h(a), h(b)) : rowCosines(h(a), h(b))
  }
  const quality = {
    itcImageCosine: Math.min(...cos('int8', 'itc_image')),
    keptOverlap: Math.min(...c.compression.layers.flatMap((l) => cos('int8', `keep.${l}`))),
    unfusedItcCosine: Math.min(...cos('unfused', 'itc_image'))
  }
  const text = writeResults({ machine: { ...m, loadAfter: machine().load }, rows, matmul, attention, profiles, compile, training, quality, peer: peerResult, imageGemmFlops, int8Kernels: int8 })
  // another config (a smoke run) leaves the recorded base results alone
  const file = process.env.CMGA_BENCH_CONFIG === undefined ? 'results.md' : `results.${basename(configPath, '.json')}.md`
  writeFileSync(new URL(`./${file}`, import.meta.url), text)
  console.log(`\nwrote bench/${file}`)
}

/** Compile time and peak RSS of `cmga compile` (base, random weights), from a child run under /usr/bin/time. */
const compileStats = (): { seconds: number; peakMiB: number; wall: number } => {
  try {
    const r = execFileSync('sh', ['-c', `/usr/bin/time -f "TIME %e %M" npx tsx bench/compile-child.ts ${configPath} 2>&1`], { encoding: 'utf8' })
    const json = JSON.parse(r.split('\n').find((l) => l.startsWith('{')) ?? '{}') as { seconds?: number }
    const t = (r.split('\n').find((l) => l.startsWith('TIME')) ?? 'TIME 0 0').split(' ')
    return { seconds: json.seconds ?? NaN, wall: Number(t[1]), peakMiB: Number(t[2]) / 1024 }
  } catch (e) {
    console.log(`compile measurement failed: ${(e as Error).message}`)
    return { seconds: NaN, wall: NaN, peakMiB: NaN }
  }
}

/** Issue 6's training benchmark, when bench/train.ts exists. */
const trainingBench = async (): Promise<string | null> => {
  if (!existsSync(new URL('./train.ts', import.meta.url))) return null
  try {
    const path = './train.js' // a variable: the file may not exist when this is type-checked
    const mod = (await import(path)) as { benchTraining?: () => Promise<unknown> }
    if (mod.benchTraining === undefined) return null
    const r = await mod.benchTraining()
    return typeof r === 'string' ? r : '```json\n' + JSON.stringify(r, null, 2) + '\n```'
  } catch (e) {
    return `training benchmark failed: ${(e as Error).message}`
  }
}

void main()
