/**
 * A file of the wrong kind given for an input (a CSV or an image as the model, a model as a results
 * file, a profile or a cut file, a JSON that is no cut file): one line naming the file, what it is
 * expected to be and what it looks like.
 */
import { copyFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import sharp from 'sharp';
import { expectOneLineFailures } from '../cli-helper.js';
import { tempDirs, writeZooModel } from '../helpers.js';

const temp = tempDirs();

describe('input files of the wrong kind', () => {
  let dir: string;
  let model: string;
  const f = (name: string) => join(dir, name);
  before(async () => {
    dir = await temp('wrong-kind');
    model = writeZooModel('lenet5', dir);
    copyFileSync(model, f('model-copy.onnx'));
    writeFileSync(f('rows.csv'), 'split_index,total_ms\n0,1.5\n');
    writeFileSync(f('cut.json'), '{ "foo": 1 }\n');
    await sharp({ create: { width: 4, height: 4, channels: 3, background: 'red' } }).png().toFile(f('photo.png'));
  });

  it('each is one line naming the file, what it should be and what it looks like', async () => {
    const e = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    await expectOneLineFailures([
      [['list_layers', '--onnx_file', f('rows.csv')], new RegExp(`${e(f('rows.csv'))}: not a valid ONNX model \\(it looks like a CSV file\\)$`)],
      [['list_layers', '--onnx_file', f('photo.png')], new RegExp(`${e(f('photo.png'))}: not a valid ONNX model \\(it looks like a PNG image\\)$`)],
      [['list_layers', '--onnx_file', f('cut.json')], new RegExp(`${e(f('cut.json'))}: not a valid ONNX model \\(it looks like a JSON file\\)$`)],
      [['plot_results', '--results_file', model], new RegExp(`${e(model)}: not a CSV file \\(it looks like an ONNX model\\)$`)],
      [['recommend', '--onnx_file', model, '--results_file', f('model-copy.onnx')], new RegExp(`${e(f('model-copy.onnx'))}: not a run_all results CSV \\(it looks like an ONNX model\\)$`)],
      [['predict', '--onnx_file', model, '--measured', f('photo.png')], new RegExp(`${e(f('photo.png'))}: not a run_all results CSV \\(it looks like a PNG image\\)$`)],
      [['run_all', '--onnx_file', model, '--results_file', f('model-copy.onnx'), '--resume'], new RegExp(`${e(f('model-copy.onnx'))}: not a run_all results CSV \\(it looks like an ONNX model\\)$`)],
      [['predict', '--onnx_file', model, '--profile', f('model-copy.onnx')], new RegExp(`${e(f('model-copy.onnx'))}: not a profile CSV \\(it looks like an ONNX model\\)$`)],
      [['predict', '--onnx_file', model, '--profile', f('cut.json')], new RegExp(`${e(f('cut.json'))}: not a profile CSV \\(it looks like a JSON file\\)$`)],
      [['run', '--onnx_file', model, '--cut_file', f('model-copy.onnx')], new RegExp(`cut file ${e(f('model-copy.onnx'))}: not JSON \\(it looks like an ONNX model\\); expected \\{ "edge_nodes": \\["node name", \\.\\.\\.\\] \\}$`)],
      [['run', '--onnx_file', model, '--cut_file', f('cut.json')], /cut file .*cut\.json: expected \{ "edge_nodes": \["node name", \.\.\.\] \} \(a list of node or layer names\)$/],
    ]);
  });
});
