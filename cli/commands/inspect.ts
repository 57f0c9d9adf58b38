/**
 * `cmga inspect`: what a compiled model directory holds.
 * @since 0.1.0
 */
import * as E from 'fp-ts/lib/Either.js'
import type { ModelInfo, StageInfo } from '../../apps/cmga/inspect.js'
import { inspectModel } from '../../apps/cmga/inspect.js'
import { describeModel } from '../../runtime/model/fingerprint.js'
import type { Command } from '../command.js'
import { outputFlag, required } from '../command.js'
import { writeResult } from '../runtime-flags.js'
import { describeRanking } from '../rerank-flags.js'

const help = `Usage: cmga inspect --model DIR [--json] [--out FILE [--force]]

Prints what a model directory written by cmga compile holds: its identity (weights
source, quantization, fingerprint), the compiler that wrote it, the shared weights
file, and per stage graph its inputs and outputs (dtypes, shapes with named dims),
node count, operators (contrib ops as com.microsoft.Op), opsets and weights (inline or
in the shared file).

  --model DIR   a model directory
  --json        print JSON instead of text (also what --out writes)
  --out FILE    write the JSON there (atomically)
  --force       replace an existing --out file
  -h, --help    this text`

const MiB = (b: number): string => (b < 2 ** 20 ? `${(b / 1024).toFixed(1)} KiB` : `${(b / 2 ** 20).toFixed(1)} MiB`)

const values = (vs: StageInfo['inputs']): string => vs.map((v) => `${v.name} ${v.dtype}[${v.shape.join(',')}]`).join(', ')

/** The text form. */
export const describeInfo = (m: ModelInfo): string[] => [
  `model ${describeModel(m.identity)}`,
  `compiler ${m.compiler}; quantize ${m.quantize}${m.data === null ? '' : `; shared weights ${m.data.file} ${MiB(m.data.bytes)}`}`,
  ...(m.ranking === null
    ? []
    : [`ranking  cmga retrieve by default: ${describeRanking(m.ranking)}`]),
  ...Object.entries(m.stages).flatMap(([name, s]) => [
    '',
    `${name} (${s.file}, ${MiB(s.bytes)}, ${s.nodes} nodes; opsets ${Object.entries(s.opsets).map(([d, v]) => `${d} ${v}`).join(', ')})`,
    `  inputs   ${values(s.inputs)}`,
    `  outputs  ${values(s.outputs)}`,
    `  ops      ${Object.entries(s.ops).map(([op, n]) => `${op} ${n}`).join(', ')}`,
    `  weights  ${s.weights.inline} inline (${MiB(s.weights.inlineBytes)}), ${s.weights.external} in external data (${MiB(s.weights.externalBytes)})`
  ])
]

/** @since 0.1.0 */
export const inspectCommand: Command = {
  name: 'inspect',
  summary: 'show what a compiled model directory holds: stages, inputs, outputs, ops, weights',
  help,
  flags: { model: { type: 'string' }, json: { type: 'boolean' }, out: { type: 'string' }, force: { type: 'boolean' } },
  run: async (values, log) => {
    const dir = required('inspect', values, 'model')
    if (E.isLeft(dir)) return dir
    const out = outputFlag('inspect', values, 'out', 'file')
    if (E.isLeft(out)) return out
    const info = inspectModel(dir.right)
    if (E.isLeft(info)) return info
    if (values.json === true || typeof values.out === 'string') return writeResult(values, info.right, log)
    process.stdout.write(describeInfo(info.right).join('\n') + '\n')
    return E.right(undefined)
  }
}
