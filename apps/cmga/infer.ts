/**
 * `cmga infer`: every output of the fixtures' list for B pairs (image b with text b),
 * computed stage by stage through the compiled graphs.
 * @since 0.1.0
 */
import * as E from 'fp-ts/lib/Either.js'
import * as TE from 'fp-ts/lib/TaskEither.js'
import { pipe } from 'fp-ts/lib/function.js'
import type { CmgaError } from '../../compiler/errors.js'
import { cmgaError } from '../../compiler/errors.js'
import type { HostTensor } from '../../compiler/ir/tensor.js'
import type { CmgaModel } from './model.js'
import { checkPixels, checkText } from './validate.js'

/** Named output tensors, in a stable order. */
export type Outputs = Map<string, HostTensor>

const keepOutputs = (out: Outputs, mode: string, r: Readonly<Record<string, HostTensor | undefined>>): void => {
  for (const [k, t] of Object.entries(r)) if (k.startsWith('keep.') && t !== undefined) out.set(`keep.${mode}.${k.slice(5)}`, t)
}

/** Runs the whole model on paired inputs (`pixels`, `input_ids`, `attention_mask`). */
export const inferPairs = (m: CmgaModel, feeds: ReadonlyMap<string, HostTensor>, source: string): TE.TaskEither<CmgaError, Outputs> => {
  const c = m.manifest.config
  const px = checkPixels(c, feeds, source)
  if (E.isLeft(px)) return TE.left(px.left)
  const tx = checkText(c, feeds, source)
  if (E.isLeft(tx)) return TE.left(tx.left)
  const pixels = px.right
  const { ids, mask } = tx.right
  if (pixels.shape[0] !== ids.shape[0]) {
    return TE.left(cmgaError('input', `${source}: ${pixels.shape[0]} images but ${ids.shape[0]} texts; pair b is image b with text b`))
  }
  const out: Outputs = new Map()
  return pipe(
    m.run('text', { input_ids: ids, attention_mask: mask }),
    TE.bindTo('text'),
    TE.bind('image', () => m.run('vision_image', { pixels })),
    TE.bind('joint', ({ text }) => m.run('vision_joint', { pixels, text_cls: text.text_cls })),
    TE.bind('none', () => m.run('vision_none', { pixels })),
    TE.bind('relation', ({ text, joint }) => m.run('relation', { text_embeds: text.text_embeds, attention_mask: mask, vision_embeds: joint.vision_embeds })),
    TE.bind('scores', ({ text, image }) =>
      m.run('scores', {
        itc_image: image.itc_image,
        image_tokens: image.image_tokens,
        itc_text: text.itc_text,
        text_tokens: text.text_tokens,
        attention_mask: mask
      })
    ),
    TE.map(({ text, image, joint, none, relation, scores }) => {
      out.set('text_embeds', text.text_embeds)
      out.set('vision_embeds.image', image.vision_embeds)
      out.set('vision_embeds.joint', joint.vision_embeds)
      out.set('vision_embeds.none', none.vision_embeds)
      out.set('itc_image', image.itc_image)
      out.set('itc_text', text.itc_text)
      out.set('score_global', scores.score_global)
      out.set('score_local', scores.score_local)
      out.set('fusion_embeds', relation.fusion_embeds)
      out.set('itm_logits', relation.itm_logits)
      if (relation.vqa_logits !== undefined) out.set('vqa_logits', relation.vqa_logits)
      keepOutputs(out, 'image', image)
      keepOutputs(out, 'joint', joint)
      return out
    })
  )
}
