/** The benchmark's FLOP counts and its ceiling analysis, on small graphs and made-up timings. */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { runPipeline } from '../compiler/passes/pipeline.js'
import { fuseAttention } from '../compiler/passes/fusions/index.js'
import * as d from '../dsl/index.js'
import { MHA } from '../models/cmga/layers.js'
import { gemmFlops, graphFlops } from '../bench/flops.js'
import type { Results } from '../bench/results.js'
import { writeResults } from '../bench/results.js'

const [T, D, H] = [5, 8, 2]
const x = d.input('x', 'float32', ['B', T, D])
const q = d.linear(x, d.param('wq', [D, D]))
const k = d.linear(x, d.param('wk', [D, D]))
const a = MHA(q, k, x, H)
const g = d.graph('block', [x], { y: d.linear(a.out, d.param('wo', [2 * D, D])) })

test('gemmFlops counts the linear layers only; graphFlops adds attention, fused or not', () => {
  const linear = 2 * 3 * T * D * D * 2 + 2 * 3 * T * D * 2 * D // q, k; output projection to 2D
  const attention = 2 * 2 * 3 * T * T * D // q k^T and A v, 3 images
  assert.is(gemmFlops(g, { B: 3 }), linear)
  assert.is(graphFlops(g, { B: 3 }), linear + attention)
  const fused = runPipeline(g, [fuseAttention()]).graph
  assert.ok(fused.outputs.length === 1)
  assert.is(gemmFlops(fused, { B: 3 }), linear)
  assert.is(graphFlops(fused, { B: 3 }), linear + attention)
})

const results = (unfused: number, fused: number, peer: Results['peer'] = { skipped: 'no torchvision' }, peerRows: Results['rows'] = []): Results => ({
  machine: { cpu: 'test', load: '0 0 0', loadAfter: '0 0 0' },
  rows: [
    { what: 'vision image', variant: 'unfused', batch: 1, ms: unfused, min: unfused, perItem: unfused, gflops: 1 },
    { what: 'vision image', variant: 'fused', batch: 1, ms: fused, min: fused, perItem: fused, gflops: 1 },
    ...peerRows
  ],
  matmul: { f32: 200, int8: 600 },
  attention: [],
  profiles: [
    ['vision image, unfused, B=1', [['MatMul', 70], ['Transpose', 6], ['Add', 4]]],
    ['vision image, fused, B=1', [['MatMul', 68], ['FusedMatMul', 2], ['MultiHeadAttention', 5]]]
  ],
  compile: { seconds: 1, wall: 2, peakMiB: 3 },
  training: null,
  quality: { itcImageCosine: 1, keptOverlap: 1, unfusedItcCosine: 1 },
  peer,
  imageGemmFlops: 14e9,
  int8Kernels: [
    { name: 'float32 MatMul', kernels: ['MatMul'], kernelMs: 2.2, error: 0 },
    { name: 'standard', kernels: ['DynamicQuantizeMatMul'], kernelMs: 0.65, error: 0.005 }
  ]
})

test('the results file bounds fused vs unfused by the GEMM time, from the profile and from the FLOPs', () => {
  const text = writeResults(results(80, 76))
  assert.match(text, /linear layers 70\.0 ms, attention 5\.0 ms, GELU 0\.0 ms, everything else 0\.0 ms, of 75\.0 ms kernel time: the linear layers, attention and GELU are 100% of it/)
  // essential share 75/75: with everything else free the fused 76 ms stays 76 ms; 80 / 76 = 1.05x; GEMM share 70/75: 80 / (76 * 70/75) = 1.13x
  assert.match(text, /the fused median of 76\.0 ms would be 76\.0 ms: at most 1\.05x against the unfused 80\.0 ms \(measured: 1\.05x\); with attention and GELU free as well, at most 1\.13x/)
  assert.match(text, /The linear layers \(14\.00 GFLOP\) ran at 200\.0 GFLOP\/s in the profile; the large MatMul measured 200\.0 GFLOP\/s/)
  assert.match(text, /\| standard \| DynamicQuantizeMatMul \| 0\.650 \| 0\.50% of max abs \|/)
  assert.match(text, /\| fused vision \(image, keep 0\.7, B=1\) vs our unfused \| 1\.15x \| 1\.05x \| \*\*missed\*\* by 8% \|/)
})

test('the PyTorch peer: skipped with its reason and no target; else ratios from the same rounds and why ours is slower', () => {
  const skipped = writeResults(results(80, 76))
  assert.match(skipped, /PyTorch peer: skipped \(no row is timed against it\): no torchvision/)
  assert.not.match(skipped, /vs the PyTorch peer/)
  const row = (what: string, variant: string, batch: number, ms: number): Results['rows'][number] => ({ what, variant, batch, ms, min: ms, perItem: ms / batch, gflops: 1 })
  const rows = [row('vision image', 'pytorch', 1, 95), row('vision none', 'fused', 1, 120), row('vision none', 'pytorch', 1, 100), row('vision none', 'fused', 4, 400), row('vision none', 'pytorch', 4, 440)]
  const text = writeResults(results(80, 76, { torch: '1.13', torchDiff: 5e-6, onnxDiff: 2e-6, slowerBecause: 'most more in MatMul' }, rows))
  assert.match(text, /\| fused vision \(image, keep 0\.7, B=1\) vs the PyTorch peer in the same rounds \| 1\.10x \| 1\.25x \| met \|/)
  assert.match(text, /\| fused vision \(none, B=1\) vs the PyTorch peer, the same computation \| 1\.00x \| 0\.83x \| \*\*missed\*\* \|/)
  assert.match(text, /\| fused vision \(none, B=4\) vs the PyTorch peer, the same computation \| 1\.00x \| 1\.10x \| met \|/)
  assert.match(text, /slower than the peer at batch 1: most more in MatMul\./)
  assert.match(text, /differ from ours by at most 5\.0e-6 in PyTorch and 2\.0e-6 as exported/)
})

test.run()
