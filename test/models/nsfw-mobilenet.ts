/**
 * The trained MobileNetV2 that the devDependency nsfwjs ships (a Keras model as a TF.js layers
 * model: 224x224 RGB in, 5 classes out), read from its files without running them, and as an ONNX
 * model (tfjs-layers-onnx.ts).
 *
 * nsfwjs wraps model.json and the weight shard in UMD bundles (model.min.js: the model.json object
 * as a JavaScript literal; group1-shard1of1.min.js: the weights as one base64 string); the literal
 * after the bundle's `exports=` is parsed, never evaluated.
 *
 * Input of the ONNX model: `input_1`, float32 [N, 3, 224, 224], RGB, pixels divided by 255 (as
 * nsfwjs does; no mean or std, the `unit` normalisation preset); nsfwjs resizes a picture to
 * 224x224 bilinearly. Output `probabilities` [N, 5] (softmax over NSFW_CLASSES); the logits are
 * the input of that Softmax (the last Dense layer's Gemm).
 *
 * The weights are stored quantised by tfjs's converter (uint8 per tensor, with min and scale): the
 * float model here is what nsfwjs runs, weights restored as min + scale * q.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { encodeModel } from '../../src/onnx/codec.js';
import { literalAfter, type Literal } from './js-literal.js';
import { tfjsLayersToOnnx, type TfjsLayersArtifacts, type WeightSpec } from './tfjs-layers-onnx.js';
import { installed, projectRoot } from './zoo.js';

export const NSFW_CLASSES = ['Drawing', 'Hentai', 'Neutral', 'Porn', 'Sexy'] as const;
export const NSFW_INPUT = { name: 'input_1', dims: [1, 3, 224, 224] } as const;

/** The folder of nsfwjs's MobileNetV2 files. */
export function nsfwMobileNetDir(): string {
  return join(projectRoot(), 'node_modules', 'nsfwjs', 'dist', 'models', 'mobilenet_v2');
}

/** The module's exported value in a browserify UMD bundle: `{1:[function(e,a,n){a.exports=<literal>`. */
const EXPORTS = /\{1:\[function\(\w+,(\w+),\w+\)\{\1\.exports=/;

/** The topology, manifest and weight bytes of nsfwjs's MobileNetV2. */
export function readNsfwMobileNet(dir = nsfwMobileNetDir()): TfjsLayersArtifacts {
  const modelFile = installed(join(dir, 'model.min.js'));
  const json = literalAfter(readFileSync(modelFile, 'utf8'), EXPORTS, modelFile) as { [k: string]: Literal };
  const manifest = json.weightsManifest as { paths: string[]; weights: WeightSpec[] }[] | undefined;
  if (!Array.isArray(manifest) || manifest.length === 0) throw new Error(`${modelFile}: no weightsManifest`);
  const shards: Uint8Array[] = [];
  const weightSpecs: WeightSpec[] = [];
  for (const group of manifest) {
    weightSpecs.push(...group.weights);
    for (const p of group.paths) {
      const file = installed(join(dir, `${p}.min.js`));
      const b64 = literalAfter(readFileSync(file, 'utf8'), EXPORTS, file);
      if (typeof b64 !== 'string') throw new Error(`${file}: the bundle does not export a string`);
      shards.push(Buffer.from(b64, 'base64'));
    }
  }
  return { modelTopology: json.modelTopology ?? null, weightSpecs, weightData: Buffer.concat(shards) };
}

/** nsfwjs's MobileNetV2 as ONNX bytes. */
export function nsfwMobileNetOnnx(artifacts = readNsfwMobileNet()): Uint8Array {
  return encodeModel(
    tfjsLayersToOnnx(artifacts, {
      name: 'nsfwjs_mobilenet_v2',
      outputNames: ['probabilities'],
      docString: 'nsfwjs 4.4.0 MobileNetV2 (Keras, TF.js layers model) converted to NCHW; input RGB / 255; classes Drawing, Hentai, Neutral, Porn, Sexy',
    }),
  );
}
