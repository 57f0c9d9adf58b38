/**
 * Retrieval annotation files: ALBEF's (`[{image, caption: [..]}]`, as its
 * `coco_test.json` / `flickr30k_test.json`) and Karpathy's `dataset_*.json` (`{images:
 * [{filepath?, filename, split, sentences: [{raw}]}]}`), both read into one shape:
 * images, texts, and which texts belong to which image.
 * @since 0.1.0
 */
import * as E from 'fp-ts/lib/Either.js'
import { pipe } from 'fp-ts/lib/function.js'
import * as t from 'io-ts'
import type { CmgaError } from '../../compiler/errors.js'
import { fail } from '../../compiler/errors.js'
import { readJson } from './files.js'

// -------------------------------------------------------------------------------------
// model
// -------------------------------------------------------------------------------------

/** A retrieval test set. */
export interface Annotations {
  readonly format: 'albef' | 'karpathy'
  /** Image paths, relative to the images root. */
  readonly images: readonly string[]
  /** Every caption, in file order. */
  readonly texts: readonly string[]
  /** For each text, its image. */
  readonly textImage: readonly number[]
  /** For each image, its texts. */
  readonly imageTexts: readonly (readonly number[])[]
}

const AlbefEntry = t.type({ image: t.string, caption: t.union([t.string, t.array(t.string)]) })
const Albef = t.array(AlbefEntry)
const KarpathyImage = t.intersection([
  t.type({ filename: t.string, split: t.string, sentences: t.array(t.type({ raw: t.string })) }),
  t.partial({ filepath: t.string })
])
const Karpathy = t.type({ images: t.array(KarpathyImage) })

const shapes =
  "expected ALBEF's retrieval format (a list of {image, caption: [...]}) or Karpathy's dataset_*.json ({images: [{filename, split, sentences: [{raw}]}]})"

// -------------------------------------------------------------------------------------
// decoding
// -------------------------------------------------------------------------------------

/** Where the first decoding error is, as `[3].caption` or `images[5].sentences`. */
const where = (errs: t.Errors): string => {
  const ctx = errs[0].context
  const parts: string[] = []
  for (let i = 1; i < ctx.length; i++) {
    const parent = (ctx[i - 1].type as { readonly _tag?: string })._tag
    if (parent === 'UnionType' || parent === 'IntersectionType') continue // member index, not a path
    const k = ctx[i].key
    parts.push(/^\d+$/.test(k) ? `[${k}]` : `.${k}`)
  }
  return parts.join('').replace(/^\./, '') || 'the top level'
}

const fromEntries = (format: Annotations['format'], entries: readonly { image: string; captions: readonly string[] }[]): Annotations => {
  const texts: string[] = []
  const textImage: number[] = []
  const imageTexts = entries.map((e, i) =>
    e.captions.map((c) => {
      texts.push(c)
      textImage.push(i)
      return texts.length - 1
    })
  )
  return { format, images: entries.map((e) => e.image), texts, textImage, imageTexts }
}

/**
 * Reads annotations from parsed JSON (`source` names the file in messages). `split`
 * picks Karpathy images (ALBEF files hold one split and have none).
 */
export const decodeAnnotations = (json: unknown, source: string, split: string): E.Either<CmgaError, Annotations> => {
  let a: Annotations
  if (Array.isArray(json)) {
    const r = Albef.decode(json)
    if (E.isLeft(r)) return fail('format', `${source}: not retrieval annotations: ${where(r.left)} is wrong or missing; ${shapes}`)
    a = fromEntries('albef', r.right.map((e) => ({ image: e.image, captions: typeof e.caption === 'string' ? [e.caption] : e.caption })))
  } else if (typeof json === 'object' && json !== null && 'images' in json) {
    const r = Karpathy.decode(json)
    if (E.isLeft(r)) return fail('format', `${source}: not retrieval annotations: ${where(r.left)} is wrong or missing; ${shapes}`)
    const chosen = r.right.images.filter((im) => im.split === split)
    if (chosen.length === 0) {
      const splits = [...new Set(r.right.images.map((im) => im.split))].sort()
      return fail('input', `${source}: no image has split "${split}" (splits here: ${splits.join(', ') || 'none'})`)
    }
    a = fromEntries('karpathy', chosen.map((im) => ({ image: im.filepath === undefined || im.filepath === '' ? im.filename : `${im.filepath}/${im.filename}`, captions: im.sentences.map((s) => s.raw) })))
  } else {
    return fail('format', `${source}: not retrieval annotations; ${shapes}`)
  }
  if (a.images.length === 0) return fail('input', `${source}: no images`)
  if (a.texts.length === 0) return fail('input', `${source}: no captions`)
  return E.right(a)
}

/** Reads an annotation file. */
export const readAnnotations = (path: string, split: string): E.Either<CmgaError, Annotations> =>
  pipe(readJson(path, 'annotations'), E.chain((j) => decodeAnnotations(j, path, split)))
