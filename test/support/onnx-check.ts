/**
 * The ONNX checker as a test helper: runs the Python `onnx` package on a model file.
 * @since 0.1.0
 */
import { execFileSync, spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'

/**
 * `onnx.checker.check_model(model, full_check=True)` on each loaded model: the checker
 * plus strict shape and type inference. (Given a model object rather than a path, onnx
 * 1.12 does not rewrite the file.)
 */
const SCRIPT = `
import sys
import onnx
for path in sys.argv[1:]:
    try:
        onnx.checker.check_model(onnx.load(path), full_check=True)
    except Exception as e:
        sys.exit(f'{path}: {e}')
`

let python: string | undefined

/** `/usr/bin/python3` when it has `onnx`, otherwise `python3` on PATH. */
const pythonWithOnnx = (): string => {
  if (python === undefined) {
    const system = '/usr/bin/python3'
    const ok = existsSync(system) && spawnSync(system, ['-c', 'import onnx'], { stdio: 'ignore' }).status === 0
    python = ok ? system : 'python3'
  }
  return python
}

/** Runs the full ONNX checker on model files in one Python process; throws with the checker's stderr on failure. */
export const checkModels = (paths: readonly string[]): void => {
  if (paths.length === 0) return
  try {
    execFileSync(pythonWithOnnx(), ['-c', SCRIPT, ...paths], { stdio: ['ignore', 'pipe', 'pipe'] })
  } catch (e) {
    const stderr = (e as { stderr?: Buffer }).stderr?.toString() ?? ''
    throw new Error(`onnx checker rejected a model:\n${stderr || (e as Error).message}`)
  }
}

/** Runs the full ONNX checker on a model file; throws with the checker's stderr on failure. */
export const checkModel = (path: string): void => checkModels([path])
