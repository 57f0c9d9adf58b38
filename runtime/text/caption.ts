/**
 * ALBEF's caption clean-up (`pre_caption` in its `dataset/utils.py`), applied to the
 * captions of retrieval annotation files before tokenization, as ALBEF does.
 * @since 0.1.0
 */

/**
 * Lower-cases, drops `,.'!?"()*#:;~`, turns `-` and `/` into spaces, `<person>` into
 * `person`, collapses runs of whitespace, trims, and keeps the first `maxWords` words.
 */
export const preCaption = (caption: string, maxWords: number): string => {
  const c = caption
    .toLowerCase()
    .replace(/[,.'!?"()*#:;~]/g, '')
    .replace(/-/g, ' ')
    .replace(/\//g, ' ')
    .replace(/<person>/g, 'person')
    .replace(/\s{2,}/g, ' ')
    .replace(/\n+$/, '')
    .replace(/^ +| +$/g, '')
  const words = c.split(' ')
  return words.length > maxWords ? words.slice(0, maxWords).join(' ') : c
}
