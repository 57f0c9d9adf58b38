/**
 * `cmga data shapes`: generates a shapes-world set (docs/shapes-world.md;
 * apps/data/shapes-world.ts draws it, apps/data/write-shapes.ts writes it).
 * @since 0.1.0
 */
import * as E from 'fp-ts/lib/Either.js'
import { pipe } from 'fp-ts/lib/function.js'
import type { CmgaError } from '../../compiler/errors.js'
import { MAX_COUNT, writeShapesSet } from '../../apps/data/write-shapes.js'
import { MIN_SIZE } from '../../apps/data/shapes-world.js'
import type { Command, Values } from '../command.js'
import { integer, requiredOutput } from '../command.js'
import { progressReporter } from '../progress.js'

/** The largest --size (a 1024 x 1024 image is already far beyond what the world needs). */
const MAX_SIZE = 1024

const help = `Usage: cmga data shapes --out DIR [--count N] [--seed S] [--size S] [--masks] [--force]

Generates a set of the shapes world: two coloured shapes (circle, square, triangle) in a
spatial relation (left of, right of, above, below) on a grey background, captioned
"a {c1} {s1} {relation} a {c2} {s2}", e.g. "a red circle left of a blue square"
(the distribution is the one docs/shapes-world.md specifies; shapes are
filled as Pillow's ImageDraw fills them). The same seed gives the same set, byte for byte.

Writes, into DIR:
  images/NNNNN.png    the images, 8-bit RGB PNG, S x S (00000 ... count - 1)
  annotations.json    ALBEF format: [{"image": "images/00000.png", "caption": ["..."]}]
  vocab.txt           the 20-entry vocabulary ([PAD] [UNK] [CLS] [SEP] [MASK], then the
                      sorted caption words), one a line, [PAD] = id 0
and with --masks also:
  masks/NNNNN.png     8-bit grey PNG: 0 background, 1 object 1, 2 object 2 (object 2 is
                      drawn over object 1)
  objects.json        one entry per image: image, mask, caption, c1, s1, relation, c2,
                      s2, background (grey level), radius, p1, p2 (centres as [x, y])
DIR is written into a temporary directory beside it and renamed at the end.

  --out DIR      where to write the set (must not exist, unless --force)
  --count N      number of samples (default 1000, at most ${MAX_COUNT})
  --seed S       seed of the generator (default 0; an integer in [0, 4294967295])
  --size S       image size in pixels (default 32, at least ${MIN_SIZE}, at most ${MAX_SIZE})
  --masks        also write masks/ and objects.json
  --force        replace DIR if it exists (written aside, then renamed over it)
  -h, --help     this text`

const run = async (values: Values, log: (line: string) => void): Promise<E.Either<CmgaError, void>> => {
  const cmd = 'data shapes'
  const args = pipe(
    E.Do,
    E.bind('out', () => requiredOutput(cmd, values, 'out', 'directory')),
    E.bind('count', () => integer(cmd, values, 'count', 1000, 1, MAX_COUNT)),
    E.bind('seed', () => integer(cmd, values, 'seed', 0, 0, 4294967295)),
    E.bind('size', () => integer(cmd, values, 'size', 32, MIN_SIZE, MAX_SIZE))
  )
  if (E.isLeft(args)) return args
  const a = args.right
  const p = progressReporter(cmd, log)
  const r = await writeShapesSet({ ...a, masks: values.masks === true, force: values.force === true, onProgress: (done, total) => p.update('images', done, total) })
  p.stop()
  if (E.isLeft(r)) return E.left(r.left.kind === 'usage' ? { ...r.left, message: `cmga ${cmd}: ${r.left.message}` } : r.left)
  log(`data shapes: wrote ${a.count} samples (${a.size} x ${a.size}, seed ${a.seed}) to ${a.out}`)
  return E.right(undefined)
}

/** @since 0.1.0 */
export const dataShapesCommand: Command = {
  name: 'data shapes',
  summary: 'generate a shapes-world set (images, ALBEF annotations, vocab, masks)',
  help,
  flags: {
    out: { type: 'string' },
    count: { type: 'string' },
    seed: { type: 'string' },
    size: { type: 'string' },
    masks: { type: 'boolean' },
    force: { type: 'boolean' }
  },
  run
}
