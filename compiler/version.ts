/**
 * The compiler's version, read once from package.json (`0.0.0` if it cannot be read):
 * the manifest's `compiler.version` and every ONNX file's `producer_version`.
 * @since 0.1.0
 */
import { readFileSync } from 'node:fs'

let cached: string | undefined

/** The package version (e.g. `0.1.0`). */
export const compilerVersion = (): string => {
  if (cached === undefined) {
    try {
      cached = String(JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')).version)
    } catch {
      cached = '0.0.0'
    }
  }
  return cached
}
