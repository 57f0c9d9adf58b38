/**
 * bench/results.md from the measurements: the machine, every timing with GFLOP/s, the
 * targets of issue 4 (met or missed, with the ratio), the profiles, and the analysis
 * kept by hand in bench/notes.md.
 * @since 0.1.0
 */
import { existsSync, readFileSync } from 'node:fs'
import type { Int8Kernel } from './int8-kernels.js'

/** One timing. */
export interface Row {
  readonly what: string
  readonly variant: string
  readonly batch: number
  readonly ms: number
  /** The fastest run. */
  readonly min: number
  readonly perItem: number
  readonly gflops: number
}

/** The PyTorch peer: how close its tokens are to ours and why ours is slower, or why it was skipped. */
export type PeerResult =
  | { readonly torch: string; readonly torchDiff: number; readonly onnxDiff: number; readonly slowerBecause: string }
  | { readonly skipped: string }

/** Everything the results file reports. */
export interface Results {
  readonly machine: Readonly<Record<string, string>>
  readonly rows: readonly Row[]
  readonly matmul: { readonly f32: number; readonly int8: number }
  readonly attention: ReadonlyArray<readonly [string, number]>
  readonly profiles: ReadonlyArray<readonly [string, ReadonlyArray<readonly [string, number]>]>
  readonly compile: { readonly seconds: number; readonly wall: number; readonly peakMiB: number }
  readonly training: string | null
  readonly quality: { readonly itcImageCosine: number; readonly keptOverlap: number; readonly unfusedItcCosine: number }
  /** The PyTorch peer built on this machine (bench/peer.ts), or why there is none. */
  readonly peer: PeerResult
  /** GEMM FLOPs (linear layers and the patch Conv) of the `image` vision encoder at batch 1. */
  readonly imageGemmFlops: number
  /** The int8 product's forms, profiled (bench/int8-kernels.ts). */
  readonly int8Kernels: readonly Int8Kernel[]
}

/** Kernel ms of the ops of a kind in a profile. */
const kernelMs = (ops: ReadonlyArray<readonly [string, number]>, kinds: readonly string[]): number => ops.filter(([k]) => kinds.includes(k)).reduce((a, [, v]) => a + v, 0)

/** The linear layers (MatMul and onnxruntime's fused forms of it, the patch Conv). */
const GEMM = ['MatMul', 'FusedMatMul', 'Gemm', 'Conv', 'MatMulInteger', 'DynamicQuantizeMatMul']
/** What every float32 lowering must compute: the linear layers, attention, and the exact (erf) GELU. */
const ESSENTIAL = [...GEMM, 'MultiHeadAttention', 'Attention', 'BiasGelu', 'Gelu']

const f = (x: number, digits = 1): string => (Number.isFinite(x) ? x.toFixed(digits) : 'n/a')

/**
 * How far any rewrite of the remaining work can take fused vs unfused float32 (`image`,
 * B=1). Both graphs run the same GEMMs; attention and the exact GELU must run too. The
 * fused profile gives those kernels' share of its time (a share within one profile, so
 * load from other processes cancels); applied to the fused median, that is the time no
 * rewrite of the other kernels can go below.
 */
const ceiling = (r: Results, unfused: number, fused: number): string[] => {
  const pf = r.profiles.find(([k]) => k === 'vision image, fused, B=1')?.[1] ?? []
  const total = pf.reduce((a, [, v]) => a + v, 0)
  const [gemm, essential] = [kernelMs(pf, GEMM), kernelMs(pf, ESSENTIAL)]
  return [
    '',
    '### Ceiling of fused vs unfused (float32, `image`, B=1)',
    '',
    `- Fused profile: linear layers ${f(gemm)} ms, attention ${f(kernelMs(pf, ['MultiHeadAttention', 'Attention']))} ms, GELU ${f(kernelMs(pf, ['BiasGelu', 'Gelu']))} ms, everything else ${f(total - essential)} ms, of ${f(total)} ms kernel time: the linear layers, attention and GELU are ${f((100 * essential) / total, 0)}% of it.`,
    `- So with every other kernel free, the fused median of ${f(fused)} ms would be ${f((fused * essential) / total)} ms: at most ${f((unfused * total) / (fused * essential), 2)}x against the unfused ${f(unfused)} ms (measured: ${f(unfused / fused, 2)}x); with attention and GELU free as well, at most ${f((unfused * total) / (fused * gemm), 2)}x.`,
    `- The linear layers (${f(r.imageGemmFlops / 1e9, 2)} GFLOP) ran at ${f(r.imageGemmFlops / gemm / 1e6)} GFLOP/s in the profile; the large MatMul measured ${f(r.matmul.f32)} GFLOP/s in the \`none\` group's rounds.`
  ]
}

/** The peer's rows are timed in the same rounds as ours: `vision none` (the same computation) and `vision image` (ours drops tokens, the peer does not). */
const PEER = 'pytorch'

/** Targets against the peer (none when it was skipped). */
const peerTargets = (r: Results, ms: (what: string, variant: string, batch?: number) => number): string[] =>
  'skipped' in r.peer
    ? []
    : [
        `| fused vision (image, keep 0.7, B=1) vs the PyTorch peer in the same rounds | 1.10x | ${f(ms('vision image', PEER) / ms('vision image', 'fused'), 2)}x | ${ms('vision image', PEER) / ms('vision image', 'fused') >= 1.1 ? 'met' : '**missed**'} |`,
        ...[1, 4].map((B) => `| fused vision (none, B=${B}) vs the PyTorch peer, the same computation | 1.00x | ${f(ms('vision none', PEER, B) / ms('vision none', 'fused', B), 2)}x | ${ms('vision none', PEER, B) >= ms('vision none', 'fused', B) ? 'met' : '**missed**'} |`)
      ]

/** What the results say about the peer: how it was built and checked, and why ours is slower where it is. */
const peerLines = (r: Results, ms: (what: string, variant: string, batch?: number) => number): string[] => {
  if ('skipped' in r.peer) return [`PyTorch peer: skipped (no row is timed against it): ${r.peer.skipped}. Build it with \`apt-get install python3-torch python3-torchvision\` (bench/peer.ts).`]
  const slower = [1, 4].filter((B) => ms('vision none', PEER, B) < ms('vision none', 'fused', B))
  return [
    `PyTorch peer (bench/peer.ts, bench/torch-peer.py): torchvision's ViT with our \`vision_none\` weights, torch ${r.peer.torch}, \`torch.onnx.export\` opset 17, run by the same onnxruntime with the same options; its tokens differ from ours by at most ${r.peer.torchDiff.toExponential(1)} in PyTorch and ${r.peer.onnxDiff.toExponential(1)} as exported.`,
    slower.length === 0 ? 'Ours (fused, `none`) is not slower than the peer at batch 1 or 4.' : `Ours (fused, \`none\`) is slower than the peer at batch ${slower.join(' and ')}: ${r.peer.slowerBecause}.`
  ]
}

/** The results file. */
export const writeResults = (r: Results): string => {
  const get = (what: string, variant: string, batch: number): Row | undefined => r.rows.find((x) => x.what === what && x.variant === variant && x.batch === batch)
  const ms = (what: string, variant: string, batch = 1): number => get(what, variant, batch)?.perItem ?? NaN
  const target = (name: string, ratio: number, want: number, unit = 'x'): string =>
    `| ${name} | ${f(want, unit === '' ? 4 : 2)}${unit} | ${f(ratio, unit === '' ? 4 : 2)}${unit} | ${ratio >= want ? 'met' : `**missed** by ${f((1 - ratio / want) * 100, 0)}%`} |`
  const image = ms('vision image', 'fused')
  const noneG = get('vision none', 'fused', 4)?.gflops ?? NaN
  const busy = r.machine.load.split(' ').map(Number)[0] > 0.5 || r.machine.loadAfter.split(' ').map(Number)[0] > 2.5
  return [
    '# Benchmark results (issue 4)',
    '',
    'Written by `npm run bench` (bench/run.ts); the analysis at the end is kept by hand in bench/notes.md.',
    '',
    '## Machine',
    '',
    ...Object.entries(r.machine).map(([k, v]) => `- ${k}: ${v}`),
    busy ? '- **The machine was busy** (other sessions share its 2 cores): timings are noisy; ratios within one run are what count.' : '- The machine was idle at the start.',
    '',
    '## Timings (after warm-up, the median of 15 rounds (vision), 21 (text) or 7 (re-ranking); variants of a row group timed round-robin; per item = per image, per text or per candidate)',
    '',
    '| what | variant | batch | median ms | fastest ms | median ms / item | GFLOP/s (median) |',
    '| --- | --- | ---: | ---: | ---: | ---: | ---: |',
    ...r.rows.map((x) => `| ${x.what} | ${x.variant} | ${x.batch} | ${f(x.ms)} | ${f(x.min)} | ${f(x.perItem)} | ${f(x.gflops)} |`),
    '',
    `Variant \`${PEER}\`: the PyTorch peer (torchvision's ViT with our weights, exported on this machine), timed in the same rounds as the row's other variants; it computes what \`none\` does in every row (no token dropping), so its GFLOP/s count \`none\`'s FLOPs.`,
    '',
    `Single large MatMul [1024x3072]x[3072x768], timed in the same rounds as the \`none\` encoder at batch 4: **${f(r.matmul.f32)} GFLOP/s** float32, ${f(r.matmul.int8)} GOP/s int8 (DynamicQuantizeMatMul).`,
    '',
    '## Kernels at [1, 197, 768] (attention: 12 heads, median of 21; residual + layer norm: median of 41)',
    '',
    '| variant | ms |',
    '| --- | ---: |',
    ...r.attention.map(([k, v]) => `| ${k} | ${f(v, 3)} |`),
    '',
    '## int8 matrix product forms at [197, 768] x [768, 3072] (onnxruntime profiler, median of 41 runs)',
    '',
    '| form written | kernels onnxruntime ran | kernel ms | max error vs float32 |',
    '| --- | --- | ---: | ---: |',
    ...r.int8Kernels.map((k) => `| ${k.name} | ${k.kernels.join(' + ')} | ${f(k.kernelMs, 3)} | ${k.error === 0 ? '-' : `${f(100 * k.error, 2)}% of max abs`} |`),
    '',
    '## Compile (base, random weights, every stage written)',
    '',
    `- ${f(r.compile.seconds)} s inside compileModel, ${f(r.compile.wall)} s wall for the process; peak RSS ${f(r.compile.peakMiB, 0)} MiB`,
    '',
    '## Targets',
    '',
    '| target | wanted | measured | |',
    '| --- | ---: | ---: | --- |',
    target('fused vision (image, keep 0.7, B=1) vs our unfused', ms('vision image', 'unfused') / image, 1.15),
    ...peerTargets(r, ms),
    target('int8 vision (image, B=1) vs float32 fused', image / ms('vision image', 'int8'), 2),
    target('int8 itc_image cosine vs float32 (worst of 4 images)', r.quality.itcImageCosine, 0.99, ''),
    target('re-rank 16 with prefix cache vs without', ms('re-rank 16, no cache', 'fused', 16) / ms('re-rank 16, prefix cache', 'fused', 16), 1.25),
    target('float32 `none` vision (fused, B=4) GFLOP/s vs the large MatMul', noneG / r.matmul.f32, 0.9),
    '',
    ...ceiling(r, ms('vision image', 'unfused'), image),
    '',
    `Also: int8 kept-token overlap with float32 (worst layer and image): ${f(r.quality.keptOverlap, 3)}; unfused vs fused itc_image cosine: ${f(r.quality.unfusedItcCosine, 6)}.`,
    ...peerLines(r, ms),
    '',
    '## Profiles (onnxruntime profiler, kernel ms per run by op type: median of 7 runs after a warm-up, top 8)',
    '',
    ...r.profiles.flatMap(([name, ops]) => [`- ${name}: ${ops.slice(0, 8).map(([k, v]) => `${k} ${f(v)}`).join(', ')}`]),
    '',
    ...(r.training === null ? [] : ['## Training (bench/train.ts, issue 6)', '', r.training, '']),
    ...(existsSync(new URL('./notes.md', import.meta.url)) ? [readFileSync(new URL('./notes.md', import.meta.url), 'utf8')] : [])
  ].join('\n')
}
