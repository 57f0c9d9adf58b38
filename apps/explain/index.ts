/**
 * Explaining a prediction: which patches each compression layer keeps, how text tokens
 * align with visual tokens, and the scores, as data, JSON and a picture.
 * @since 0.1.0
 */
export { canvas, encodePng, type Canvas, type Rgb } from './canvas.js'
export { explainPair, type ExplainInput, type Explanation, type PairScores } from './explain.js'
export { explanationJson, type ExplainSource, type ExplanationJson, type LayerJson } from './json.js'
export { coverWeights, tracePatches, type CompressionStep, type Cover, type LayerPatches } from './patches.js'
export { LAYOUT, pictureLayout, renderExplanation, viridis, type PictureText } from './render.js'
export { explainImage, explainTokenizer, type ExplainRequest, type ExplainResult } from './run.js'
export { writeFilesAtomic } from './write.js'
