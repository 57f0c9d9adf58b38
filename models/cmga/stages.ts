/**
 * The stages of a compiled CMGA model directory: the names and dtypes of what each
 * stage graph takes and gives (`graphs.ts` builds them; the deployment split adds the
 * two prefix-cache stages). One value, read by the runtime API as its stage contract.
 * Every stage also gives `keep.<layer>` (int64) and `guide.<layer>` (float32) per
 * compression layer where its vision encoder compresses.
 * @since 0.1.0
 */

/** @since 0.1.0 */
export const cmgaStages = {
  text: {
    inputs: { input_ids: 'int64', attention_mask: 'int64' },
    outputs: { text_embeds: 'float32', text_cls: 'float32', itc_text: 'float32', text_tokens: 'float32' }
  },
  vision_image: {
    inputs: { pixels: 'float32' },
    outputs: { vision_embeds: 'float32', itc_image: 'float32', image_tokens: 'float32' }
  },
  vision_joint: {
    inputs: { pixels: 'float32', text_cls: 'float32' },
    outputs: { vision_embeds: 'float32' }
  },
  vision_none: {
    inputs: { pixels: 'float32' },
    outputs: { vision_embeds: 'float32', itc_image: 'float32', image_tokens: 'float32' }
  },
  relation: {
    inputs: { text_embeds: 'float32', attention_mask: 'int64', vision_embeds: 'float32' },
    outputs: { fusion_embeds: 'float32', itm_logits: 'float32' },
    /** With a `vqa` section in the config. */
    optionalOutputs: { vqa_logits: 'float32' }
  },
  scores: {
    inputs: { itc_image: 'float32', image_tokens: 'float32', itc_text: 'float32', text_tokens: 'float32', attention_mask: 'int64' },
    outputs: { score_global: 'float32', score_local: 'float32' }
  },
  /** `vision_joint` up to its text-independent value (absent when it does not use the text). */
  vision_prefix: {
    inputs: { pixels: 'float32' },
    outputs: { vision_prefix: 'float32' },
    optional: true
  },
  /** The rest of `vision_joint`, from that value and `text_cls`. */
  vision_joint_suffix: {
    inputs: { vision_prefix: 'float32', text_cls: 'float32' },
    outputs: { vision_embeds: 'float32' },
    optional: true
  }
} as const

/** A stage of a compiled model directory. */
export type CmgaStage = keyof typeof cmgaStages

/** The stages built directly from the spec's graphs, in the order `cmga compile` writes them. */
export const graphStages = ['text', 'vision_image', 'vision_joint', 'vision_none', 'relation', 'scores'] as const satisfies readonly CmgaStage[]

/** The value `vision_prefix` gives and `vision_joint_suffix` takes. */
export const prefixValue = 'vision_prefix' satisfies keyof (typeof cmgaStages)['vision_prefix']['outputs']
