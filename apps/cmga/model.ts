/**
 * A CMGA model directory: the generic manifest and sessions of `runtime/model`, with
 * the config inside the manifest decoded and checked against spec section 1.
 * @since 0.1.0
 */
import { join } from 'node:path'
import * as E from 'fp-ts/lib/Either.js'
import type { CmgaError } from '../../compiler/errors.js'
import type { CmgaConfig } from '../../models/cmga/config.js'
import { decodeConfig } from '../../models/cmga/config.js'
import type { Manifest } from '../../runtime/model/manifest.js'
import type { CompiledModel } from '../../runtime/model/model.js'
import { loadModel, readManifest } from '../../runtime/model/model.js'
import type { SessionOptions } from '../../runtime/session.js'

/** A manifest whose config is a checked CMGA config. */
export type CmgaManifest = Omit<Manifest, 'config'> & { readonly config: CmgaConfig }

/** A loaded CMGA model directory. */
export type CmgaModel = Omit<CompiledModel, 'manifest'> & { readonly manifest: CmgaManifest }

/** The config of the manifest of model directory `dir`, decoded (a `config` error naming the manifest). */
export const manifestConfig = (dir: string, m: Manifest): E.Either<CmgaError, CmgaConfig> =>
  decodeConfig(m.config, `${join(dir, 'manifest.json')}: config`)

/** Reads and checks `DIR/manifest.json`, its config included. */
export const readCmgaManifest = (dir: string): E.Either<CmgaError, CmgaManifest> =>
  E.chain((m: Manifest) => E.map((config: CmgaConfig): CmgaManifest => ({ ...m, config }))(manifestConfig(dir, m)))(readManifest(dir))

/** Loads a CMGA model directory; sessions open lazily and are reused. */
export const loadCmgaModel = (dir: string, opts: SessionOptions = {}): E.Either<CmgaError, CmgaModel> =>
  E.chain((m: CompiledModel) => E.map((config: CmgaConfig): CmgaModel => ({ ...m, manifest: { ...m.manifest, config } }))(manifestConfig(dir, m.manifest)))(loadModel(dir, opts))
