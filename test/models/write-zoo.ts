/**
 * Writes the zoo models as .onnx files, for manual use:
 *
 *   node dist/test/models/write-zoo.js <dir> [--full]
 *
 * --full also writes the full-size MobileNetV2 and ResNet-18. Prints one line per model
 * (nodes, parameters, file size).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { encodeModel } from '../../src/onnx/codec.js';
import { modelStats } from './builder.js';
import { fullSizeZoo, zoo } from './zoo.js';

function main(argv: string[]): number {
  const full = argv.includes('--full');
  const dirs = argv.filter((a) => !a.startsWith('--'));
  if (dirs.length !== 1 || argv.some((a) => a.startsWith('--') && a !== '--full')) {
    console.error('usage: node dist/test/models/write-zoo.js <dir> [--full]');
    return 2;
  }
  const dir = dirs[0];
  mkdirSync(dir, { recursive: true });
  for (const m of full ? [...zoo, ...fullSizeZoo] : zoo) {
    const model = m.build();
    const bytes = encodeModel(model);
    const file = join(dir, `${m.name}.onnx`);
    writeFileSync(file, bytes);
    const s = modelStats(model);
    console.log(
      `${file}  nodes=${s.nodes} params=${s.params} bytes=${bytes.byteLength} inputs=${m.inputs
        .map((i) => `${i.name}[${i.dims.join(',')}]`)
        .join(' ')}`,
    );
  }
  return 0;
}

// `node --test dist/test/` treats every file under a test/ directory as a test file: do nothing there.
if (process.env.NODE_TEST_CONTEXT === undefined) {
  process.exitCode = main(process.argv.slice(2));
}
