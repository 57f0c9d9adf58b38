/**
 * `cmga demo`: compiles the shipped shapes model, says what it is, ranks the bundled
 * images for text queries (the true image first where there is one), and with --keep
 * leaves a model directory whose manifest carries the shipped model's ranking defaults.
 */
import { spawnSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { tempDir } from './support/cli.js'

const root = tempDir('cmga-demo-')
const bin = fileURLToPath(new URL('../bin/cmga.mjs', import.meta.url))

test('demo --keep: the model described, its queries answered, its ranking defaults kept in the manifest', async () => {
  const model = join(root, 'model')
  const r = spawnSync(process.execPath, [bin, 'demo', '--keep', model], { encoding: 'utf8' })
  assert.is(r.status, 0, r.stderr.slice(-500))
  const err = r.stderr.split('\n')
  const about = JSON.parse(readFileSync('models/cmga/shapes/model.json', 'utf8'))
  assert.ok(err.some((l) => l.startsWith(`${about.name}: `)) && err.some((l) => l.startsWith('held out: ')), r.stderr)
  const ranks = about.serving.k === 0 ? 'stage 1 only (--k 0)' : `re-ranking the top ${about.serving.k} by stage 1 + ${about.serving.itmWeight} x ITM log-odds (--k ${about.serving.k} --itm-weight ${about.serving.itmWeight})`
  assert.ok(err.some((l) => l.startsWith(`ranking: cmga retrieve's default for it, ${ranks}: `) && l.endsWith('; --k N overrides it')), r.stderr)
  const out = r.stdout
  // the first query is the caption of a bundled image: it comes first
  assert.match(out, /text -> images: "a green circle above a red circle"\n.*\n +1\. .*images\/00002\.png .*<- the match/)
  assert.match(out, /image -> texts: images\/00005\.png\n.*\n +1\. .*"a green square left of a red square" +<- the match/)
  assert.equal(JSON.parse(readFileSync(join(model, 'manifest.json'), 'utf8')).ranking, about.serving)
})

test.run()
