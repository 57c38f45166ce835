/**
 * A file named as input that is a device or a FIFO is refused before it is read, in one line:
 * /dev/zero as --onnx_file, --input_file, --results_file (plot_results), --profile, --cut_file,
 * --limits or --image_file was read without end, until the process ran out of memory.
 */
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { expectOneLineFailures } from '../cli-helper.js';
import { tempDirs, writeZooModel } from '../helpers.js';

const temp = tempDirs();
let dir: string;
let model: string;

before(async () => {
  dir = await temp('device-inputs');
  model = writeZooModel('lenet5', dir);
});

describe('inputs that are devices or FIFOs', () => {
  it('are refused naming the file, never read', { timeout: 120_000 }, async () => {
    const fifo = join(dir, 'fifo.onnx');
    execFileSync('mkfifo', [fifo]);
    const dev = '/dev/zero';
    await expectOneLineFailures([
      [['--operation', 'list_layers', '--onnx_file', dev], /^onnx-manager: \/dev\/zero: not a regular file \(a device, FIFO or socket\)$/],
      [['--operation', 'list_layers', '--onnx_file', fifo], /: not a regular file \(a device, FIFO or socket\)$/],
      [['--operation', 'run', '--onnx_file', model, '--split_layer', 'relu_2_out', '--input_file', dev], /^onnx-manager: \/dev\/zero: not a regular file/],
      [['--operation', 'plot_results', '--results_file', dev], /^onnx-manager: \/dev\/zero: not a regular file/],
      [['--operation', 'predict', '--onnx_file', model, '--profile', dev], /^onnx-manager: \/dev\/zero: cannot read the profile \(.*not a regular file/],
      [['--operation', 'run', '--onnx_file', model, '--cut_file', dev], /^onnx-manager: cut file \/dev\/zero: cannot read it \(not a regular file \(a device, FIFO or socket\)\)$/],
      [['--operation', 'check', '--onnx_file', model, '--limits', dev], /^onnx-manager: \/dev\/zero: cannot read the limits file \(not a regular file \(a device, FIFO or socket\)\)$/],
      [['--operation', 'data_processing', '--onnx_file', model, '--image_file', dev, '--output_file', join(dir, 'x.pb')], /^onnx-manager: cannot read image file \/dev\/zero: .*not a regular file/],
    ]);
  });
});
