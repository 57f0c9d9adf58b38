/**
 * Nothing is special-cased to the tiny fixture: configs with other widths, head counts,
 * depths, compression layers (including layer 0 and the last block), keep rates and
 * image sizes compile, pass the ONNX checker, and `cmga infer` agrees with the float64
 * reference interpreter evaluating the same stage graphs.
 */
import { readdirSync } from 'node:fs'
import { join } from 'node:path'
import * as E from 'fp-ts/lib/Either.js'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { tryBuild } from '../compiler/errors.js'
import { evaluate } from '../compiler/eval/evaluate.js'
import type { HostTensor } from '../compiler/ir/tensor.js'
import { toNumbers } from '../compiler/ir/tensor.js'
import { compileModel } from '../apps/compile/compile.js'
import type { CmgaConfig } from '../models/cmga/config.js'
import { decodeConfig, keptCounts } from '../models/cmga/config.js'
import { stageGraph, visionGraph } from '../models/cmga/graphs.js'
import { randomWeights } from '../apps/compile/random-init.js'
import { sampleInputs } from '../cli/commands/sample-inputs.js'
import { inferPairs } from '../apps/cmga/infer.js'
import { loadCmgaModel } from '../apps/cmga/model.js'
import { checkModels } from './support/onnx-check.js'
import { tempDir } from './support/cli.js'

const right = <A>(e: E.Either<{ message: string }, A>): A => {
  if (E.isLeft(e)) throw new Error(e.left.message)
  return e.right
}

const configs: Record<string, unknown> = {
  odd: {
    vision: { imageSize: 30, patchSize: 6, channels: 3, width: 36, depth: 5, heads: 3, mlpDim: 50, eps: 1e-6 },
    text: { vocabSize: 37, maxPositions: 20, typeVocabSize: 2, width: 36, heads: 6, intermediate: 44, textLayers: 1, fusionLayers: 3, eps: 1e-12, padTokenId: 0 },
    compression: { layers: [0, 2, 4], keepRate: 0.55, imageWeight: 0.3 },
    align: { embedDim: 7 }
  },
  noCompression: {
    vision: { imageSize: 16, patchSize: 4, channels: 3, width: 24, depth: 2, heads: 2, mlpDim: 30, eps: 1e-6 },
    text: { vocabSize: 50, maxPositions: 12, typeVocabSize: 2, width: 24, heads: 4, intermediate: 20, textLayers: 2, fusionLayers: 1, eps: 1e-12, padTokenId: 0 },
    compression: { layers: [], keepRate: 0.5, imageWeight: 0.5 },
    align: { embedDim: 5 },
    vqa: { numAnswers: 3 }
  },
  keepAll: {
    vision: { imageSize: 20, patchSize: 5, channels: 3, width: 16, depth: 3, heads: 4, mlpDim: 16, eps: 1e-5 },
    text: { vocabSize: 30, maxPositions: 10, typeVocabSize: 2, width: 16, heads: 2, intermediate: 24, textLayers: 1, fusionLayers: 1, eps: 1e-12, padTokenId: 0 },
    compression: { layers: [1], keepRate: 1, imageWeight: 1 },
    align: { embedDim: 4 }
  }
}

/** What the reference interpreter computes for the same pairs, named like `cmga infer`'s outputs. */
const reference = (c: CmgaConfig, w: ReadonlyMap<string, HostTensor>, feeds: ReadonlyMap<string, HostTensor>): Map<string, HostTensor> => {
  const run = (stage: Parameters<typeof stageGraph>[1], f: Record<string, HostTensor>) => right(evaluate(right(tryBuild(() => stageGraph(c, stage))), f, w))
  const mask = feeds.get('attention_mask') as HostTensor
  const pixels = feeds.get('pixels') as HostTensor
  const t = run('text', { input_ids: feeds.get('input_ids') as HostTensor, attention_mask: mask })
  const img = run('vision_image', { pixels })
  const joint = run('vision_joint', { pixels, text_cls: t.text_cls })
  const rel = run('relation', { text_embeds: t.text_embeds, attention_mask: mask, vision_embeds: joint.vision_embeds })
  const sc = run('scores', { itc_image: img.itc_image, image_tokens: img.image_tokens, itc_text: t.itc_text, text_tokens: t.text_tokens, attention_mask: mask })
  const out = new Map<string, HostTensor>([
    ['text_embeds', t.text_embeds], ['vision_embeds.image', img.vision_embeds], ['vision_embeds.joint', joint.vision_embeds],
    ['vision_embeds.none', run('vision_none', { pixels }).vision_embeds], ['itc_image', img.itc_image], ['itc_text', t.itc_text],
    ['score_global', sc.score_global], ['score_local', sc.score_local], ['fusion_embeds', rel.fusion_embeds], ['itm_logits', rel.itm_logits]
  ])
  if (rel.vqa_logits !== undefined) out.set('vqa_logits', rel.vqa_logits)
  for (const k of keptCounts(c)) {
    out.set(`keep.image.${k.layer}`, img[`keep.${k.layer}`])
    out.set(`keep.joint.${k.layer}`, joint[`keep.${k.layer}`])
  }
  return out
}

const it = suite('configs other than the fixture')
for (const [name, json] of Object.entries(configs)) {
  it(name, async () => {
    const c = right(decodeConfig(json))
    const weights = randomWeights(c, 7, 0.3)
    const dir = join(tempDir(), 'model')
    right(compileModel({ config: c, weights, weightsSource: 'test', weightsSummary: 'test', out: dir }))
    checkModels(readdirSync(dir).filter((f) => f.endsWith('.onnx')).map((f) => join(dir, f)))
    const feeds = sampleInputs(c, 3, Math.min(9, c.text.maxPositions), 3)
    const got = right(await inferPairs(right(loadCmgaModel(dir)), feeds, name)())
    const want = reference(c, weights, feeds)
    assert.equal([...got.keys()].sort(), [...want.keys()].sort())
    for (const [k, wv] of want) {
      const gv = got.get(k) as HostTensor
      assert.equal(gv.shape, wv.shape, `${name} ${k} shape`)
      const [a, b] = [toNumbers(gv), toNumbers(wv)]
      if (wv.dtype === 'int64') assert.equal(Array.from(a), Array.from(b), `${name} ${k}`)
      else {
        let worst = 0
        for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]) / (1 + Math.abs(b[i])))
        assert.ok(worst <= 1e-4, `${name} ${k}: ${worst}`)
      }
    }
    for (const k of keptCounts(c)) assert.is(got.get(`keep.image.${k.layer}`)?.shape[1], k.kept)
  })
}
it.run()

const modes = suite('guidance modes')
modes('`text` guidance equals `joint` guidance with imageWeight 0, and differs from `image`', () => {
  const base = configs.odd as { compression: object }
  const c = right(decodeConfig({ ...base, compression: { layers: [1, 3], keepRate: 0.6, imageWeight: 0 } }))
  const weights = randomWeights(c, 11, 0.3)
  const feeds = sampleInputs(c, 2, 6, 5)
  const pixels = feeds.get('pixels') as HostTensor
  const text = right(evaluate(right(tryBuild(() => stageGraph(c, 'text'))), { input_ids: feeds.get('input_ids') as HostTensor, attention_mask: feeds.get('attention_mask') as HostTensor }, weights))
  const vision = (g: 'text' | 'joint' | 'image') =>
    right(evaluate(right(tryBuild(() => visionGraph(c, g))), { pixels, text_cls: text.text_cls }, weights))
  const [t, j, im] = [vision('text'), vision('joint'), vision('image')]
  for (const k of ['vision_embeds', 'keep.1', 'keep.3']) assert.equal(Array.from(toNumbers(t[k])), Array.from(toNumbers(j[k])), k)
  assert.not.equal(Array.from(toNumbers(t['keep.1'])), Array.from(toNumbers(im['keep.1'])))
})
modes.run()
