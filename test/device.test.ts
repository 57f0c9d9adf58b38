/** `--device`: onnxruntime execution providers, and a clear refusal when this install lacks the GPU ones. */
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import * as E from 'fp-ts/lib/Either.js'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { openRuntime } from '../apps/cmga/runtime.js'
import { loadModel } from '../runtime/model/model.js'
import { bindingFolder, deviceProblem, providersOf } from '../runtime/device.js'
import { cli, errorLine, tempDir } from './support/cli.js'
import { compileTinyModel } from './support/retrieval-data.js'

const root = tempDir('cmga-device-')
const model = compileTinyModel(join(root, 'model'))

test('each device asks onnxruntime for its provider with the CPU as the fallback', () => {
  assert.equal(providersOf('cpu'), ['cpu'])
  assert.equal(providersOf('cuda'), ['cuda', 'cpu'])
  assert.equal(providersOf('tensorrt'), ['tensorrt', 'cuda', 'cpu'])
})

test('the CPU always works; a GPU device needs its provider libraries beside the binding', () => {
  assert.is(deviceProblem('cpu'), null)
  const empty = tempDir('cmga-binding-')
  assert.match(deviceProblem('cuda', empty) ?? '', /no CUDA execution provider \(libonnxruntime_providers_shared\.so, libonnxruntime_providers_cuda\.so missing from/)
  assert.match(deviceProblem('tensorrt', empty) ?? '', /libonnxruntime_providers_tensorrt\.so/)
  // with the files there, the check passes (whether they load is onnxruntime's business)
  const full = tempDir('cmga-binding-')
  for (const f of ['libonnxruntime_providers_shared.so', 'libonnxruntime_providers_cuda.so']) writeFileSync(join(full, f), '')
  if (process.platform === 'linux') assert.is(deviceProblem('cuda', full), null)
  assert.match(deviceProblem('tensorrt', full) ?? '', /libonnxruntime_providers_tensorrt\.so missing/)
})

test('this install: a GPU device is refused before anything runs, with what is missing', async () => {
  const problem = deviceProblem('cuda')
  if (problem === null) {
    // an install with the CUDA provider (not this project's default): the demo must run on it
    const r = await cli('demo', '--device', 'cuda')
    assert.is(r.code, 0, errorLine(r))
    return
  }
  assert.ok(bindingFolder() !== null)
  const r = await cli('demo', '--device', 'cuda')
  assert.is(r.code, 2)
  assert.is(errorLine(r), `cmga: usage error: cmga demo: --device cuda: ${problem}`)
  assert.not.ok(r.stderr.some((l) => l.startsWith('compile [')), 'nothing compiled first')
  const inf = await cli('infer', '--model', model, '--inputs', 'none.safetensors', '--out', join(root, 'o.safetensors'), '--device', 'cuda')
  assert.is(inf.code, 2)
  assert.match(errorLine(inf), /--device cuda: this onnxruntime-node install has no CUDA execution provider/)
  const rt = openRuntime(model, { device: 'cuda', workers: 1 })
  assert.ok(E.isLeft(rt) && rt.left.kind === 'usage' && rt.left.message.includes('no CUDA execution provider'))
  const m = loadModel(model, { device: 'tensorrt' })
  assert.ok(E.isLeft(m) && m.left.message.includes('no TensorRT execution provider'))
})

test('a device name that is not one is a usage error naming the choices', async () => {
  for (const cmd of [['demo'], ['retrieve', '--model', model, '--index', root, '--query', 'x']]) {
    const r = await cli(...cmd, '--device', 'gpu')
    assert.is(r.code, 2)
    assert.match(errorLine(r), /--device must be one of cpu, cuda, tensorrt, got "gpu"/)
  }
})

test('--device cpu runs as before', async () => {
  const r = await cli('demo', '--device', 'cpu')
  assert.is(r.code, 0, errorLine(r))
  assert.ok([...r.stdout, ...r.stderr].some((l) => l.startsWith('compiled and ran')))
})

test.run()
