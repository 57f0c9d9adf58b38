/**
 * `npx tsx bench/store.ts [--sizes 10000,100000,1000000] [--tokens 196,16,0]`: the Lance
 * store on synthetic galleries (bench/synthetic.ts, no model): per size, build time
 * (writing, then the IVF-PQ index), disk size, single-query latency p50/p95 of stage 1's
 * global search (brute force in memory as the safetensors store does, LanceDB flat
 * exact, LanceDB IVF-PQ at several nprobes x refine factor) and recall@10 of ANN vs
 * exact; with token features, the latency of taking 128 candidates' tokens. Writes
 * bench/store-results.md (or --out FILE) after each size. `--partitions` sets the IVF
 * partitions per size (default round(sqrt(images))), `--settings "nprobes,refine;..."`
 * the ANN settings tried, and `--reuse` measures the galleries an earlier run left in
 * --dir (same sizes, tokens and seed) without building them again.
 * @since 0.2.0
 */
import { execFileSync } from 'node:child_process'
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { cpus } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import * as E from 'fp-ts/lib/Either.js'
import { connect, lanceWriter, openLanceStore } from '../apps/retrieval/store/lance.js'
import type { ImageStore, Search } from '../apps/retrieval/store/store.js'
import { bruteForce } from '../apps/retrieval/store/store.js'
import { loadAverages, machine } from './measure.js'
import { mixture } from './synthetic.js'

// -------------------------------------------------------------------------------------
// set-up
// -------------------------------------------------------------------------------------

const { values: flags } = parseArgs({
  options: {
    sizes: { type: 'string', default: '10000,100000,1000000' },
    tokens: { type: 'string', default: '196,16,0' },
    partitions: { type: 'string', default: '' },
    settings: { type: 'string', default: '10,5;20,5;20,10;40,10;80,20' },
    reuse: { type: 'boolean', default: false },
    dim: { type: 'string', default: '256' },
    queries: { type: 'string', default: '100' },
    dir: { type: 'string', default: '/tmp/cmga-store-bench' },
    out: { type: 'string', default: 'bench/store-results.md' }
  }
})
const sizes = String(flags.sizes).split(',').map(Number)
const tokensPer = String(flags.tokens).split(',').map(Number)
/** IVF partitions per size (default round(sqrt(images)), the CLI's default). */
const partitionsPer = String(flags.partitions).split(',').filter((x) => x !== '').map(Number)
const dim = Number(flags.dim)
const Q = Number(flags.queries)
const K = 10
const CLUSTERS = 1000
const SPREAD = 0.8
/** Query-time ANN settings tried (nprobes,refine;...), cheapest first. */
const SETTINGS = String(flags.settings).split(';').map((x) => x.split(',').map(Number) as [number, number])
/** Measure galleries left by an earlier run (same sizes, tokens and seed) instead of building them again. */
const REUSE = flags.reuse === true

const get = <A>(e: E.Either<{ message: string }, A>): A => {
  if (E.isLeft(e)) throw new Error(e.left.message)
  return e.right
}

const now = (): number => performance.now()
const pct = (xs: readonly number[], p: number): number => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))]
const du = (path: string): number => Number(execFileSync('du', ['-sb', path], { encoding: 'utf8' }).split('\t')[0])
const gib = (b: number): string => (b >= 2 ** 30 ? `${(b / 2 ** 30).toFixed(2)} GiB` : `${(b / 2 ** 20).toFixed(0)} MiB`)
const secs = (x: number): string => (Number.isNaN(x) ? 'built earlier' : `${x.toFixed(1)} s`)
const ms = (x: number): string => (x >= 100 ? x.toFixed(0) : x.toFixed(1))

/** Latencies of `f` over the queries, after a warm-up of 5. */
const timeQueries = async <A>(queries: Float32Array, f: (q: Float32Array) => Promise<A>): Promise<{ times: number[]; out: A[] }> => {
  const at = (i: number): Float32Array => queries.subarray(i * dim, (i + 1) * dim)
  for (let i = 0; i < 5; i++) await f(at(i % Q))
  const times: number[] = []
  const out: A[] = []
  for (let i = 0; i < Q; i++) {
    const t0 = now()
    out.push(await f(at(i)))
    times.push(now() - t0)
  }
  return { times, out }
}

const recall = (ann: readonly (readonly number[])[], exact: readonly (readonly number[])[]): number =>
  ann.reduce((s, a, q) => s + a.filter((r) => exact[q].includes(r)).length, 0) / (K * ann.length)

// -------------------------------------------------------------------------------------
// one size
// -------------------------------------------------------------------------------------

interface SizeResult {
  readonly n: number
  readonly T: number
  readonly writeS: number
  readonly annS: number
  readonly partitions: number
  readonly subVectors: number
  readonly diskData: number
  readonly diskAnn: number
  readonly brute: readonly number[]
  readonly exact: readonly number[]
  readonly ann: readonly { readonly nprobes: number; readonly refine: number; readonly times: readonly number[]; readonly recall: number }[]
  readonly take128: readonly number[] | null
}

const measure = async (n: number, T: number, partitions: number): Promise<SizeResult> => {
  const dir = join(String(flags.dir), `gallery-${n}`)
  const reuse = REUSE && existsSync(dir)
  if (!reuse) rmSync(dir, { recursive: true, force: true })
  const gen = mixture({ dim, clusters: CLUSTERS, spread: SPREAD, seed: 11 })
  const meta = { format: 'cmga-index', formatVersion: 2, store: 'lance', model: { fingerprint: 'synthetic', dir: 'none', weights: 'none', quantize: 'none' }, root: '/synthetic', shard: null } as const
  const w = reuse ? null : get(await lanceWriter(dir, meta, dim, null)())
  const per = Math.max(1, Math.floor(32e6 / ((T + 1) * dim))) // about 128 MB of floats per batch
  const global = new Float32Array(n * dim) // kept for the brute-force baseline
  let writeMs = 0
  for (let first = 0, k = 0; first < n; first += per, k++) {
    const m = Math.min(per, n - first)
    const f = gen.batch(m, T) // drawn again when reused: the same features, and the same queries after them
    global.set(f.global.data, first * dim)
    const t0 = now()
    if (w !== null) get(await w.append(k, first, Array.from({ length: m }, (_, i) => `img-${String(first + i).padStart(7, '0')}.jpg`), f)())
    writeMs += now() - t0
    process.stderr.write(`  ${n}: wrote ${first + m}\r`)
  }
  const subVectors = dim / 8
  const t0 = now()
  const diskData = du(join(dir, 'images.lance', 'data'))
  if (w !== null) {
    get(await w.finish({ partitions, subVectors })())
    await w.close()
  }
  const annS = reuse ? NaN : (now() - t0) / 1000
  const diskAnn = du(dir) - diskData
  const store: ImageStore = get(await openLanceStore(get(await connect(dir)()), dir)())
  const queries = gen.queries(Q + 5)
  const search = (s: Search) => async (q: Float32Array): Promise<readonly number[]> => get(await store.candidates(q, K, s)())
  const brute = await timeQueries(queries, async (q) => bruteForce(q, global, K))
  const exact = await timeQueries(queries, search({ kind: 'exact' }))
  if (exact.out.some((e, q) => e.join() !== brute.out[q].join())) throw new Error(`${n}: exact Lance search differs from brute force`)
  const ann = []
  for (const [nprobes, refine] of SETTINGS) {
    const r = await timeQueries(queries, search({ kind: 'ann', nprobes, refineFactor: refine }))
    ann.push({ nprobes, refine, times: r.times, recall: recall(r.out, exact.out) })
    process.stderr.write(`  ${n}: nprobes ${nprobes} refine ${refine}: p50 ${ms(pct(r.times, 50))} ms, recall ${ann.at(-1)?.recall}\n`)
  }
  const take128 = T === 0 ? null : (await timeQueries(queries, async (q) => get(await store.take(get(await store.candidates(q, 128, { kind: 'exact' })()))()))).times
  await store.close()
  return { n, T, writeS: reuse ? NaN : writeMs / 1000, annS, partitions, subVectors, diskData, diskAnn, brute: brute.times, exact: exact.times, ann, take128 }
}

// -------------------------------------------------------------------------------------
// report
// -------------------------------------------------------------------------------------

const report = (rs: readonly SizeResult[], load: { before: string; after: string }): string => {
  const m = machine()
  const cores = cpus().length
  const lancedb = (): string => {
    try {
      return execFileSync('node', ['-p', "require('./node_modules/@lancedb/lancedb/package.json').version"], { encoding: 'utf8' }).trim()
    } catch {
      return 'unknown'
    }
  }
  const best = (r: SizeResult): SizeResult['ann'][number] => r.ann.find((a) => a.recall >= 0.95) ?? r.ann[r.ann.length - 1]
  const lines = [
    '# Gallery store benchmark (bench/store.ts)',
    '',
    `Machine: ${m.cpu} cores, ${m.memory}, node ${m.node}, @lancedb/lancedb ${lancedb()}.`,
    `The CPU was shared with another process's work during the run (load average ${load.before} before, ${load.after} after, on ${cores} cores): latencies are upper bounds of an idle machine's.`,
    '',
    `Synthetic features: embed dim ${dim}, global features from a Gaussian mixture of ${CLUSTERS} clusters (points = unit centre + N(0, ${SPREAD}^2/${dim}) per dim, L2-normalised), tokens drawn around their image's global feature. Queries: ${Q} fresh draws of the mixture, one at a time after 5 warm-up queries. Token multivectors are scaled down with the gallery so it fits the disk (196 tokens x 1M images x 256 x 4 B would be 200 GB): the tokens column is stated per row.`,
    '',
    `IVF-PQ: ${dim / 8} sub-vectors (dim / 8), dot distance, partitions as in the table (round(sqrt(images)) is the CLI's default). Recall@10: the ANN's top 10 against the exact top 10 (exact Lance search is checked equal to brute force). Write time excludes generating the features.`,
    '',
    '| images | tokens / image | write | IVF-PQ build (partitions) | disk (data + index) | brute force in memory p50 / p95 | Lance exact p50 / p95 | Lance ANN p50 / p95 (nprobes, refine) | recall@10 | take 128 candidates\' tokens p50 |',
    '|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
    ...rs.map((r) => {
      const a = best(r)
      return `| ${r.n.toLocaleString('en')} | ${r.T} | ${secs(r.writeS)} | ${secs(r.annS)} (${r.partitions}) | ${gib(r.diskData)} + ${gib(r.diskAnn)} | ${ms(pct(r.brute, 50))} / ${ms(pct(r.brute, 95))} ms | ${ms(pct(r.exact, 50))} / ${ms(pct(r.exact, 95))} ms | ${ms(pct(a.times, 50))} / ${ms(pct(a.times, 95))} ms (${a.nprobes}, ${a.refine}) | ${a.recall.toFixed(3)} | ${r.take128 === null ? '-' : `${ms(pct(r.take128, 50))} ms`} |`
    }),
    '',
    'Every ANN setting measured (p50 / p95 ms, recall@10):',
    '',
    `| images | ${SETTINGS.map(([p, f]) => `nprobes ${p}, refine ${f}`).join(' | ')} |`,
    `|---:|${SETTINGS.map(() => '---:').join('|')}|`,
    ...rs.map((r) => `| ${r.n.toLocaleString('en')} | ${r.ann.map((a) => `${ms(pct(a.times, 50))} / ${ms(pct(a.times, 95))}, ${a.recall.toFixed(3)}`).join(' | ')} |`),
    ''
  ]
  return lines.join('\n')
}

const main = async (): Promise<void> => {
  const before = loadAverages()
  const rs: SizeResult[] = []
  for (const [k, n] of sizes.entries()) {
    const T = tokensPer[k] ?? tokensPer[tokensPer.length - 1]
    process.stderr.write(`gallery of ${n} images, ${T} tokens each\n`)
    rs.push(await measure(n, T, partitionsPer[k] ?? Math.round(Math.sqrt(n))))
    // Written after each size, so that a long run keeps what it measured.
    writeFileSync(String(flags.out), report(rs, { before, after: loadAverages() }))
  }
  process.stdout.write(readFileSync(String(flags.out), 'utf8'))
}

void main()
