/**
 * Writing the picture and its JSON all or nothing (the shared atomic writer).
 * @since 0.1.0
 */
export { writeFilesAtomic } from '../../compiler/atomic.js'
