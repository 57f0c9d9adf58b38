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

const results = (unfused: number, fused: number): Results => ({
  machine: { cpu: 'test', load: '0 0 0', loadAfter: '0 0 0' },
  rows: [
    { what: 'vision image', variant: 'unfused', batch: 1, ms: unfused, min: unfused, perItem: unfused, gflops: 1 },
    { what: 'vision image', variant: 'fused', batch: 1, ms: fused, min: fused, perItem: fused, gflops: 1 }
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
  pytorch: { none: 212, image: 142, text: 25 },
  imageGemmFlops: 14e9
})

test('the results file bounds fused vs unfused by the GEMM time, from the profile and from the FLOPs', () => {
  const text = writeResults(results(80, 76))
  assert.match(text, /linear layers 70\.0 ms, attention 5\.0 ms, GELU 0\.0 ms, everything else 0\.0 ms, of 75\.0 ms kernel time \(unfused: 80\.0 ms\)/)
  assert.match(text, /at most 1\.07x; were attention and GELU free as well, 1\.14x/) // 80 / 75, 80 / 70
  assert.match(text, /14\.00 GFLOP; at the large MatMul's 200\.0 GFLOP\/s that is 70\.0 ms, so even with nothing else to run the ratio is at most 1\.14x against the unfused median of 80\.0 ms \(measured: 1\.05x\)/)
  assert.match(text, /\| fused vision \(image, keep 0\.7, B=1\) vs our unfused \| 1\.15x \| 1\.05x \| \*\*missed\*\* by 8% \|/)
})

test.run()
