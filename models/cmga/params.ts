/**
 * Spec section 2: every parameter, by its ALBEF checkpoint name and shape. Model code
 * takes these trees; a checkpoint is matched against `parameterList`.
 * @since 0.1.0
 */
import type { F32 } from '../../dsl/index.js'
import { param } from '../../dsl/index.js'
import type { Node } from '../../compiler/ir/node.js'
import type { CmgaConfig } from './config.js'
import { numPatches } from './config.js'
import { size } from './layers.js'

// -------------------------------------------------------------------------------------
// model
// -------------------------------------------------------------------------------------

/** A PyTorch `Linear`: weight [out, in], bias [out]. */
export interface Linear {
  readonly weight: F32
  readonly bias: F32
}

/** A `LayerNorm`: weight and bias [width]. */
export type Norm = Linear

/** `visual_encoder.blocks.{l}`. */
export interface VisionBlock {
  readonly norm1: Norm
  readonly qkv: Linear
  readonly proj: Linear
  readonly norm2: Norm
  readonly fc1: Linear
  readonly fc2: Linear
}

/** `visual_encoder.`. */
export interface VisionParams {
  readonly clsToken: F32
  readonly posEmbed: F32
  readonly patchEmbed: Linear
  readonly blocks: readonly VisionBlock[]
  readonly norm: Norm
}

/** One BERT attention: query/key/value, output dense and its LayerNorm. */
export interface Attention {
  readonly query: Linear
  readonly key: Linear
  readonly value: Linear
  readonly dense: Linear
  readonly norm: Norm
}

/** `text_encoder.encoder.layer.{n}`; fusion layers also carry `crossattention`. */
export interface TextLayer {
  readonly attention: Attention
  readonly crossattention?: Attention
  readonly intermediate: Linear
  readonly output: Linear
  readonly outputNorm: Norm
}

/** `text_encoder.`. */
export interface TextParams {
  readonly wordEmbeddings: F32
  readonly positionEmbeddings: F32
  readonly tokenTypeEmbeddings: F32
  readonly embeddingsNorm: Norm
  readonly layers: readonly TextLayer[]
}

/** The MLM head `text_encoder.cls.predictions.` (decoder tied to the word embeddings). */
export interface MlmHead {
  readonly transform: Linear
  readonly norm: Norm
  readonly bias: F32
}

/** The optional VQA head. */
export interface VqaHead {
  readonly dense1: Linear
  readonly norm: Norm
  readonly dense2: Linear
}

/** Everything. */
export interface CmgaParams {
  readonly vision: VisionParams
  readonly text: TextParams
  readonly mlm: MlmHead
  readonly visionProj: Linear
  readonly textProj: Linear
  readonly temp: F32
  readonly itmHead: Linear
  readonly vqa?: VqaHead
}

// -------------------------------------------------------------------------------------
// declarations
// -------------------------------------------------------------------------------------

const linear = (name: string, out: number, inp: number): Linear => ({
  weight: param(`${name}.weight`, [out, inp]),
  bias: param(`${name}.bias`, [out])
})

const norm = (name: string, width: number): Norm => ({ weight: param(`${name}.weight`, [width]), bias: param(`${name}.bias`, [width]) })

const visionParams = (c: CmgaConfig): VisionParams => {
  const { width: D, patchSize: P, channels, mlpDim, depth } = c.vision
  const v = 'visual_encoder'
  return {
    clsToken: param(`${v}.cls_token`, [1, 1, D]),
    posEmbed: param(`${v}.pos_embed`, [1, numPatches(c) + 1, D]),
    patchEmbed: { weight: param(`${v}.patch_embed.proj.weight`, [D, channels, P, P]), bias: param(`${v}.patch_embed.proj.bias`, [D]) },
    blocks: Array.from({ length: depth }, (_, l) => {
      const b = `${v}.blocks.${l}`
      return {
        norm1: norm(`${b}.norm1`, D),
        qkv: linear(`${b}.attn.qkv`, 3 * D, D),
        proj: linear(`${b}.attn.proj`, D, D),
        norm2: norm(`${b}.norm2`, D),
        fc1: linear(`${b}.mlp.fc1`, mlpDim, D),
        fc2: linear(`${b}.mlp.fc2`, D, mlpDim)
      }
    }),
    norm: norm(`${v}.norm`, D)
  }
}

const attention = (name: string, Dt: number, Dkv: number): Attention => ({
  query: linear(`${name}.self.query`, Dt, Dt),
  key: linear(`${name}.self.key`, Dt, Dkv),
  value: linear(`${name}.self.value`, Dt, Dkv),
  dense: linear(`${name}.output.dense`, Dt, Dt),
  norm: norm(`${name}.output.LayerNorm`, Dt)
})

const textParams = (c: CmgaConfig): TextParams => {
  const { width: Dt, vocabSize, maxPositions, typeVocabSize, intermediate, textLayers, fusionLayers } = c.text
  const t = 'text_encoder'
  return {
    wordEmbeddings: param(`${t}.embeddings.word_embeddings.weight`, [vocabSize, Dt]),
    positionEmbeddings: param(`${t}.embeddings.position_embeddings.weight`, [maxPositions, Dt]),
    tokenTypeEmbeddings: param(`${t}.embeddings.token_type_embeddings.weight`, [typeVocabSize, Dt]),
    embeddingsNorm: norm(`${t}.embeddings.LayerNorm`, Dt),
    layers: Array.from({ length: textLayers + fusionLayers }, (_, n) => {
      const l = `${t}.encoder.layer.${n}`
      return {
        attention: attention(`${l}.attention`, Dt, Dt),
        ...(n >= textLayers ? { crossattention: attention(`${l}.crossattention`, Dt, c.vision.width) } : {}),
        intermediate: linear(`${l}.intermediate.dense`, intermediate, Dt),
        output: linear(`${l}.output.dense`, Dt, intermediate),
        outputNorm: norm(`${l}.output.LayerNorm`, Dt)
      }
    })
  }
}

/** Declares every parameter of a config. */
export const cmgaParams = (c: CmgaConfig): CmgaParams => {
  const Dt = c.text.width
  const E = c.align.embedDim
  return {
    vision: visionParams(c),
    text: textParams(c),
    mlm: {
      transform: linear('text_encoder.cls.predictions.transform.dense', Dt, Dt),
      norm: norm('text_encoder.cls.predictions.transform.LayerNorm', Dt),
      bias: param('text_encoder.cls.predictions.bias', [c.text.vocabSize])
    },
    visionProj: linear('vision_proj', E, c.vision.width),
    textProj: linear('text_proj', E, Dt),
    temp: param('temp', []),
    itmHead: linear('itm_head', 2, Dt),
    ...(c.vqa === undefined
      ? {}
      : { vqa: { dense1: linear('vqa_head.dense1', 2 * Dt, Dt), norm: norm('vqa_head.norm', 2 * Dt), dense2: linear('vqa_head.dense2', c.vqa.numAnswers, 2 * Dt) } })
  }
}

const isParam = (v: object): v is Node<'Param'> => 'op' in v && v.op === 'Param'

/** Every parameter of a config as (name, shape), in declaration order. */
export const parameterList = (c: CmgaConfig): ReadonlyArray<{ readonly name: string; readonly shape: readonly number[] }> => {
  const out: Array<{ name: string; shape: readonly number[] }> = []
  const walk = (v: unknown): void => {
    if (v === undefined || v === null || typeof v !== 'object') return
    if (isParam(v)) {
      out.push({ name: v.attrs.name, shape: v.shape.map(size) })
      return
    }
    for (const x of Array.isArray(v) ? v : Object.values(v)) walk(x)
  }
  walk(cmgaParams(c))
  return out
}
