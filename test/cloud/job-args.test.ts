/**
 * onnx-cloud reads a job's plain command line without yargs (cloud/job-args.ts): what it reads is
 * exactly what the yargs parser makes of the same line, and everything else is left to yargs (that
 * a plain job runs without yargs at all: test/cloud/bundle.test.ts).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseCloudArgs } from '../../cloud/onnx-cloud.js';
import { quickCloudArgs, type CloudArgs } from '../../cloud/job-args.js';

const silent = { out: () => undefined, err: () => undefined, isTTY: false };

/** What yargs makes of argv, on the names onnx-cloud reads. */
async function byYargs(argv: string[]): Promise<Partial<CloudArgs>> {
  const parsed = await parseCloudArgs(argv, silent);
  assert.ok(!('code' in parsed), `yargs refused ${JSON.stringify(argv)}`);
  const keys: (keyof CloudArgs)[] = ['exec_type', 'device_type', 'threads', 'graph_opt', 'onnx_file', 'input_file', 'save_results', 'minio_bucket', 'input_key', 'output_key', 'serve', 'cloud_config', 'verbose'];
  return Object.fromEntries(keys.filter((k) => parsed.args[k] !== undefined).map((k) => [k, parsed.args[k]]));
}

const config = JSON.stringify({ provider: { name: 'cpu' }, graphOptimizationLevel: 'all', bucket: 'b', threads: 2 });

describe('onnx-cloud job arguments without yargs', () => {
  it('reads what the jobs and users give exactly as yargs does', async () => {
    const lines = [
      [],
      ['--input_file', 'in.pb', '--save_results', 'out/r.pb'],
      ['--input_file', '/tmp/x y/in.pb', '--save_results', 'r.pb', '--cloud_config', config],
      ['--input_key', 'input/r/3/0.pb', '--output_key', 'output/r/3/0.pb', '--cloud_config', config],
      ['--input_key=input/r/3/0.pb', '--output_key=output/r/3/0.pb', `--cloud_config=${config}`],
      ['--onnx_file', 'part2.onnx', '--input_file', 'in.pb', '--save_results', 'out.pb'],
      ['--onnx_file', 'a.onnx', 'b.onnx', 'c.onnx', '--input_file', 'in.pb', '--save_results', 'out.pb'],
      ['--save_results', 'out.pb', '--onnx_file', 'a.onnx', 'b.onnx', '--input_file', 'in.pb'],
      ['--input_file=a=b.pb', '--save_results', 'true', '--minio_bucket', '123'],
      ['--minio_bucket', 'bucket-1', '--input_file', 'in.pb'],
    ];
    for (const argv of lines) {
      const quick = quickCloudArgs(argv);
      assert.ok(quick, `read without yargs: ${JSON.stringify(argv)}`);
      assert.deepEqual(quick, await byYargs(argv), JSON.stringify(argv));
    }
  });

  it('leaves every other line to yargs', () => {
    const others = [
      ['--help'],
      ['-h'],
      ['--version'],
      ['--serve'],
      ['--serve', '--cloud_config', config],
      ['--threads', '2', '--input_file', 'in.pb'],
      ['--exec_type', 'GPU', '--input_file', 'in.pb'],
      ['--verbose', '--input_file', 'in.pb'],
      ['--input_file', 'a.pb', '--input_file', 'b.pb'],
      ['--input_file'],
      ['--input_file', '--save_results', 'r.pb'],
      ['--input_file='],
      ['--input_file', ''],
      ['--input_file', '-1'],
      ['--input-file', 'in.pb'],
      ['--inputFile', 'in.pb'],
      ['--onnx_file'],
      ['--onnx_file=a.onnx', 'b.onnx'],
      ['--onnx_file', 'a.onnx', '--onnx_file', 'b.onnx'],
      ['in.pb'],
      ['--input_file', 'in.pb', 'stray'],
      ['--', '--input_file', 'in.pb'],
      ['--no-input_file'],
      ['--input_file.x', 'in.pb'],
      ['--nope', 'x'],
    ];
    for (const argv of others) assert.equal(quickCloudArgs(argv), undefined, JSON.stringify(argv));
  });
});
