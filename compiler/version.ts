/**
 * The compiler's version, read once from package.json.
 * @since 0.1.0
 */
import { readFileSync } from 'node:fs'

let cached: string | undefined

/** The package version (e.g. `0.1.0`). */
export const compilerVersion = (): string => {
  if (cached === undefined) {
    cached = String(JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')).version)
  }
  return cached
}
