// Worker-thread entry of the training data pipeline. A worker does not inherit the main
// thread's tsx loader: register it here, then load the TypeScript worker.
import { register } from 'tsx/esm/api'

register()
await import('./data-worker-main.ts')
