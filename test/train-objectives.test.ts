/**
 * Training objectives as graphs: a chosen set of objectives builds only its parts (and
 * its AdamW step updates only their parameters); a mode is the same graph as before;
 * ITM negatives other than the spec's argmax (random, sampled, mixed) read noise from
 * an `itm_noise` input, never pick the positive, and sampling at a tiny temperature is
 * the argmax.
 */
import * as E from 'fp-ts/lib/Either.js'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { backwardReached } from '../compiler/autodiff/grad.js'
import { evaluate } from '../compiler/eval/evaluate.js'
import { paramsOf } from '../compiler/ir/graph.js'
import { printGraph } from '../compiler/ir/print.js'
import type { HostTensor } from '../compiler/ir/tensor.js'
import { adamwDefaults } from '../compiler/train/adamw.js'
import * as d from '../dsl/index.js'
import { readConfigFile } from '../apps/cmga/config-file.js'
import type { NegativeChoice } from '../models/cmga/losses.js'
import { chooseNegatives } from '../models/cmga/losses.js'
import { cmgaTrainStep, ITM_BIAS, ITM_NOISE, trainingLossGraph } from '../models/cmga/train-step.js'
import { mulberry32 } from '../runtime/prng.js'
import { gumbelNoise, ITM_BIAS_EXCLUDE, ITM_BIAS_PARTNER } from '../apps/train/data.js'

const get = <A>(e: E.Either<{ message: string }, A>): A => {
  if (E.isLeft(e)) throw new Error(e.left.message)
  return e.right
}
const c = get(readConfigFile('models/cmga/configs/tiny.json'))
const B = 8

/** The negatives of `choice` on a score matrix and noise, in the interpreter. */
const negatives = (choice: NegativeChoice, score: Float32Array, noise: HostTensor<'float32'>): { image: number[]; text: number[] } => {
  const s = d.input('score', 'float32', [B, B])
  const n = d.input(ITM_NOISE, 'float32', [2, B, B])
  const neg = chooseNegatives(s, choice, choice.kind === 'hard' ? undefined : n)
  const g = d.graph('negatives', [s, n], { image: neg.negImage, text: neg.negText })
  const out = get(evaluate(g, { score: { dtype: 'float32', shape: [B, B], data: score }, [ITM_NOISE]: noise }))
  return { image: Array.from(out.image.data as BigInt64Array, Number), text: Array.from(out.text.data as BigInt64Array, Number) }
}

/** A score matrix like `score_global`: cosines, the diagonal usually highest. */
const scores = (seed: number): Float32Array => {
  const rand = mulberry32(seed)
  return Float32Array.from({ length: B * B }, (_, k) => (k % (B + 1) === 0 ? 0.6 : 0) + 0.8 * rand() - 0.4)
}

test('random negatives: never the positive, spread over the others', () => {
  const seen = new Set<string>()
  for (let step = 0; step < 20; step++) {
    const r = negatives({ kind: 'random' }, scores(1), gumbelNoise([2, B, B], mulberry32(100 + step)))
    r.image.forEach((i, j) => assert.ok(i !== j && i >= 0 && i < B, `text ${j}: image ${i}`))
    r.text.forEach((j, i) => assert.ok(j !== i && j >= 0 && j < B, `image ${i}: text ${j}`))
    r.image.forEach((i, j) => seen.add(`i${j}:${i}`))
    r.text.forEach((j, i) => seen.add(`t${i}:${j}`))
  }
  // 2 x 8 x 7 possible choices; 20 uniform draws per row reach ~95% of them
  assert.ok(seen.size > 80, `${seen.size} of 112 (row, negative) choices seen`)
})

test('sampled negatives: a tiny temperature is the argmax; a large one spreads; mixed is random then hard', () => {
  const hard = negatives({ kind: 'hard' }, scores(2), gumbelNoise([2, B, B], mulberry32(0)))
  const seen = new Set<number>()
  for (let step = 0; step < 10; step++) {
    const noise = gumbelNoise([2, B, B], mulberry32(200 + step))
    assert.equal(negatives({ kind: 'sample', temperature: 1e-6 }, scores(2), noise), hard, 'temperature 1e-6: the hard negatives')
    const warm = negatives({ kind: 'sample', temperature: 10 }, scores(2), noise)
    warm.image.forEach((i, j) => assert.ok(i !== j))
    warm.image.forEach((i) => seen.add(i))
    const mixed = negatives({ kind: 'mixed' }, scores(2), noise)
    const random = negatives({ kind: 'random' }, scores(2), noise)
    assert.equal(mixed.image.slice(0, B / 2), random.image.slice(0, B / 2), 'the first half of the texts: random')
    assert.equal(mixed.image.slice(B / 2), hard.image.slice(B / 2), 'the rest: hard')
    assert.equal(mixed.text.slice(0, B / 2), random.text.slice(0, B / 2), 'the first half of the images: random')
    assert.equal(mixed.text.slice(B / 2), hard.text.slice(B / 2))
  }
  assert.ok(seen.size >= 5, `temperature 10 picks ${seen.size} different images`)
})

test('partner negatives: the raised partner, never a sunk pair, else the argmax; the graph takes itm_bias [B, B]', () => {
  const s = d.input('score', 'float32', [B, B])
  const bias = d.input(ITM_BIAS, 'float32', [B, B])
  const neg = chooseNegatives(s, { kind: 'partner' }, bias)
  const g = d.graph('negatives', [s, bias], { image: neg.negImage, text: neg.negText })
  const score = scores(3)
  const hard = negatives({ kind: 'hard' }, score, gumbelNoise([2, B, B], mulberry32(0)))
  const b = new Float32Array(B * B)
  b[0 * B + 5] = b[5 * B + 0] = ITM_BIAS_PARTNER // 0 and 5 are partners
  const sunk = hard.text[1] // image 1's hard text may not be a negative
  b[1 * B + sunk] = b[sunk * B + 1] = ITM_BIAS_EXCLUDE
  const out = get(evaluate(g, { score: { dtype: 'float32', shape: [B, B], data: score }, [ITM_BIAS]: { dtype: 'float32', shape: [B, B], data: b } }))
  const image = Array.from(out.image.data as BigInt64Array, Number)
  const text = Array.from(out.text.data as BigInt64Array, Number)
  assert.is(text[0], 5)
  assert.is(text[5], 0)
  assert.is(image[0], 5)
  assert.is(image[5], 0)
  assert.ok(text[1] !== sunk && text[1] !== 1, `image 1: text ${text[1]}`)
  for (const k of [2, 3, 4, 6, 7]) if (k !== sunk) assert.is(text[k], hard.text[k], `image ${k}: the argmax where the bias is 0`)
  const graph = trainingLossGraph(c, 4, 6, { objectives: ['itc', 'ftc', 'itm'], negatives: { kind: 'partner' } })
  assert.equal(graph.inputs.map((i) => [i.attrs.name, i.shape]).slice(3), [[ITM_BIAS, [4, 4]]])
})

test('a mode is the graph it was; hard negatives take no noise input, the others do', () => {
  const all = { objectives: ['itc', 'ftc', 'itm', 'mlm'] as const, negatives: { kind: 'hard' } as const }
  assert.is(printGraph(trainingLossGraph(c, 4, 6, all)), printGraph(trainingLossGraph(c, 4, 6, 'pretrain')))
  assert.is(printGraph(trainingLossGraph(c, 4, 6, { ...all, objectives: ['itc', 'ftc', 'itm'] })), printGraph(trainingLossGraph(c, 4, 6, 'retrieval')))
  const hard = trainingLossGraph(c, 4, 6, 'pretrain')
  assert.equal(hard.inputs.map((i) => i.attrs.name), ['pixels', 'input_ids', 'attention_mask', 'mlm_input_ids', 'mlm_labels'])
  assert.equal(hard.outputs.map((o) => o.name), ['loss', 'loss_itc', 'loss_ftc', 'loss_itm', 'loss_mlm', 'itm_neg_image', 'itm_neg_text'])
  const random = trainingLossGraph(c, 4, 6, { objectives: ['itc', 'itm'], negatives: { kind: 'random' } })
  const noise = random.inputs.find((i) => i.attrs.name === ITM_NOISE)
  assert.equal(noise?.shape, [2, 4, 4])
  assert.equal(random.outputs.map((o) => o.name), ['loss', 'loss_itc', 'loss_itm', 'itm_neg_image', 'itm_neg_text'])
})

test('--itm-detach: ITM reaches the relation module and the ITM head only; with ITC and FTC the encoders get theirs alone', () => {
  /** The parameters a gradient of `loss` reaches. */
  const reached = (o: Parameters<typeof trainingLossGraph>[3]): string[] => {
    const g = trainingLossGraph(c, 4, 6, o)
    const loss = g.outputs.find((x) => x.name === 'loss')?.node
    if (loss === undefined) throw new Error('no loss')
    const ps = [...paramsOf(g)]
    const r = backwardReached(loss, ps)
    return ps.filter((_, i) => r[i] !== null).map((p) => p.attrs.name)
  }
  const fusion = (n: string): boolean => n.startsWith('itm_head') || /encoder\.layer\.[23]\./.test(n)
  const itm = { objectives: ['itm'] as const, negatives: { kind: 'hard' } as const }
  const attached = reached(itm)
  const detached = reached({ ...itm, itmDetach: true })
  assert.ok(detached.length > 0 && detached.every(fusion), detached.filter((n) => !fusion(n)).join(' '))
  assert.ok(attached.some((n) => n.startsWith('visual_encoder.')) && attached.some((n) => n.includes('embeddings')), 'without it, ITM trains the encoders')
  assert.equal(detached, attached.filter(fusion))
  const all = { objectives: ['itc', 'ftc', 'itm'] as const, negatives: { kind: 'hard' } as const }
  assert.equal(reached({ ...all, itmDetach: true }).sort(), reached(all).sort(), 'ITC and FTC still train every encoder parameter')
  assert.match(trainingLossGraph(c, 4, 6, { ...all, itmDetach: true }).name, /detached/)
})

test('ITC alone: its AdamW step updates only what ITC uses', () => {
  const step = get(cmgaTrainStep(c, 4, 6, { objectives: ['itc'], negatives: { kind: 'hard' } }, adamwDefaults))
  const names = step.params.map((p) => p.name)
  assert.equal(step.graph.inputs.filter((i) => !i.attrs.name.startsWith('adam.')).map((i) => i.attrs.name), ['pixels', 'input_ids', 'attention_mask', 'lr'])
  assert.ok(names.includes('temp') && names.includes('vision_proj.weight') && names.includes('text_proj.weight'), names.join(' '))
  const unused = names.filter((n) => n.startsWith('itm_head') || n.includes('cls.predictions') || n.includes('crossattention') || /encoder\.layer\.[23]\./.test(n))
  assert.equal(unused, [], 'no ITM head, MLM head or fusion layer')
  const full = get(cmgaTrainStep(c, 4, 6, 'pretrain', adamwDefaults)).params.map((p) => p.name)
  assert.ok(names.every((n) => full.includes(n)) && names.length < full.length, `${names.length} of ${full.length} parameters`)
  assert.equal(step.graph.outputs.filter((o) => o.name.startsWith('loss')).map((o) => o.name), ['loss', 'loss_itc'])
})

test.run()
