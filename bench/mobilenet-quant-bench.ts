/**
 * quant_model on a trained ImageNet-style CNN (not a test): `node dist/bench/mobilenet-quant-bench.js
 * [--share DIR]`.
 *
 * The model: nsfwjs's trained MobileNetV2 (Keras, 224x224 RGB / 255, 5 classes), converted to ONNX
 * by test/models/nsfw-mobilenet.ts. The pictures: the photographs among the wallpapers of Debian's
 * mate-backgrounds and plasma-workspace-wallpapers packages (PHOTOS below, under /usr/share or
 * --share DIR; `apt-get install mate-backgrounds plasma-workspace-wallpapers`, or
 * `apt-get download` both and `dpkg-deb -x` them into DIR). Each photograph gives 5 views at
 * 224x224: the whole picture (its centre square) and the four quarters of that square. Two thirds
 * of the photographs are measured, the other third calibrates (--calibration_batch), so no
 * measured picture is seen by calibration.
 *
 * Per variant (QInt8 per tensor and per channel, each without and with calibration; QInt8 per
 * channel with ConvInteger instead of the default weight_only Convs; QUInt8 per tensor, which
 * only re-finds the uint8 grid the shipped weights are stored on; QUInt8 per channel calibrated): size against the float model, max / mean abs difference and relative L2 of
 * the probabilities, relative L2 of the logits (the input of the Softmax), top-1 agreement, and
 * the median inference time of the float and the quantised model, both in the same compareModels
 * call (one thread each). Prints the table and writes results/bench/mobilenet-quant.json.
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import sharp from 'sharp';
import { modelFromBytes } from '../src/onnx/model.js';
import { calibrate } from '../src/quant/calibrate.js';
import { compareModels, splitBatch } from '../src/quant/compare.js';
import { quantiseModel, type QuantiseOptions } from '../src/quant/quantise.js';
import { imageFolderToTensor, NORMALISATION_PRESETS } from '../src/tensor/images.js';
import { NSFW_CLASSES, NSFW_INPUT, nsfwMobileNetOnnx } from '../test/models/nsfw-mobilenet.js';
import { firstOutput, logitsModel, relL2 } from '../test/quant/real-metrics.js';
import type { RealQuantRow } from './quant-bench.js';

/** The photographs (not drawings or renderings) among the two packages' wallpapers, under /usr/share. */
export const PHOTOS: readonly string[] = [
  ...['Aqua', 'Blinds', 'Dune', 'FreshFlower', 'Garden', 'GreenMeadow', 'LadyBird', 'RainDrops', 'Storm', 'TwoWings', 'Wood', 'YellowFlower'].map((n) => `backgrounds/mate/nature/${n}.jpg`),
  ...['BytheWater', 'ColdRipple', 'DarkestHour', 'EveningGlow', 'FallenLeaf', 'Grey', 'Kite', 'Path', 'summer_1am'].map((n) => `wallpapers/${n}/contents/images/1920x1080.jpg`),
  'wallpapers/ColorfulCups/contents/images/2560x1600.jpg',
  'wallpapers/MilkyWay/contents/images/1080x1920.png',
  'wallpapers/Volna/contents/images/5120x2880.jpg',
];

/** The photographs' 224x224 views as PNG files in `dir`; which photographs: every third calibrates. */
async function writeViews(share: string, dir: string, calibration: boolean): Promise<number> {
  mkdirSync(dir, { recursive: true });
  let n = 0;
  for (const [i, rel] of PHOTOS.entries()) {
    if ((i % 3 === 2) !== calibration) continue;
    const file = path.join(share, rel);
    const square = await sharp(file).resize(896, 896, { fit: 'cover' }).removeAlpha().png().toBuffer();
    const views = [{ left: 0, top: 0, size: 896 }, ...[0, 1, 2, 3].map((q) => ({ left: (q % 2) * 448, top: (q >> 1) * 448, size: 448 }))];
    for (const [v, r] of views.entries()) {
      const out = path.join(dir, `${String(i).padStart(2, '0')}-${v}.png`);
      await sharp(square).extract({ left: r.left, top: r.top, width: r.size, height: r.size }).resize(224, 224).png().toFile(out);
      n++;
    }
  }
  return n;
}

/** The figures of quant-bench's rows for the PP-OCR models, per variant. */
export type MobileNetQuantRow = Pick<RealQuantRow, 'bytesBefore' | 'bytesAfter' | 'sizeRatio' | 'maxAbs' | 'meanAbs' | 'relL2' | 'logitRelL2' | 'floatMs' | 'quantMs'> & {
  variant: string;
  top1: number;
  rows: number;
  /** Quantising, plus the calibration for a calibrated variant. */
  quantiseS: number;
};

/** Why the photographs cannot be read under `share`, or undefined when they all are there. */
export function photosMissing(share = '/usr/share'): string | undefined {
  const missing = PHOTOS.filter((p) => !existsSync(path.join(share, p)));
  if (!missing.length) return undefined;
  return `${missing.length} photographs missing under ${share} (first: ${missing[0]}): apt-get install mate-backgrounds plasma-workspace-wallpapers, or give --share DIR`;
}

export async function runMobileNetQuantBench(opts: { share?: string; rounds?: number; outFile?: string | null } = {}): Promise<MobileNetQuantRow[]> {
  const share = opts.share ?? '/usr/share';
  const missing = photosMissing(share);
  if (missing) throw new Error(missing);
  const dir = mkdtempSync(path.join(tmpdir(), 'mobilenet-quant-'));
  const rows: MobileNetQuantRow[] = [];
  const load = [loadavg()[0]!];
  try {
    const measured = await writeViews(share, path.join(dir, 'measured'), false);
    const calibrationViews = await writeViews(share, path.join(dir, 'calibration'), true);
    const layout = { layout: 'NCHW', channels: 3, height: 224, width: 224, dtype: 'float32' } as const;
    const feeds = { [NSFW_INPUT.name]: await imageFolderToTensor(path.join(dir, 'measured'), layout, NORMALISATION_PRESETS.unit) };
    const calibrationFeeds = { [NSFW_INPUT.name]: await imageFolderToTensor(path.join(dir, 'calibration'), layout, NORMALISATION_PRESETS.unit) };
    const bytes = nsfwMobileNetOnnx();
    const model = modelFromBytes(bytes, { file: 'nsfwjs_mobilenet_v2.onnx' });
    const floatLogits = await firstOutput(logitsModel(bytes).bytes, feeds);
    // What the float model says the measured views are, and how sure it is (top-1 minus top-2 probability).
    const classes: Record<string, number> = {};
    const margins: number[] = [];
    for (let r = 0; r < floatLogits.length / NSFW_CLASSES.length; r++) {
      const row = Array.from(floatLogits.subarray(r * NSFW_CLASSES.length, (r + 1) * NSFW_CLASSES.length));
      const p = row.map((v) => Math.exp(v - Math.max(...row)));
      const sorted = [...p].sort((a, b) => b - a).map((v) => v / p.reduce((a, b) => a + b, 0));
      const top = NSFW_CLASSES[row.indexOf(Math.max(...row))]!;
      classes[top] = (classes[top] ?? 0) + 1;
      margins.push(sorted[0]! - sorted[1]!);
    }
    margins.sort((a, b) => a - b);
    const t0 = performance.now();
    const calibration = await calibrate(model, splitBatch(calibrationFeeds), { session: { intraOpNumThreads: 1 } });
    const calibrationS = (performance.now() - t0) / 1000;
    const variants: { variant: string; options: QuantiseOptions }[] = [
      { variant: 'QInt8 per tensor', options: { quantType: 'QInt8' } },
      { variant: 'QInt8 per tensor, calibrated', options: { quantType: 'QInt8', calibration } },
      { variant: 'QInt8 per channel', options: { quantType: 'QInt8', perChannel: true } },
      { variant: 'QInt8 per channel, calibrated', options: { quantType: 'QInt8', perChannel: true, calibration } },
      { variant: 'QInt8 per channel, ConvInteger', options: { quantType: 'QInt8', perChannel: true, convPattern: 'integer' } },
      // The shipped weights are uint8 per tensor already (min + scale * q): this re-finds that grid.
      { variant: 'QUInt8 per tensor', options: { quantType: 'QUInt8' } },
      { variant: 'QUInt8 per channel, calibrated', options: { quantType: 'QUInt8', perChannel: true, calibration } },
    ];
    for (const v of variants) {
      const t1 = performance.now();
      const q = quantiseModel(model, v.options);
      const quantiseS = (performance.now() - t1) / 1000 + (v.options.calibration ? calibrationS : 0);
      const cmp = await compareModels(bytes, q.bytes, splitBatch(feeds), { session: { intraOpNumThreads: 1 }, rounds: opts.rounds ?? 2, warmup: 1 });
      const o = cmp.outputs[0]!;
      load.push(loadavg()[0]!);
      rows.push({
        variant: v.variant,
        bytesBefore: bytes.length,
        bytesAfter: q.bytes.length,
        sizeRatio: q.bytes.length / bytes.length,
        maxAbs: o.maxAbs,
        meanAbs: o.meanAbs,
        relL2: o.relL2,
        logitRelL2: relL2(floatLogits, await firstOutput(logitsModel(q.bytes).bytes, feeds)),
        top1: o.top1Agreement!,
        rows: o.rows,
        floatMs: cmp.timing.floatMs,
        quantMs: cmp.timing.quantMs,
        quantiseS,
      });
    }
    const pct = (x: number) => `${(x * 100).toFixed(2)}%`;
    console.log(`nsfwjs MobileNetV2, ${measured} views of ${PHOTOS.length - Math.floor(PHOTOS.length / 3)} photographs measured, ${calibrationViews} views of ${Math.floor(PHOTOS.length / 3)} others calibrate (${calibrationS.toFixed(1)} s); load ${Math.min(...load).toFixed(1)}-${Math.max(...load).toFixed(1)}`);
    const under = (m: number) => margins.filter((v) => v < m).length;
    console.log(`float top-1 classes: ${JSON.stringify(classes)}; top-1 minus top-2 probability: median ${margins[margins.length >> 1]!.toFixed(2)}, under 0.1 on ${under(0.1)}, under 0.3 on ${under(0.3)}`);
    console.log(['variant'.padEnd(32), 'size', 'max abs', 'mean abs', 'rel L2', 'logits rel L2', 'top-1', 'float ms', 'quant ms', 'quantise s'].join('\t'));
    for (const r of rows) {
      console.log([r.variant.padEnd(32), `${r.sizeRatio.toFixed(3)}x`, r.maxAbs.toFixed(4), r.meanAbs.toExponential(2), pct(r.relL2), pct(r.logitRelL2), `${pct(r.top1)} of ${r.rows}`, r.floatMs.toFixed(2), r.quantMs.toFixed(2), r.quantiseS.toFixed(1)].join('\t'));
    }
    const outFile = opts.outFile === undefined ? path.join('results', 'bench', 'mobilenet-quant.json') : opts.outFile;
    if (outFile) {
      mkdirSync(path.dirname(outFile), { recursive: true });
      writeFileSync(outFile, JSON.stringify({ date: new Date().toISOString(), load: [Math.min(...load), Math.max(...load)], measuredViews: measured, calibrationViews, calibrationS, floatClasses: classes, floatMargins: margins, rows }, null, 2));
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return rows;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const at = process.argv.indexOf('--share');
  runMobileNetQuantBench({ share: at > 0 ? process.argv[at + 1] : undefined }).catch((err) => {
    console.error(err);
    process.exit(1);
  });
}
