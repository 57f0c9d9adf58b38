/**
 * `cmga demo`: compiles the shipped shapes-world model (trained by `cmga reproduce`)
 * and shows it at work on the bundled images: text queries ranking images, an image
 * ranking captions, near misses included.
 * @since 0.1.0
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import * as E from 'fp-ts/lib/Either.js'
import { pipe } from 'fp-ts/lib/function.js'
import type { CmgaError } from '../../compiler/errors.js'
import { cmgaError } from '../../compiler/errors.js'
import { describeCheckpoint, importCheckpoint } from '../../apps/compile/checkpoint.js'
import { compileModel } from '../../apps/compile/compile.js'
import { readConfigFile } from '../../apps/cmga/config-file.js'
import { openRuntime } from '../../apps/cmga/runtime.js'
import { readAnnotations } from '../../apps/retrieval/annotations.js'
import { demoLines, flipRelation, runShapesDemo, swapColours } from '../../apps/demo/shapes-demo.js'
import type { Command } from '../command.js'
import type { RankingDefaults } from '../../runtime/model/manifest.js'
import { outputFlag } from '../command.js'
import { deviceFlag, deviceHelp } from '../runtime-flags.js'
import { describeRanking } from '../rerank-flags.js'

const shipped = (p: string): string => fileURLToPath(new URL(`../../models/cmga/shapes/${p}`, import.meta.url))

const help = `Usage: cmga demo [--keep DIR [--force]] [--device D]

Compiles the shipped CMGA model (models/cmga/shapes/: trained from scratch by
\`cmga reproduce\` on the shapes world, docs/shapes-world.md) and runs it on the 8
bundled images (models/cmga/shapes/demo/): text queries rank the images (one query
describes an image, one swaps its colours, which a bag-of-words matcher cannot tell
apart), and an image ranks captions, its own among near misses (colours swapped,
relation turned around). Each line shows the stage-1 score (global + local) and the
ITM match probability. Prints what the model is, how it was trained, and its recall
on held-out pairs.

  --keep DIR   write the compiled model directory (with its vocab.txt) to DIR instead
               of a temporary one: \`cmga eval retrieval --model DIR ...\` then works on it
               (must not exist unless --force)
  --force      replace an existing --keep DIR
${deviceHelp(15)}
  -h, --help   this text`

/** `models/cmga/shapes/model.json`: what the shipped model is. */
interface ShippedModel {
  readonly name: string
  readonly description: string
  readonly training: string
  readonly heldOut: string
  /** How `cmga retrieve` ranks with it by default (the compiled manifest's `ranking`). */
  readonly serving?: RankingDefaults
}

const readShipped = (): E.Either<CmgaError, ShippedModel> => {
  try {
    return E.right(JSON.parse(readFileSync(shipped('model.json'), 'utf8')) as ShippedModel)
  } catch (e) {
    return E.left(cmgaError('io', `cannot read the shipped model's description ${shipped('model.json')}: ${(e as Error).message}`))
  }
}

/** @since 0.1.0 */
export const demoCommand: Command = {
  name: 'demo',
  summary: 'compile the shipped shapes-world model and rank the bundled images and captions',
  help,
  flags: { keep: { type: 'string' }, device: { type: 'string' }, force: { type: 'boolean' } },
  run: async (values, log) => {
    const keep = outputFlag('demo', values, 'keep', 'directory')
    if (E.isLeft(keep)) return keep
    const scratch = mkdtempSync(join(tmpdir(), 'cmga-demo-'))
    const out = typeof values.keep === 'string' ? values.keep : join(scratch, 'model')
    const started = Date.now()
    try {
      const prepared = pipe(
        E.Do,
        E.bind('device', () => deviceFlag('demo', values)),
        E.bind('about', () => readShipped()),
        E.bind('config', () => readConfigFile(shipped('config.json'))),
        E.bind('ck', ({ config }) => importCheckpoint(config, shipped('weights.safetensors'))),
        E.chainFirst(({ about, ck }) => {
          log(`${about.name}: ${about.description}`)
          log(`trained: ${about.training}`)
          log(`held out: ${about.heldOut}`)
          if (about.serving !== undefined) log(`ranking: cmga retrieve's default for it, ${describeRanking(about.serving)}; --k N overrides it`)
          log(describeCheckpoint(ck))
          return E.right(undefined)
        }),
        E.chainFirst(({ about, config, ck }) =>
          compileModel({
            config,
            weights: ck.weights,
            weightsSource: 'models/cmga/shapes/weights.safetensors',
            weightsSummary: describeCheckpoint(ck),
            out,
            force: values.force === true,
            files: [['vocab.txt', readFileSync(shipped('vocab.txt'), 'utf8')]],
            ...(about.serving === undefined ? {} : { ranking: about.serving }),
            onStage: (s, i, n) => log(`compile [${i + 1}/${n}] ${s}`)
          })
        ),
        E.chain(({ device }) => openRuntime(out, { device, maxLength: 16, warn: log }))
      )
      if (E.isLeft(prepared)) return prepared
      const rt = prepared.right
      const root = shipped('demo')
      const ann = readAnnotations(join(root, 'annotations.json'), 'test')
      if (E.isLeft(ann)) {
        await rt.close()
        return ann
      }
      const set = { root, images: ann.right.images, captions: ann.right.imageTexts.map((ts) => ann.right.texts[ts[0]]) }
      const queries = [set.captions[2], swapColours(set.captions[2]), flipRelation(set.captions[1])]
      const r = await runShapesDemo(rt, set, queries, 5)
      await rt.close()
      if (E.isLeft(r)) return r
      log(`compiled and ran in ${Date.now() - started} ms${typeof values.keep === 'string' ? `; model directory (with vocab.txt) kept in ${out}` : ''}`)
      process.stdout.write(demoLines(r.right).join('\n') + '\n')
      return E.right(undefined)
    } finally {
      rmSync(scratch, { recursive: true, force: true })
    }
  }
}
