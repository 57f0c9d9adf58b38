/**
 * Image loading and preprocessing (spec section 8) with sharp.
 * @since 0.1.0
 */
export { IMAGE_MEAN, IMAGE_STD, decodeRgb, loadImage, normalizeRgb, type ImageSource, type LoadImageOptions } from './preprocess.js'
export {
  IMAGE_EXTENSIONS, listImages, loadImages, mapLimit,
  type LoadedImages, type LoadImagesOptions, type OnImageError, type SkippedImage
} from './batch.js'
