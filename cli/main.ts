/**
 * The `cmga` command line: dispatches to a command, prints one clear message on error
 * and exits non-zero (1 for failures, 2 for bad usage).
 * @since 0.1.0
 */
import * as E from 'fp-ts/lib/Either.js'
import { formatError } from '../compiler/errors.js'
import { compilerVersion } from '../compiler/version.js'
import type { Command } from './command.js'
import { parseFlags } from './command.js'
import { compileCommand } from './commands/compile.js'
import { dataShapesCommand } from './commands/data.js'
import { demoCommand } from './commands/demo.js'
import { evalContrastsCommand } from './commands/eval-contrasts.js'
import { evalRetrievalCommand } from './commands/eval-retrieval.js'
import { indexMergeCommand } from './commands/index-merge.js'
import { explainCommand } from './commands/explain.js'
import { gradCommand } from './commands/grad.js'
import { trainCommand } from './commands/train.js'
import { reproduceCommand } from './commands/reproduce.js'
import { indexCommand } from './commands/index-gallery.js'
import { inferCommand } from './commands/infer.js'
import { retrieveCommand } from './commands/retrieve.js'
import { matchCommand } from './commands/match.js'
import { vqaCommand } from './commands/vqa.js'
import { inspectCommand } from './commands/inspect.js'
import { sampleInputsCommand } from './commands/sample-inputs.js'
import { preprocessCommand } from './commands/preprocess.js'

/** Every command, in help order. */
export const commands: readonly Command[] = [demoCommand, compileCommand, inferCommand, sampleInputsCommand, preprocessCommand, inspectCommand, explainCommand, indexCommand, indexMergeCommand, retrieveCommand, matchCommand, vqaCommand, evalRetrievalCommand, evalContrastsCommand, gradCommand, trainCommand, reproduceCommand, dataShapesCommand]

/** What the first word of a two-word command asks for, when the second is missing. */
const FAMILY: Readonly<Record<string, string>> = { eval: 'evaluation', data: 'data set' }

const usage = (): string =>
  [
    `cmga ${compilerVersion()}: compiler and runtime for CMGA vision-language models`,
    '',
    'Usage: cmga COMMAND [flags]     (cmga COMMAND --help for its flags)',
    '',
    'Commands:',
    ...commands.map((c) => `  ${c.name.padEnd(14)} ${c.summary}`),
    '',
    '  --version  print the version',
    '  --help     this text'
  ].join('\n')

/** Runs the CLI on argv (without node and script), returning the exit code. */
export const main = async (argv: readonly string[], out: (s: string) => void = (s) => process.stdout.write(s + '\n'), err: (s: string) => void = (s) => process.stderr.write(s + '\n')): Promise<number> => {
  const [name, ...rest] = argv
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    out(usage())
    return name === undefined ? 2 : 0
  }
  if (name === '--version' || name === '-v') {
    out(compilerVersion())
    return 0
  }
  // Two-word commands (`eval retrieval`) take their second word from the arguments.
  const two = rest.length > 0 ? commands.find((c) => c.name === `${name} ${rest[0]}`) : undefined
  if (two !== undefined) rest.shift()
  const cmd = two ?? commands.find((c) => c.name === name)
  const family = commands.filter((c) => c.name.startsWith(`${name} `))
  if (cmd === undefined && family.length > 0) {
    const which = `cmga ${name}: which ${FAMILY[name] ?? 'one'}? (${family.map((c) => `cmga ${c.name}`).join(', ')})`
    if (rest[0] === '--help' || rest[0] === '-h') {
      out(which)
      return 0
    }
    err(which)
    return 2
  }
  if (cmd === undefined) {
    err(`cmga: unknown command "${name}" (commands: ${commands.map((c) => c.name).join(', ')}; see cmga --help)`)
    return 2
  }
  const values = parseFlags(cmd, rest)
  if (E.isLeft(values)) {
    err(`cmga: ${formatError(values.left)}`)
    return 2
  }
  if (values.right.help === true) {
    out(cmd.help)
    return 0
  }
  const r = await cmd.run(values.right, (line) => err(line))
  if (E.isLeft(r)) {
    err(`cmga: ${formatError(r.left)}`)
    return r.left.kind === 'usage' ? 2 : 1
  }
  return 0
}
