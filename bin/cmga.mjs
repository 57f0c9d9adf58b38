#!/usr/bin/env node
// The `cmga` executable: runs the TypeScript CLI through tsx's loader.
import { register } from 'tsx/esm/api'

register()
const { main } = await import('../cli/main.ts')
process.exitCode = await main(process.argv.slice(2))
