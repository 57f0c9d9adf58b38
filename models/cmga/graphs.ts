/**
 * The graphs a deployment needs, one per stage. Each is a plain function of the
 * config; parameters are `Param` nodes named as in the checkpoint.
 * @since 0.1.0
 */
import type { F32, Graph, I64, InputTensor } from '../../dsl/index.js'
import { graph, input, reshape } from '../../dsl/index.js'
import { globalFeature, globalScore, localScore, tokenFeatures } from './align.js'
import type { CmgaConfig } from './config.js'
import { keptCounts, numPatches } from './config.js'
import { clsOf, itmHead, relationModule, vqaHead } from './fusion.js'
import { pretrainLosses } from './losses.js'
import { cmgaParams } from './params.js'
import { graphStages } from './stages.js'
import { textEncoder } from './text.js'
import type { Guidance } from './vision.js'
import { needsText, visionEncoder } from './vision.js'

/** The stages built from the graphs below (`stages.ts` names what each takes and gives). */
export type Stage = (typeof graphStages)[number]

/** Every stage, in the order `cmga compile` writes them. */
export const stages: readonly Stage[] = graphStages

/** Final visual token count of a guidance mode. */
export const visionTokens = (c: CmgaConfig, g: Guidance): number => {
  const ks = keptCounts(c)
  return g === 'none' || ks.length === 0 ? numPatches(c) + 1 : ks[ks.length - 1].tokensAfter
}

const pixelsInput = (c: CmgaConfig): InputTensor<'float32'> => input('pixels', 'float32', ['B', 3, c.vision.imageSize, c.vision.imageSize])
const idsInput = (): InputTensor<'int64'> => input('input_ids', 'int64', ['B', 'L'])
const maskInput = (): InputTensor<'int64'> => input('attention_mask', 'int64', ['B', 'L'])

/** Text encoder: `text_embeds`, its [CLS] state, and the ITC / token features of section 7. */
export const textGraph = (c: CmgaConfig): Graph => {
  const p = cmgaParams(c)
  const [ids, mask] = [idsInput(), maskInput()]
  const T = textEncoder(c, p.text, ids, mask)
  return graph('text', [ids, mask], {
    text_embeds: T,
    text_cls: clsOf(T),
    itc_text: globalFeature(T, p.textProj),
    text_tokens: tokenFeatures(T, p.textProj)
  })
}

/** Vision encoder under one guidance mode; `joint` and `text` take `text_cls` [B, Dt]. */
export const visionGraph = (c: CmgaConfig, g: Guidance): Graph => {
  const p = cmgaParams(c)
  const pixels = pixelsInput(c)
  const tCls = needsText(g) ? input('text_cls', 'float32', ['B', c.text.width]) : undefined
  const { V, keep } = visionEncoder(c, p.vision, pixels, g, tCls)
  const outputs: Record<string, F32 | I64> = { vision_embeds: V }
  if (g === 'image' || g === 'none') {
    outputs.itc_image = globalFeature(V, p.visionProj)
    outputs.image_tokens = tokenFeatures(V, p.visionProj)
  }
  for (const k of keep) outputs[`keep.${k.layer}`] = k.indices
  // The guidance score s [B, M] per compression layer: what `cmga explain` draws the fusion weights from.
  for (const k of keep) outputs[`guide.${k.layer}`] = k.scores
  return graph(`vision_${g}`, (tCls === undefined ? [pixels] : [pixels, tCls]), outputs)
}

/** Relation module with the ITM head (and the VQA head when configured). */
export const relationGraph = (c: CmgaConfig): Graph => {
  const p = cmgaParams(c)
  const T = input('text_embeds', 'float32', ['B', 'L', c.text.width])
  const mask = maskInput()
  const V = input('vision_embeds', 'float32', ['B', visionTokens(c, 'joint'), c.vision.width])
  const F = relationModule(c, p.text, T, mask, V)
  const outputs: Record<string, F32> = { fusion_embeds: F, itm_logits: itmHead(F, p.itmHead) }
  if (p.vqa !== undefined) outputs.vqa_logits = vqaHead(F, p.vqa)
  return graph('relation', [T, mask, V], outputs)
}

/** Global and local scores between a set of images and a set of texts, from their features. */
export const scoresGraph = (c: CmgaConfig): Graph => {
  const E = c.align.embedDim
  const gImg = input('itc_image', 'float32', ['Bi', E])
  const vTok = input('image_tokens', 'float32', ['Bi', visionTokens(c, 'image') - 1, E])
  const gTxt = input('itc_text', 'float32', ['Bt', E])
  const tTok = input('text_tokens', 'float32', ['Bt', 'L-1', E])
  const mask = input('attention_mask', 'int64', ['Bt', 'L'])
  return graph('scores', [gImg, vTok, gTxt, tTok, mask], {
    score_global: globalScore(gImg, gTxt),
    score_local: localScore(vTok, tTok, mask)
  })
}

/** The graph of one stage. */
export const stageGraph = (c: CmgaConfig, s: Stage): Graph =>
  s === 'text'
    ? textGraph(c)
    : s === 'relation'
      ? relationGraph(c)
      : s === 'scores'
        ? scoresGraph(c)
        : visionGraph(c, s === 'vision_image' ? 'image' : s === 'vision_joint' ? 'joint' : 'none')

/** The pre-training losses for a batch of static size B x L (losses as [1], negatives as [B]). */
export const lossGraph = (c: CmgaConfig, B: number, L: number): Graph => {
  const p = cmgaParams(c)
  const S = c.vision.imageSize
  const pixels = input('pixels', 'float32', [B, 3, S, S])
  const [ids, mask, mlmIds, mlmLabels] = ['input_ids', 'attention_mask', 'mlm_input_ids', 'mlm_labels'].map((n) => input(n, 'int64', [B, L]))
  const l = pretrainLosses(c, p, { pixels, ids, mask, mlmIds, mlmLabels })
  const one = (x: F32): F32 => reshape(x, [1])
  return graph('losses', [pixels, ids, mask, mlmIds, mlmLabels], {
    loss: one(l.loss),
    loss_itc: one(l.itc),
    loss_ftc: one(l.ftc),
    loss_itm: one(l.itm),
    loss_mlm: one(l.mlm),
    itm_neg_image: l.negImage,
    itm_neg_text: l.negText
  })
}
