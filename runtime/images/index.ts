/**
 * Image loading and preprocessing (spec section 8), bit-identical to Pillow: decoding
 * (libvips through sharp, our BMP reader), PIL's mode conversions, Pillow's resampling.
 * @since 0.1.0
 */
export { IMAGE_MEAN, IMAGE_STD, decodeRgb, loadImage, normalizeRgb, type ImageSource, type LoadImageOptions } from './preprocess.js'
export {
  IMAGE_EXTENSIONS, listImagePaths, listImages, loadImages, mapLimit,
  type LoadedImages, type LoadImagesOptions, type OnImageError, type SkippedImage
} from './batch.js'
export { DECODED_EXTENSIONS, decodeImage } from './decode.js'
export { toRgb, type RawImage, type RgbImage, type SampleSpace } from './convert.js'
export { RESAMPLE_FILTERS, coefficients, resample, resampleKernel, type Coefficients, type ResampleFilter, type ResampleKernel } from './resample.js'
export { squareRgb, type SquareOptions } from './square.js'
export { rgbCache, type RgbCache } from './rgb-cache.js'
