/**
 * A stage contract: what a program reading a model directory expects of it, as one
 * `as const` value naming every stage and the dtypes of the inputs it feeds and the
 * outputs it reads. A manifest is checked against it once, when the directory is
 * opened; after that, stage runs are typed by it and the outputs it names are checked
 * on every result (a missing one is an error value, never a throw).
 * @since 0.1.0
 */
import * as E from 'fp-ts/lib/Either.js'
import * as TE from 'fp-ts/lib/TaskEither.js'
import type { CmgaError } from '../../compiler/errors.js'
import { fail } from '../../compiler/errors.js'
import type { DType } from '../../compiler/ir/dtype.js'
import type { HostTensor } from '../../compiler/ir/tensor.js'
import type { Engine } from './engine.js'
import type { Manifest } from './manifest.js'

// -------------------------------------------------------------------------------------
// model
// -------------------------------------------------------------------------------------

/** Names and dtypes of tensors. */
export type Signature = Readonly<Record<string, DType>>

/** One stage's terms. */
export interface StageTerms {
  /** What the reader may feed: a stage must take no input outside these (it may drop some). */
  readonly inputs: Signature
  /** What the reader takes out: a stage must give every one, with this dtype. */
  readonly outputs: Signature
  /** Outputs a stage may give (e.g. a head a config may leave out). */
  readonly optionalOutputs?: Signature
  /** The directory may lack the stage (the reader checks `has` first). */
  readonly optional?: boolean
}

/** Every stage a reader knows, by name. */
export type StageContract = Readonly<Record<string, StageTerms>>

type TensorOf<D> = HostTensor<D extends DType ? D : never>

/** The feeds of a stage: every input of the contract, typed. */
export type Feeds<T extends StageTerms> = { readonly [K in keyof T['inputs']]: TensorOf<T['inputs'][K]> }

type Optional<T extends StageTerms> = NonNullable<T['optionalOutputs']>

/** The results of a stage: the contract's outputs, its optional outputs, and whatever else it gives. */
export type Results<T extends StageTerms> = { readonly [K in keyof T['outputs']]: TensorOf<T['outputs'][K]> } & {
  readonly [K in keyof Optional<T>]?: TensorOf<Optional<T>[K]>
} & Readonly<Record<string, HostTensor | undefined>>

/** Typed runs of the stages of a contract. */
export interface ContractRunner<C extends StageContract> {
  /** Whether the directory has a stage (always, for one the contract does not mark optional). */
  readonly has: (stage: keyof C & string) => boolean
  /** Runs one stage and checks its results against the contract. */
  readonly run: <S extends keyof C & string>(stage: S, feeds: Feeds<C[S]>) => TE.TaskEither<CmgaError, Results<C[S]>>
}

// -------------------------------------------------------------------------------------
// checks
// -------------------------------------------------------------------------------------

const again = 'compile it again with this version of cmga'

/** Checks a manifest against a contract: every required stage, no unknown input, every output with its dtype. */
export const checkContract = (dir: string, m: Manifest, contract: StageContract): E.Either<CmgaError, void> => {
  for (const [stage, terms] of Object.entries(contract)) {
    const spec = m.stages[stage]
    if (spec === undefined) {
      if (terms.optional === true) continue
      return fail('input', `model ${dir} has no stage "${stage}"; ${again}`)
    }
    const unknown = spec.inputs.filter((i) => terms.inputs[i.name] !== i.dtype).map((i) => `${i.name} (${i.dtype})`)
    if (unknown.length > 0) return fail('input', `model ${dir}: stage "${stage}" takes inputs no reader feeds: ${unknown.join(', ')}; ${again}`)
    const wanted = [...Object.entries(terms.outputs), ...Object.entries(terms.optionalOutputs ?? {}).filter(([o]) => spec.outputs.some((x) => x.name === o))]
    const missing = wanted.filter(([o, dtype]) => !spec.outputs.some((x) => x.name === o && x.dtype === dtype)).map(([o, dtype]) => `${o} (${dtype})`)
    if (missing.length > 0) return fail('input', `model ${dir}: stage "${stage}" lacks ${missing.join(', ')}; ${again}`)
  }
  return E.right(undefined)
}

/** Checks one stage's results: the contract's outputs, present with their dtypes. */
const checkResults = <T extends StageTerms>(stage: string, terms: T, r: Record<string, HostTensor>): E.Either<CmgaError, Results<T>> => {
  const bad = [...Object.entries(terms.outputs).filter(([o]) => r[o] === undefined || r[o].dtype !== terms.outputs[o]),
    ...Object.entries(terms.optionalOutputs ?? {}).filter(([o, dtype]) => r[o] !== undefined && r[o].dtype !== dtype)]
  return bad.length === 0
    ? E.right(r as Results<T>)
    : fail('runtime', `stage ${stage} gave no ${bad.map(([o, dtype]) => `${dtype} "${o}"`).join(', ')}`)
}

/** Typed runs of an engine's stages; check the engine's manifest with `checkContract` first. */
export const contractRunner = <C extends StageContract>(engine: Pick<Engine, 'has' | 'run'>, contract: C): ContractRunner<C> => ({
  has: (stage) => engine.has(stage),
  run: (stage, feeds) => TE.chainEitherK((r: Record<string, HostTensor>) => checkResults(stage, contract[stage], r))(engine.run(stage, feeds))
})
