/**
 * The ONNX checker as a test helper: runs the Python `onnx` package on a model file.
 * @since 0.1.0
 */
import { execFileSync, spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'

/**
 * `onnx.checker.check_model(path, full_check=True)`, except that the shape-inference
 * half writes its result to a temp file: onnx 1.12's `full_check` on a path rewrites the
 * model file in place with inferred shapes.
 */
const SCRIPT = `
import os, sys, tempfile
import onnx
from onnx import checker, shape_inference
fd, out = tempfile.mkstemp(suffix='.onnx')
os.close(fd)
try:
    for path in sys.argv[1:]:
        try:
            checker.check_model(path)
            shape_inference.infer_shapes_path(path, out, check_type=True, strict_mode=True)
        except Exception as e:
            sys.exit(f'{path}: {e}')
finally:
    os.remove(out)
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
