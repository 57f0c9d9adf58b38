/**
 * The benchmark's PyTorch peer: torchvision's ViT (`vit_b_16` on the base config)
 * carrying our `vision_none` weights, exported by `torch.onnx.export` on this machine
 * (bench/torch-peer.py, run with Debian's python3-torch and python3-torchvision), after
 * the script has checked that its tokens equal ours. Nothing here is measured on another
 * machine: without python3 and those packages the peer is skipped, with the reason.
 * @since 0.1.0
 */
import { execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type * as ort from 'onnxruntime-node'
import type { HostTensor } from '../compiler/ir/tensor.js'
import type { CmgaConfig } from '../models/cmga/config.js'
import { encodeSafetensors } from '../runtime/safetensors/index.js'
import { feedsOf, openModel } from './measure.js'

/**
 * The exported peer open in onnxruntime, with the largest difference of its tokens from
 * ours in PyTorch (`torchDiff`) and as exported, in onnxruntime (`onnxDiff`); or why
 * there is none.
 */
export type Peer = { readonly session: ort.InferenceSession; readonly model: Uint8Array; readonly torchDiff: number; readonly onnxDiff: number; readonly torch: string } | { readonly skipped: string }

const maxAbsDiff = (a: ort.Tensor, b: ort.Tensor): number => {
  const [x, y] = [a.data as Float32Array, b.data as Float32Array]
  if (x.length !== y.length) return Infinity
  let m = 0
  for (let i = 0; i < x.length; i++) m = Math.max(m, Math.abs(x[i] - y[i]))
  return m
}

/** The Python that runs bench/torch-peer.py (Debian's, where apt installs torch). */
const PYTHON = process.env.CMGA_BENCH_PYTHON ?? '/usr/bin/python3'

/**
 * Writes our vision weights and `pixels` with `vision_none`'s tokens for them, runs the
 * script (which checks the peer against those tokens, then exports it) and reads the
 * exported model back.
 */
export const exportPeer = async (c: CmgaConfig, weights: ReadonlyMap<string, HostTensor>, ours: ort.InferenceSession, pixels: HostTensor): Promise<Peer> => {
  const dir = mkdtempSync(join(tmpdir(), 'cmga-peer-'))
  try {
    const out = await ours.run(feedsOf({ pixels }))
    const tokens = out.vision_embeds
    const vision = new Map([...weights].filter(([k]) => k.startsWith('visual_encoder.')))
    writeFileSync(join(dir, 'weights.safetensors'), encodeSafetensors(vision, { config: JSON.stringify(c.vision) }))
    writeFileSync(join(dir, 'check.safetensors'), encodeSafetensors({ pixels, vision_embeds: { dtype: 'float32', shape: tokens.dims.map(Number), data: tokens.data as Float32Array } }))
    const file = join(dir, 'peer.onnx')
    const script = new URL('./torch-peer.py', import.meta.url).pathname
    const r = execFileSync(PYTHON, [script, '--weights', join(dir, 'weights.safetensors'), '--check', join(dir, 'check.safetensors'), '--out', file], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] })
    const info = JSON.parse(r.trim().split('\n').at(-1) ?? '{}') as { maxAbsDiff: number; torch: string }
    const model = readFileSync(file)
    const session = await openModel(model)
    const theirs = await session.run(feedsOf({ pixels }))
    return { session, model, torchDiff: info.maxAbsDiff, onnxDiff: maxAbsDiff(theirs.vision_embeds, tokens), torch: info.torch }
  } catch (e) {
    const err = e as { stderr?: string; message: string }
    const why = (err.stderr ?? '').trim().split('\n').filter((l) => l.length > 0).at(-1) ?? err.message
    return { skipped: `PyTorch peer not built (${PYTHON} bench/torch-peer.py): ${why}` }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

/**
 * Why our graph is slower than the peer's, from the two profiles (kernel ms per op type
 * at batch 1): the op types where ours spends the most more, and the totals.
 */
export const slowerBecause = (ours: ReadonlyArray<readonly [string, number]>, theirs: ReadonlyArray<readonly [string, number]>): string => {
  const total = (ops: ReadonlyArray<readonly [string, number]>): number => ops.reduce((a, [, v]) => a + v, 0)
  const ms = new Map<string, [number, number]>()
  for (const [k, v] of ours) ms.set(k, [v, 0])
  for (const [k, v] of theirs) ms.set(k, [ms.get(k)?.[0] ?? 0, v])
  const gaps = [...ms].map(([k, [a, b]]) => [k, a, b, a - b] as const).sort((x, y) => y[3] - x[3]).slice(0, 3)
  return `kernel time ${total(ours).toFixed(1)} ms ours vs ${total(theirs).toFixed(1)} ms the peer's; most more in ${gaps.map(([k, a, b]) => `${k} (${a.toFixed(1)} vs ${b.toFixed(1)} ms)`).join(', ')}`
}
