/**
 * `cmga retrieve`: ranks an index's images for a text, or its texts for an image.
 * @since 0.1.0
 */
import * as E from 'fp-ts/lib/Either.js'
import * as TE from 'fp-ts/lib/TaskEither.js'
import { pipe } from 'fp-ts/lib/function.js'
import type { CmgaError } from '../../compiler/errors.js'
import { fail } from '../../compiler/errors.js'
import type { RerankRule } from '../../apps/cmga/rank.js'
import type { RankingDefaults } from '../../runtime/model/manifest.js'
import { openIndex } from '../../apps/retrieval/gallery.js'
import type { RetrieveOptions } from '../../apps/retrieval/retrieve.js'
import { checkRetrieveOptions, defaultRetrieveOptions, retrieveImages, retrieveTexts } from '../../apps/retrieval/retrieve.js'
import type { Command, Values } from '../command.js'
import { aliased, integer, outputFlag } from '../command.js'
import { searchFlagDefs, searchFlags, searchHelp } from '../search-flags.js'
import { defaultItmWeight, describeRanking, rerankGuidanceFlag, rerankGuidanceFlagDef, rerankGuidanceHelp } from '../rerank-flags.js'
import { jsonOutHelp, numberFlag, runtimeFlags, runtimeFrom, runtimeHelp, withRuntime, writeResult } from '../runtime-flags.js'

const help = `Usage: cmga retrieve --model DIR --index INDEX (--query "TEXT" | --image FILE) [flags]

Text to image (--query): ranks the index's images for the text. Image to text
(--image): ranks the index's texts (cmga index --texts) for the image. Two stages
(spec section 7): the global score over the whole index picks --candidates, which get
the stage-1 score (global + local); the best --k of those are re-ordered with the
ITM head under joint guidance (or --rerank-guidance image; --k 0: stage 1 only).
Prints JSON (or writes it to --out): the query and, per result, rank, item (image
path or text), index, global, local, stage1, itm {probability, logOdds} when
re-ranked, and score (what it is ordered by).

  --index INDEX        an index written by cmga index with the same model: a folder
                       (either store), or a Lance dataset's URI (cmga index merge)
  --query TEXT         a text query (text to image)
  --image FILE         an image query (image to text)
  --top N              results to return (default 10)
  --candidates N       candidates given the stage-1 score (default 128)
  --k N                candidates re-ranked with ITM (default: the model's, which cmga
                       compile --serve-k writes into its manifest, else 16; at most
                       --candidates; 0: stage 1 only, no re-ranking; --rerank is an old
                       name of it)
  --rule RULE          re-ranking rule: combined (default): stage1 + weight x ITM
                       log-odds; itm: the ITM match probability alone (ALBEF's rule)
  --itm-weight W       the weight of the combined rule (default: the model's, else 0.1)
${rerankGuidanceHelp}
${searchHelp}
${jsonOutHelp}
${runtimeHelp()}
  -h, --help           this text`

/** The rule the flags choose. */
export const ruleFrom = (cmd: string, values: Values): E.Either<CmgaError, RerankRule> => {
  const rule = values.rule ?? 'combined'
  if (rule !== 'itm' && rule !== 'combined') return fail('usage', `cmga ${cmd}: --rule must be itm or combined, got "${String(rule)}"`)
  return E.map((weight: number): RerankRule => (rule === 'itm' ? { kind: 'itm' } : { kind: 'combined', weight }))(numberFlag(cmd, values, 'itm-weight', defaultItmWeight))
}

/** The flags, with the model's ranking defaults (`--serve-k` at compile time) where --k or --itm-weight is not given. */
export const withModelRanking = (values: Values, ranking: RankingDefaults | undefined): Values => {
  if (ranking === undefined) return values
  const k = values.k === undefined && values.rerank === undefined ? { k: String(ranking.k) } : {}
  const weight = values['itm-weight'] === undefined && ranking.itmWeight !== undefined ? { 'itm-weight': String(ranking.itmWeight) } : {}
  return Object.keys(k).length + Object.keys(weight).length === 0 ? values : { ...values, ...k, ...weight }
}

/** What the model's defaults chose (`filled` from `withModelRanking`), for the log; null when the flags chose everything. */
const rankingNote = (values: Values, filled: Values, ranking: RankingDefaults | undefined): string | null => {
  if (ranking === undefined || filled === values) return null
  const chosen = { k: Number(filled.k ?? filled.rerank), itmWeight: filled['itm-weight'] === undefined ? undefined : Number(filled['itm-weight']), why: ranking.why }
  return `ranking: the model's default, ${describeRanking(chosen, filled.rule === 'itm' ? 'itm' : 'combined')}; --k N overrides it`
}

const optionsFrom = (values: Values): E.Either<CmgaError, RetrieveOptions> =>
  pipe(
    E.Do,
    E.chainFirst(() => outputFlag('retrieve', values, 'out', 'file')),
    E.bind('top', () => integer('retrieve', values, 'top', defaultRetrieveOptions.top, 1)),
    E.bind('candidates', () => integer('retrieve', values, 'candidates', defaultRetrieveOptions.candidates, 1)),
    E.bind('rerank', () => integer('retrieve', values, 'k', defaultRetrieveOptions.rerank, 0)),
    E.bind('rule', () => ruleFrom('retrieve', values)),
    E.bind('rerankGuidance', () => rerankGuidanceFlag('retrieve', values)),
    E.bind('search', () => searchFlags('retrieve', values)),
    E.map(({ search, ...o }) => (search === undefined ? o : { ...o, search })),
    E.chain(checkRetrieveOptions)
  )

const run = async (values: Values, log: (line: string) => void): Promise<E.Either<CmgaError, void>> => {
  const empty = ['query', 'image', 'index'].find((f) => values[f] === '')
  if (empty !== undefined) return fail('usage', `cmga retrieve: --${empty} must not be empty`)
  const query = typeof values.query === 'string' ? values.query : undefined
  const image = typeof values.image === 'string' ? values.image : undefined
  if ((query === undefined) === (image === undefined)) return fail('usage', 'cmga retrieve: give exactly one of --query TEXT or --image FILE (see cmga retrieve --help)')
  if (typeof values.index !== 'string') return fail('usage', 'cmga retrieve: --index is required (see cmga retrieve --help)')
  const checked = optionsFrom(aliased(values, 'k', 'rerank'))
  if (E.isLeft(checked)) return checked
  const rt = runtimeFrom('retrieve', values, log)
  if (E.isLeft(rt)) return rt
  return withRuntime(rt.right, (runtime) => {
    const filled = withModelRanking(values, runtime.ranking)
    return pipe(
      TE.fromEither(optionsFrom(aliased(filled, 'k', 'rerank'))),
      TE.chainFirst(() => TE.fromIO(() => {
        const note = rankingNote(values, filled, runtime.ranking)
        if (note !== null) log(note)
      })),
      TE.bindTo('opts'),
      TE.bind('g', () => openIndex(values.index as string, runtime)),
      TE.chain(({ opts, g }) =>
        pipe(
          query !== undefined ? retrieveImages(runtime, g, query, opts) : retrieveTexts(runtime, g, image as string, opts),
          (run) => async () => {
            const r = await run()
            await g.close()
            return r
          }
        )
      ),
      TE.chainEitherK((r) => writeResult(values, { model: runtime.identity, index: values.index, ...(runtime.ranking === undefined ? {} : { modelRanking: runtime.ranking }), ...r }, log))
    )()
  })
}

/** @since 0.1.0 */
export const retrieveCommand: Command = {
  name: 'retrieve',
  summary: 'rank an index\'s images for a text (or its texts for an image)',
  help,
  flags: {
    ...runtimeFlags,
    index: { type: 'string' },
    query: { type: 'string' },
    image: { type: 'string' },
    top: { type: 'string' },
    candidates: { type: 'string' },
    k: { type: 'string' },
    rerank: { type: 'string' },
    rule: { type: 'string' },
    'itm-weight': { type: 'string' },
    ...rerankGuidanceFlagDef,
    ...searchFlagDefs,
    out: { type: 'string' },
    force: { type: 'boolean' }
  },
  run
}
