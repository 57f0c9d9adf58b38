/**
 * A CMGA model directory: the generic manifest and sessions of `runtime/model`, with
 * the config inside the manifest decoded and checked against spec section 1, and the
 * stages checked once against their contract (`models/cmga/stages.ts`), which then
 * types every stage run.
 * @since 0.1.0
 */
import { join } from 'node:path'
import * as E from 'fp-ts/lib/Either.js'
import { pipe } from 'fp-ts/lib/function.js'
import type { CmgaError } from '../../compiler/errors.js'
import type { CmgaConfig } from '../../models/cmga/config.js'
import { decodeConfig } from '../../models/cmga/config.js'
import { cmgaStages } from '../../models/cmga/stages.js'
import type { ContractRunner } from '../../runtime/model/contract.js'
import { checkContract, contractRunner } from '../../runtime/model/contract.js'
import type { Manifest } from '../../runtime/model/manifest.js'
import type { CompiledModel } from '../../runtime/model/model.js'
import { loadModel, readManifest } from '../../runtime/model/model.js'
import type { SessionOptions } from '../../runtime/session.js'

/** A manifest whose config is a checked CMGA config and whose stages keep the contract. */
export type CmgaManifest = Omit<Manifest, 'config'> & { readonly config: CmgaConfig }

/** Typed runs of the stages of a CMGA model directory. */
export type CmgaStages = ContractRunner<typeof cmgaStages>

/** A loaded CMGA model directory. */
export interface CmgaModel extends CmgaStages {
  readonly dir: string
  readonly manifest: CmgaManifest
}

/** Checks a manifest read from model directory `dir`: its config (a `config` error naming the manifest), then its stages. */
export const cmgaManifest = (dir: string, m: Manifest): E.Either<CmgaError, CmgaManifest> =>
  pipe(
    decodeConfig(m.config, `${join(dir, 'manifest.json')}: config`),
    E.chainFirst(() => checkContract(dir, m, cmgaStages)),
    E.map((config): CmgaManifest => ({ ...m, config }))
  )

/** Reads and checks `DIR/manifest.json`. */
export const readCmgaManifest = (dir: string): E.Either<CmgaError, CmgaManifest> => E.chain((m: Manifest) => cmgaManifest(dir, m))(readManifest(dir))

/** Loads a CMGA model directory; sessions open lazily and are reused. */
export const loadCmgaModel = (dir: string, opts: SessionOptions = {}): E.Either<CmgaError, CmgaModel> =>
  E.chain((m: CompiledModel) => E.map((manifest: CmgaManifest): CmgaModel => ({ dir, manifest, ...contractRunner(m, cmgaStages) }))(cmgaManifest(dir, m.manifest)))(loadModel(dir, opts))
