/**
 * Reading and writing safetensors files (our own implementation, no dependency).
 * @since 0.1.0
 */
export { MAX_HEADER_BYTES, parseSafetensors, readSafetensors, type SafetensorsFile } from './read.js'
export { encodeSafetensors, writeSafetensorsAtomic } from './write.js'
