/**
 * Where onnxruntime runs a model: the CPU (always), or NVIDIA GPUs through onnxruntime's
 * CUDA or TensorRT execution providers when this onnxruntime-node install has them.
 * onnxruntime-node bundles only the CPU provider; its install script downloads the CUDA
 * and TensorRT provider libraries on Linux x64, which this project's `.npmrc` skips
 * (`onnxruntime-node-install=skip`), so a GPU device is checked up front and refused
 * with what is missing rather than failing inside onnxruntime.
 * @since 0.1.0
 */
import { existsSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import * as ort from 'onnxruntime-node'

/** A device a model can run on. */
export type Device = 'cpu' | 'cuda' | 'tensorrt'

/** Every device, for flags and help. */
export const DEVICES: readonly Device[] = ['cpu', 'cuda', 'tensorrt']

/** The execution providers a device asks onnxruntime for, in order of preference (the CPU takes what the others cannot run). */
export const providersOf = (device: Device): readonly string[] =>
  device === 'cpu' ? ['cpu'] : device === 'cuda' ? ['cuda', 'cpu'] : ['tensorrt', 'cuda', 'cpu']

/** The folder onnxruntime-node loads its native binding (and provider libraries) from. */
export const bindingFolder = (): string | null => {
  try {
    const pkg = createRequire(import.meta.url).resolve('onnxruntime-node/package.json')
    return join(dirname(pkg), 'bin', 'napi-v6', process.platform, process.arch)
  } catch {
    return null
  }
}

/** The provider library files a device needs beside the binding. */
const libraries = (device: Exclude<Device, 'cpu'>): readonly string[] => {
  const file = (name: string): string => (process.platform === 'win32' ? `${name}.dll` : `lib${name}.so`)
  const own = device === 'cuda' ? ['onnxruntime_providers_cuda'] : ['onnxruntime_providers_tensorrt', 'onnxruntime_providers_cuda']
  return ['onnxruntime_providers_shared', ...own].map(file)
}

/** Why this onnxruntime-node install cannot run models on `device`, or null when it can. */
export const deviceProblem = (device: Device, folder: string | null = bindingFolder()): string | null => {
  if (device === 'cpu') return null
  const listed = ort.listSupportedBackends().find((b) => b.name === device)
  if (listed === undefined) return `this onnxruntime-node build (${process.platform}/${process.arch}) has no ${device} execution provider; use --device cpu`
  if (listed.bundled) return null
  const missing = folder === null ? libraries(device) : libraries(device).filter((f) => !existsSync(join(folder, f)))
  if (missing.length === 0) return null
  return (
    `this onnxruntime-node install has no ${device === 'cuda' ? 'CUDA' : 'TensorRT'} execution provider (${missing.join(', ')} missing from ${folder ?? 'its binary folder'}). ` +
    'onnxruntime-node downloads those libraries at install time, which this project skips (.npmrc: onnxruntime-node-install=skip); on a Linux x64 machine with CUDA 12 ' +
    `${device === 'tensorrt' ? 'and TensorRT 10 ' : ''}run \`npm rebuild onnxruntime-node --onnxruntime-node-install=cuda12\` with network access, or use --device cpu`
  )
}
