#!/usr/bin/env node
// The `cmga` executable: runs the TypeScript CLI through tsx's loader.
//
// onnxruntime-node crashes (SIGSEGV in its one-time initialisation) in a process whose
// command line is longer than about 30 KB (a 10 000-word --text, hundreds of --image
// paths). So a long command line is handed to a child process through a private file:
// the child's own command line stays short, it reads the arguments back and deletes
// the file, and this process passes on its exit code and signals.
import { spawn } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

const LONG = 16 * 1024
const ARGS_FILE = 'CMGA_ARGS_FILE'

let args = process.argv.slice(2)
const handed = process.env[ARGS_FILE]
if (handed !== undefined) {
  args = JSON.parse(readFileSync(handed, 'utf8'))
  rmSync(join(handed, '..'), { recursive: true, force: true })
  delete process.env[ARGS_FILE]
}

if (handed === undefined && args.reduce((n, a) => n + Buffer.byteLength(a) + 1, 0) > LONG) {
  const dir = mkdtempSync(join(tmpdir(), 'cmga-args-'))
  const file = join(dir, 'args.json')
  writeFileSync(file, JSON.stringify(args), { mode: 0o600 })
  const child = spawn(process.execPath, [...process.execArgv, fileURLToPath(import.meta.url)], { stdio: 'inherit', env: { ...process.env, [ARGS_FILE]: file } })
  for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => child.kill(sig))
  child.on('exit', (code, signal) => {
    rmSync(dir, { recursive: true, force: true })
    if (signal !== null) process.kill(process.pid, signal)
    else process.exit(code ?? 1)
  })
} else {
  const { register } = await import('tsx/esm/api')
  register()
  const { main } = await import('../cli/main.ts')
  process.exitCode = await main(args)
}
