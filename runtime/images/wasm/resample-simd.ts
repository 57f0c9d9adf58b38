/**
 * AssemblyScript source of `resample-simd.wasm`: the two passes of Pillow's 8-bit
 * resampling (runtime/images/resample.ts) over interleaved RGB, with WebAssembly SIMD.
 * Built by `npm run build:wasm`; test/resample-wasm.test.ts rebuilds it and checks the
 * bytes against the committed file. runtime/images/resample-wasm.ts lays out the memory
 * and the weight tables.
 *
 * Exactness: Pillow sums `pixel * weight` in a 32-bit int from 1 << 21, then shifts
 * and clips. Everything here is 32-bit integer arithmetic too, that is arithmetic
 * modulo 2^32, where the order of the additions cannot change a sum (and with
 * normalized weights the sums lie well within +-2^31 anyway). A weight w is split as
 * `w = hi * 2^11 + lo` with `lo = w & 2047` and `hi = w >> 11`; both fit in an i16 (the
 * caller checks |w| < 2^26), so `i32x4.dot_i16x8_s` multiplies u8 pixels by them
 * exactly, and `(sum of pixel * hi) << 11 + (sum of pixel * lo)` equals the sum of
 * `pixel * w` modulo 2^32: Pillow's 32-bit sum, bit for bit.
 */

// -------------------------------------------------------------------------------------
// memory
// -------------------------------------------------------------------------------------

/** The first byte after the module's own data: where the caller may lay its buffers. */
export function heapBase(): usize {
  return __heap_base
}

// -------------------------------------------------------------------------------------
// horizontal pass
// -------------------------------------------------------------------------------------

// Eight taps of RGB (24 bytes from p) as three i16x8 vectors of tap pairs, read with
// three 16-byte loads (at p, p + 7, p + 14) and a byte swizzle each; index 0x80 gives
// a zero high byte. The i32 lanes after the dot product hold the channels
//   v0: R G B R   v1: G B R G   v2: B R G B
// (taps 0-1, 0-1, 0-1, 2-3 | 2-3, 2-3, 4-5, 4-5 | 4-5, 6-7, 6-7, 6-7).
const Z: i8 = -128

/**
 * Resamples `rows` rows of interleaved RGB along x. Output pixel i reads 8 x `groups`
 * taps from byte `load<i32>(starts + 4 i)` of the row, weighted by the six vectors of
 * each group at `weights + 96 (i groups + g)` (hi and lo for v0, v1, v2; zero past the
 * pixel's last tap). Up to 32 bytes past the last tap are read, so the caller pads the
 * rows; each output pixel is stored as 4 bytes, the fourth overwritten by the next
 * pixel, so the caller pads the output by one byte.
 */
export function horizontalRgb(src: usize, srcStride: i32, rows: i32, dst: usize, dstStride: i32, outWidth: i32, starts: usize, weights: usize, groups: i32): void {
  const m0 = i8x16(0, Z, 3, Z, 1, Z, 4, Z, 2, Z, 5, Z, 6, Z, 9, Z)
  const m1 = i8x16(0, Z, 3, Z, 1, Z, 4, Z, 5, Z, 8, Z, 6, Z, 9, Z)
  const m2 = i8x16(0, Z, 3, Z, 4, Z, 7, Z, 5, Z, 8, Z, 6, Z, 9, Z)
  const half = i32x4.splat(1 << 21)
  for (let y = 0; y < rows; y++) {
    const row = src + <usize>(y * srcStride)
    const out = dst + <usize>(y * dstStride)
    let w = weights
    for (let i = 0; i < outWidth; i++) {
      let p = row + <usize>load<i32>(starts + (<usize>i << 2))
      let h0 = i32x4.splat(0), l0 = i32x4.splat(0)
      let h1 = i32x4.splat(0), l1 = i32x4.splat(0)
      let h2 = i32x4.splat(0), l2 = i32x4.splat(0)
      for (let g = 0; g < groups; g++) {
        const v0 = i8x16.swizzle(v128.load(p), m0)
        const v1 = i8x16.swizzle(v128.load(p, 7), m1)
        const v2 = i8x16.swizzle(v128.load(p, 14), m2)
        h0 = i32x4.add(h0, i32x4.dot_i16x8_s(v0, v128.load(w)))
        l0 = i32x4.add(l0, i32x4.dot_i16x8_s(v0, v128.load(w, 16)))
        h1 = i32x4.add(h1, i32x4.dot_i16x8_s(v1, v128.load(w, 32)))
        l1 = i32x4.add(l1, i32x4.dot_i16x8_s(v1, v128.load(w, 48)))
        h2 = i32x4.add(h2, i32x4.dot_i16x8_s(v2, v128.load(w, 64)))
        l2 = i32x4.add(l2, i32x4.dot_i16x8_s(v2, v128.load(w, 80)))
        p += 24
        w += 96
      }
      const a = i32x4.add(i32x4.shl(h0, 11), l0)
      const b = i32x4.add(i32x4.shl(h1, 11), l1)
      const c = i32x4.add(i32x4.shl(h2, 11), l2)
      // R G B _ = (a0 a1 a2) + (a3 b0 b1) + (b2 b3 c0) + (c1 c2 c3)
      let s = i32x4.add(a, i32x4.shuffle(a, b, 3, 4, 5, 5))
      s = i32x4.add(s, i32x4.shuffle(b, c, 2, 3, 4, 4))
      s = i32x4.add(s, i32x4.shuffle(c, c, 1, 2, 3, 3))
      v128.store32_lane(out + <usize>(i * 3), clip8(i32x4.add(s, half)), 0)
    }
  }
}

/** Four sums of 22-bit fixed point to bytes: shift, then clip to 0..255 (saturating narrows). */
// @ts-ignore: decorator
@inline function clip8(s: v128): v128 {
  const n = i16x8.narrow_i32x4_s(i32x4.shr_s(s, 22), i32x4.splat(0))
  return i8x16.narrow_i16x8_u(n, n)
}

// -------------------------------------------------------------------------------------
// vertical pass
// -------------------------------------------------------------------------------------

/**
 * Resamples along y: output row j (`rowBytes` bytes) weighs `load<i32>(counts + 4 j)`
 * rows of `src` (`stride` apart) from row `load<i32>(firsts + 4 j)` by the 32-bit
 * weights at `weights + 4 (j taps)`. Works in 16-byte strips, so up to 15 bytes past a
 * row are read and written: rows are written in order (a row's spill is overwritten by
 * the next one) and the caller pads both buffers by 16 bytes.
 */
export function vertical(src: usize, stride: i32, dst: usize, rowBytes: i32, outHeight: i32, firsts: usize, counts: usize, weights: usize, taps: i32): void {
  const half = i32x4.splat(1 << 21)
  for (let j = 0; j < outHeight; j++) {
    const top = src + <usize>(load<i32>(firsts + (<usize>j << 2)) * stride)
    const n = load<i32>(counts + (<usize>j << 2))
    const wj = weights + (<usize>(j * taps) << 2)
    const out = dst + <usize>(j * rowBytes)
    for (let x = 0; x < rowBytes; x += 16) {
      let a0 = half, a1 = half, a2 = half, a3 = half
      let p = top + <usize>x
      for (let t = 0; t < n; t++) {
        const w = v128.load32_splat(wj + (<usize>t << 2))
        const v = v128.load(p)
        const lo = i16x8.extend_low_i8x16_u(v)
        const hi = i16x8.extend_high_i8x16_u(v)
        a0 = i32x4.add(a0, i32x4.mul(i32x4.extend_low_i16x8_u(lo), w))
        a1 = i32x4.add(a1, i32x4.mul(i32x4.extend_high_i16x8_u(lo), w))
        a2 = i32x4.add(a2, i32x4.mul(i32x4.extend_low_i16x8_u(hi), w))
        a3 = i32x4.add(a3, i32x4.mul(i32x4.extend_high_i16x8_u(hi), w))
        p += <usize>stride
      }
      const b0 = i16x8.narrow_i32x4_s(i32x4.shr_s(a0, 22), i32x4.shr_s(a1, 22))
      const b1 = i16x8.narrow_i32x4_s(i32x4.shr_s(a2, 22), i32x4.shr_s(a3, 22))
      v128.store(out + <usize>x, i8x16.narrow_i16x8_u(b0, b1))
    }
  }
}
