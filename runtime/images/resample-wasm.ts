/**
 * The fast path of Pillow's resampling for interleaved RGB: the same two passes and
 * the same fixed-point weights as runtime/images/resample.ts, run by the WebAssembly
 * SIMD kernels of `wasm/resample-simd.wasm` (AssemblyScript source beside it). Exact
 * for the reason given in that source: every product and sum is an integer computed
 * without loss. This file lays out the module's memory: the weight tables in the
 * kernels' layouts, the input copied in chunks of rows that stay in cache while the
 * horizontal pass reads them, the intermediate image and the output.
 * @since 0.1.0
 */
import { readFileSync } from 'node:fs'
import type { Coefficients } from './resample.js'

// -------------------------------------------------------------------------------------
// module
// -------------------------------------------------------------------------------------

interface Kernels {
  readonly memory: WebAssembly.Memory
  readonly heapBase: () => number
  readonly horizontalRgb: (src: number, srcStride: number, rows: number, dst: number, dstStride: number, outWidth: number, starts: number, weights: number, groups: number) => void
  readonly vertical: (src: number, stride: number, dst: number, rowBytes: number, outHeight: number, firsts: number, counts: number, weights: number, taps: number) => void
}

let kernels: Kernels | null | undefined

/**
 * The compiled kernels, or null where this engine lacks WebAssembly SIMD (the module
 * does not validate). A missing or unreadable file is an error, not a fallback.
 */
export const simdKernels = (): Kernels | null => {
  if (kernels === undefined) {
    const bytes = readFileSync(new URL('wasm/resample-simd.wasm', import.meta.url))
    kernels = WebAssembly.validate(bytes) ? (new WebAssembly.Instance(new WebAssembly.Module(bytes)).exports as unknown as Kernels) : null
  }
  return kernels
}

// -------------------------------------------------------------------------------------
// weight tables
// -------------------------------------------------------------------------------------

/** Bytes read or written past a buffer's end by the kernels (see the source), rounded up. */
const PAD = 64

/**
 * For each vector of an 8-tap group (v0, v1, v2), the first tap of the pair each of its
 * four i32 lanes sums (see the kernel's lane layout).
 */
const PAIRS = [0, 0, 0, 2, 2, 2, 4, 4, 4, 6, 6, 6] as const

/** Bytes of one 8-tap group of weights: hi and lo vectors for v0, v1, v2. */
const GROUP_BYTES = 96

/** Weights whose hi part (w >> 11) fits an i16: |w| < 2^26, a normalized weight under 16. */
const splits = (c: Coefficients): boolean => c.weights.every((w) => w >= -(1 << 26) && w < 1 << 26)

/** Writes the horizontal pass's tables: byte offsets of the first taps, and the split weights. */
const writeHorizontal = (heap: ArrayBuffer, starts: number, weights: number, c: Coefficients, groups: number): void => {
  const outWidth = c.first.length
  const first = new Int32Array(heap, starts, outWidth)
  for (let i = 0; i < outWidth; i++) first[i] = 3 * c.first[i]
  const w16 = new Int16Array(heap, weights, (outWidth * groups * GROUP_BYTES) / 2)
  let o = 0
  for (let i = 0; i < outWidth; i++) {
    const row = i * c.taps
    const n = c.count[i]
    for (let g = 0; g < groups; g++) {
      for (let v = 0; v < 3; v++) {
        for (let lo = 0; lo < 2; lo++) {
          for (let lane = 0; lane < 4; lane++) {
            for (let k = 8 * g + PAIRS[4 * v + lane], end = k + 2; k < end; k++) {
              const w = k < n ? c.weights[row + k] : 0
              w16[o++] = lo === 1 ? w & 2047 : w >> 11
            }
          }
        }
      }
    }
  }
}

// -------------------------------------------------------------------------------------
// memory
// -------------------------------------------------------------------------------------

/** Largest linear memory the fast path lays out; larger resizes take the scalar path. */
const MAX_BYTES = 1 << 30

/** Input bytes copied into the module per horizontal call: small enough to stay in L2. */
const CHUNK_BYTES = 1 << 17

const align = (n: number): number => Math.ceil(n / 16) * 16

/** Lays buffers one after another from `base`, each 16-byte aligned. */
const layout = (base: number, sizes: readonly number[]): { readonly at: number[]; readonly end: number } => {
  const at: number[] = []
  let p = align(base)
  for (const s of sizes) {
    at.push(p)
    p = align(p + s + PAD)
  }
  return { at, end: p }
}

// -------------------------------------------------------------------------------------
// resizing
// -------------------------------------------------------------------------------------

/**
 * Interleaved RGB `width` x `height` resampled with the weights `cx` along x and `cy`
 * along y (null: that pass is skipped, as Pillow skips it), in the order and with the
 * row trimming of the scalar path. Returns undefined (the caller takes the scalar path)
 * when the buffers would pass 1 GiB, or when a weight is too large to split (none of
 * Pillow's filters makes one). The module's memory grows to the largest resize seen
 * and is reused.
 */
export const resampleRgbSimd = (k: Kernels, src: Uint8Array, width: number, height: number, cx: Coefficients | null, cy: Coefficients | null): Uint8Array | undefined => {
  const rowIn = width * 3
  const outWidth = cx === null ? width : cx.first.length
  const outHeight = cy === null ? height : cy.first.length
  const rowOut = outWidth * 3
  const y0 = cy === null ? 0 : cy.first[0]
  const y1 = cy === null ? height : cy.first[outHeight - 1] + cy.count[outHeight - 1]
  const groups = cx === null ? 0 : Math.ceil(cx.taps / 8)
  const chunkRows = Math.max(1, Math.floor(CHUNK_BYTES / rowIn))
  const needTemp = cx !== null && cy !== null
  const mem = layout(k.heapBase(), [
    cx === null ? 0 : outWidth * 4, // starts
    outWidth * groups * GROUP_BYTES, // horizontal weights
    outHeight * 4, // firsts
    outHeight * 4, // counts
    cy === null ? 0 : outHeight * cy.taps * 4, // vertical weights
    cx === null ? 0 : Math.min(chunkRows, y1 - y0) * rowIn, // input chunk
    needTemp ? (y1 - y0) * rowOut : cx === null ? (y1 - y0) * rowIn : 0, // intermediate (or input rows for y only)
    outHeight * rowOut // output
  ])
  if (mem.end > MAX_BYTES || (cx !== null && !splits(cx))) return undefined
  const [starts, wx, firsts, counts, wy, chunk, temp, out] = mem.at
  const have = k.memory.buffer.byteLength
  if (mem.end > have) {
    try {
      k.memory.grow(Math.ceil((mem.end - have) / 65536))
    } catch {
      return undefined // the engine would not give the memory: the scalar path needs less
    }
  }
  const heap = k.memory.buffer
  const bytes = new Uint8Array(heap)
  if (cx !== null) writeHorizontal(heap, starts, wx, cx, groups)
  if (cy !== null) {
    new Int32Array(heap, firsts, outHeight).set(cy.first.map((f) => f - y0))
    new Int32Array(heap, counts, outHeight).set(cy.count)
    new Int32Array(heap, wy, outHeight * cy.taps).set(cy.weights)
  }
  const across = cy === null ? out : temp
  if (cx !== null) {
    for (let y = y0; y < y1; y += chunkRows) {
      const n = Math.min(chunkRows, y1 - y)
      bytes.set(src.subarray(y * rowIn, (y + n) * rowIn), chunk)
      k.horizontalRgb(chunk, rowIn, n, across + (y - y0) * rowOut, rowOut, outWidth, starts, wx, groups)
    }
  } else {
    bytes.set(src.subarray(y0 * rowIn, y1 * rowIn), temp)
  }
  if (cy !== null) k.vertical(temp, rowOut, out, rowOut, outHeight, firsts, counts, wy, cy.taps)
  return bytes.slice(out, out + outHeight * rowOut)
}
