// Worker-thread entry of the engine pool. The CLI and the tests run TypeScript through
// tsx, and a worker does not inherit the main thread's loader: register it here, then
// load the TypeScript worker.
import { register } from 'tsx/esm/api'

register()
await import('./worker-main.ts')
