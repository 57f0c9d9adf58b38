/**
 * Decoded S x S images kept in memory, for loaders that read the same files again and
 * again (training, an epoch after another): the bytes `decodeRgb` made before any mirror,
 * up to a byte budget. It fills until the budget is spent and then keeps what it holds:
 * training visits images in a new random order every epoch, where no eviction order
 * would hit more often than keeping the first ones.
 * @since 0.1.0
 */

/** A budgeted store of decoded images, by key (path and how it was squared). */
export interface RgbCache {
  readonly get: (key: string) => Uint8Array | undefined
  /** Keeps `rgb` under `key` when the budget allows (else drops it); the caller must not change it afterwards. */
  readonly add: (key: string, rgb: Uint8Array) => void
  /** Bytes held, and images. */
  readonly held: () => { readonly bytes: number; readonly images: number }
}

/** An empty cache holding at most `maxBytes` of pixels (0: holds nothing). */
export const rgbCache = (maxBytes: number): RgbCache => {
  const store = new Map<string, Uint8Array>()
  let bytes = 0
  return {
    get: (key) => store.get(key),
    add: (key, rgb) => {
      if (store.has(key) || bytes + rgb.length > maxBytes) return
      store.set(key, rgb)
      bytes += rgb.length
    },
    held: () => ({ bytes, images: store.size })
  }
}
