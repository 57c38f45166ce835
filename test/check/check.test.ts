/**
 * `check` end to end: against a limits file tight enough, exactly the split points whose payload
 * (as a real run_all cycle sent it) or part files (as split_model_all wrote them, external data
 * included) exceed it fail; a limit nothing meets exits 1; AWS Lambda passes a zoo model
 * everywhere; a part with a large activation peaks higher than one with a small one; bad flags are
 * refused in one line; and no measuring process or temporary folder is left behind.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { measurePeaks, MeasureError } from '../../src/check/measure.js';
import { encodeModel } from '../../src/onnx/codec.js';
import type { ModelProto, TensorProto } from '../../src/onnx/types.js';
import { readRows } from '../../src/profile/csv.js';
import { Chunks } from '../../src/proto/writer.js';
import { cli } from '../cli-helper.js';
import { tempDirs, writeZooModel } from '../helpers.js';
import { GraphBuilder } from '../models/builder.js';
import { lenet5 } from '../models/zoo.js';

// This file's own temporary folder: the measuring folders it counts are then only its own, not
// those of other programs using the machine's /tmp at the same time.
const ownTmp = mkdtempSync(join(tmpdir(), 'onnx-manager-check-tmp-'));
process.env.TMPDIR = ownTmp;
after(() => rmSync(ownTmp, { recursive: true, force: true }));
const tempDir = tempDirs();

interface JsonRow {
  split_index: number;
  payload_bytes: number;
  edge_part_bytes?: number;
  cloud_part_bytes?: number;
  edge_peak_mb?: number;
  cloud_peak_mb?: number;
  pass: boolean | null;
  failures: { limit: string; side?: string }[];
}
interface CheckJson {
  rows: JsonRow[];
  passing: number;
  checked: number;
  limits: { platform: string; memory_mb?: number };
  memory?: { baseline_mb: number; processes: number };
}

const readJson = async (file: string) => JSON.parse(await readFile(file, 'utf8')) as CheckJson;

/** The measuring processes this process started that still run. */
function measuringChildren(): string[] {
  const r = spawnSync('ps', ['-o', 'pid=,args=', '--ppid', String(process.pid)], { encoding: 'utf8' });
  return r.stdout.split('\n').filter((l) => l.includes('part-peak.js'));
}

async function peakFolders(): Promise<string[]> {
  return (await readdir(tmpdir())).filter((f) => f.startsWith('onnx-manager-peaks-'));
}

/** Bytes of each part as split_model_all wrote it, the part and its external data file, by split index. */
async function writtenSizes(model: string, dir: string): Promise<Map<number, { edge?: number; cloud?: number }>> {
  const r = await cli(['split_model_all', '--onnx_file', model, '--onnx_path', dir]);
  assert.equal(r.code, 0, r.err);
  const manifest = JSON.parse(await readFile(join(dir, 'manifest.json'), 'utf8')) as { splits: { index: number; parts: string[]; sides: string[] }[] };
  const sizes = new Map<number, { edge?: number; cloud?: number }>();
  for (const s of manifest.splits) {
    const entry: { edge?: number; cloud?: number } = {};
    for (const [i, part] of s.parts.entries()) {
      const file = join(dir, part);
      const data = `${file}.data`;
      entry[s.sides[i] as 'edge' | 'cloud'] = (await stat(file)).size + (existsSync(data) ? (await stat(data)).size : 0);
    }
    sizes.set(s.index, entry);
  }
  return sizes;
}

/** lenet5 with every initializer of 1 KiB or more in weights.bin beside it. */
async function externalLenet(dir: string): Promise<string> {
  const proto: ModelProto = lenet5();
  const blobs: Uint8Array[] = [];
  let at = 0;
  proto.graph!.initializer = proto.graph!.initializer!.map((t): TensorProto => {
    if (!t.rawData || t.rawData.length < 1024) return t;
    const length = t.rawData.length;
    blobs.push(t.rawData);
    const moved: TensorProto = { ...t, rawData: new Uint8Array(0), dataLocation: 1, externalData: [{ key: 'location', value: 'weights.bin' }, { key: 'offset', value: String(at) }, { key: 'length', value: String(length) }] };
    delete moved.rawData;
    at += length;
    return moved;
  });
  await writeFile(join(dir, 'weights.bin'), Buffer.concat(blobs));
  const file = join(dir, 'lenet_external.onnx');
  await writeFile(file, encodeModel(proto));
  return file;
}

/** input -> Relu -> a 1x1 Conv to `channels` channels (the large activation) -> ReduceMean over channels. */
function wideModel(channels: number): ModelProto {
  const g = new GraphBuilder('wide', 3);
  const x = g.relu(g.input('input', [1, 3, 128, 128]));
  g.output(g.reduceMean(g.conv(x, channels, 1), [1]), 'mean');
  return g.build();
}

describe('check against a limits file', () => {
  let dir: string;
  let model: string;
  let payloads: Map<number, number>;
  let sizes: Map<number, { edge?: number; cloud?: number }>;

  before(async () => {
    dir = await tempDir('limits-file');
    model = writeZooModel('lenet5', dir);
    // The payload of every split point as a real cycle sent it (repetition 1).
    const csv = join(dir, 'lenet5-run.csv');
    const run = await cli(['run_all', '--onnx_file', model, '--rep', '2', '--warmup', '0', '--threads', '1', '--results_file', csv]);
    assert.equal(run.code, 0, run.err);
    payloads = new Map((await readRows(csv)).filter((r) => r.rep === '1').map((r) => [Number(r.split_index), Number(r.transfer_bytes)]));
    sizes = await writtenSizes(model, join(dir, 'parts'));
    assert.equal(payloads.size, sizes.size);
  });

  it('fails exactly the split points whose payload or part files exceed the limits', async () => {
    const last = sizes.size - 1;
    const sentBytes = [...payloads.values()].filter((b) => b > 0).sort((x, y) => x - y);
    const payloadLimit = sentBytes[Math.floor(sentBytes.length / 2)]!;
    const partBytes = [...sizes.values()].flatMap((s) => [s.edge, s.cloud]).filter((b): b is number => b !== undefined).sort((x, y) => x - y);
    const packageMb = partBytes[Math.floor(partBytes.length / 2)]! / 2 ** 20;
    const limitsFile = join(dir, 'tight.json');
    await writeFile(limitsFile, JSON.stringify({ version: 1, platform: 'tight', payload_bytes: payloadLimit, package_mb: packageMb }));

    for (const sides of ['both', 'cloud'] as const) {
      const results = join(dir, `tight-${sides}.csv`);
      const r = await cli(['check', '--onnx_file', model, '--limits', limitsFile, '--sides', sides, '--results_file', results]);
      assert.equal(r.code, 0, r.err);
      const j = await readJson(join(dir, `tight-${sides}.check.json`));
      assert.equal(j.rows.length, sizes.size);
      assert.equal(j.memory, undefined, 'no memory limit, nothing measured');
      let failing = 0;
      for (const row of j.rows) {
        const i = row.split_index;
        const s = sizes.get(i)!;
        assert.equal(row.payload_bytes, payloads.get(i), `payload of split ${i}`);
        assert.equal(row.edge_part_bytes, s.edge, `edge part of split ${i}`);
        assert.equal(row.cloud_part_bytes, s.cloud, `cloud part of split ${i}`);
        const expected = [
          ...(sides === 'both' && s.edge !== undefined && s.edge > packageMb * 2 ** 20 ? ['edge package_mb'] : []),
          ...(s.cloud !== undefined && s.cloud > packageMb * 2 ** 20 ? ['cloud package_mb'] : []),
          ...(i !== last && payloads.get(i)! > payloadLimit ? ['payload_bytes'] : []),
        ];
        assert.deepEqual(row.failures.map((f) => (f.side ? `${f.side} ${f.limit}` : f.limit)).sort(), expected.sort(), `failures of split ${i} (${sides})`);
        assert.equal(row.pass, sides === 'cloud' && i === last ? null : expected.length === 0, `pass of split ${i}`);
        if (expected.length) failing++;
      }
      assert.ok(failing > 0 && failing < sizes.size, `${failing} of ${sizes.size} fail`);
      assert.equal(j.passing, j.rows.filter((x) => x.pass === true).length);
      // The table and the CSV say the same.
      const csv = await readRows(join(dir, `tight-${sides}.check.csv`));
      assert.deepEqual(csv.map((c) => c.pass), j.rows.map((x) => (x.pass === null ? 'n/a' : x.pass ? 'yes' : 'no')));
      for (const row of j.rows) assert.match(r.out, new RegExp(`^\\s+${row.split_index}\\s.*\\s${row.pass === null ? 'n/a' : row.pass ? 'yes' : 'no'}\\b`, 'm'));
    }
  });

  it('counts external data in the part sizes, and measures parts that read it', async () => {
    const ext = await tempDir('external');
    const file = await externalLenet(ext);
    const written = await writtenSizes(file, join(ext, 'parts'));
    const limitsFile = join(ext, 'memory.json');
    await writeFile(limitsFile, JSON.stringify({ version: 1, memory_mb: 100000 }));
    const r = await cli(['check', '--onnx_file', file, '--limits', limitsFile, '--points', '0', '4', '--results_file', join(ext, 'x.csv'), '--json']);
    assert.equal(r.code, 0, r.err);
    const j = JSON.parse(r.out) as CheckJson;
    assert.deepEqual(j.rows.map((x) => x.split_index), [0, 4]);
    for (const row of j.rows) {
      const s = written.get(row.split_index)!;
      assert.equal(row.edge_part_bytes, s.edge);
      assert.equal(row.cloud_part_bytes, s.cloud);
      assert.ok(row.cloud_peak_mb! > 0 && row.pass === true);
    }
    assert.ok(existsSync(join(ext, 'parts', 'split_004', 'part2.onnx.data')), 'the cloud part has external data');
  });

  it('exits 1 with one line when no split point meets the limits', async () => {
    const limitsFile = join(dir, 'none.json');
    await writeFile(limitsFile, JSON.stringify({ version: 1, platform: 'nothing', package_mb: 0 }));
    const r = await cli(['check', '--onnx_file', model, '--limits', limitsFile, '--results_file', join(dir, 'none.csv')]);
    assert.equal(r.code, 1);
    assert.equal(r.errLines.length, 1);
    assert.match(r.err, /^onnx-manager: no split point of .*lenet5\.onnx passes the limits of nothing \(13 checked; broken: package_mb\)$/);
    const j = await readJson(join(dir, 'none.check.json'));
    assert.equal(j.passing, 0);
  });

  it('refuses bad limits and bad flags in one line, exit 2', async () => {
    const bad = join(dir, 'bad.json');
    await writeFile(bad, JSON.stringify({ version: 1, memory_mb: 'lots' }));
    const cases: [string[], RegExp][] = [
      [['--limits', bad], /"memory_mb" must be a number >= 0, got "lots"$/],
      [['--limits', join(dir, 'missing.json')], /missing\.json: cannot read the limits file \(no such file\)$/],
      [['--limits', 'azure'], /^onnx-manager: --limits azure: neither a built-in platform \(lambda, oscar\) nor a limits file here$/],
      [['--limits', 'oscar'], /--limits oscar needs the service's memory/],
      [['--limits', 'lambda', '--oscar_memory', '1Gi'], /^onnx-manager: check: --oscar_memory is for --limits oscar, and this check uses --limits lambda$/],
      [['--limits', 'lambda', '--points', '99'], /--points 99: .*lenet5\.onnx has split points 0\.\.12$/],
      [['--limits', 'lambda', '--sides', 'edge'], /sides/],
      [['--limits', 'lambda', '--jobs', '0'], /--jobs must be an integer >= 1, got 0/],
      [['--limits', 'oscar', '--oscar_memory', 'big'], /--oscar_memory 'big' is not a memory quantity/],
      [[], /limits/],
    ];
    await writeFile(join(dir, 'plain'), 'x');
    cases.push([['--limits', 'lambda', '--results_file', join(dir, 'plain', 'x.csv')], /--results_file .*x\.csv: .*plain is a file, not a folder$/]);
    for (const [argv, re] of cases) {
      const r = await cli(['check', '--onnx_file', model, ...(argv.includes('--results_file') ? [] : ['--results_file', join(dir, 'bad.csv')]), ...argv]);
      assert.equal(r.code, 2, `${argv.join(' ')}: ${r.err}`);
      assert.equal(r.errLines.length, 1, argv.join(' '));
      assert.match(r.err, re, argv.join(' '));
      assert.ok(!r.err.includes('\n'), argv.join(' '));
    }
  });
});

describe('check against AWS Lambda, with peak memory measured', () => {
  it('passes a zoo model at every split point, each part measured once, leaving nothing behind', async () => {
    const dir = await tempDir('lambda');
    const model = writeZooModel('lenet5', dir);
    const before = await peakFolders();
    const r = await cli(['check', '--onnx_file', model, '--limits', 'lambda', '--threads', '1', '--results_file', join(dir, 'lenet5.csv')]);
    assert.equal(r.code, 0, r.err);
    const j = await readJson(join(dir, 'lenet5.check.json'));
    assert.equal(j.limits.platform, 'AWS Lambda');
    assert.equal(j.passing, j.checked);
    assert.equal(j.checked, 13);
    for (const row of j.rows) {
      assert.equal(row.pass, true);
      assert.equal(row.edge_peak_mb !== undefined, row.edge_part_bytes !== undefined, `split ${row.split_index}`);
      assert.equal(row.cloud_peak_mb !== undefined, row.cloud_part_bytes !== undefined, `split ${row.split_index}`);
    }
    // 12 edge parts and 12 cloud parts; the cloud part of split 0 and the edge part of the last split are both the whole model.
    const parts = j.rows.reduce((n, x) => n + (x.edge_part_bytes !== undefined ? 1 : 0) + (x.cloud_part_bytes !== undefined ? 1 : 0), 0);
    assert.equal(j.memory!.processes, 3 + parts - 1, `${j.memory!.processes} processes for ${parts} parts`);
    assert.ok(j.memory!.baseline_mb > 0);
    assert.match(r.out, /13 of 13 split points pass/);
    assert.deepEqual(measuringChildren(), []);
    assert.deepEqual(await peakFolders(), before);
  });

  it('finds a higher peak for a part with a large activation than for one with a small one', async () => {
    const dir = await tempDir('wide');
    const file = join(dir, 'wide.onnx');
    const channels = 512; // 512 x 128 x 128 floats: a 32 MB activation in the cloud part
    await writeFile(file, encodeModel(wideModel(channels)));
    const r = await cli(['check', '--onnx_file', file, '--limits', 'oscar', '--oscar_memory', '64Gi', '--points', '1', '--threads', '1', '--results_file', join(dir, 'wide.csv'), '--json']);
    assert.equal(r.code, 0, r.err);
    const row = (JSON.parse(r.out) as CheckJson).rows[0]!;
    const activationMb = (channels * 128 * 128 * 4) / 2 ** 20;
    assert.ok(row.cloud_peak_mb! > row.edge_peak_mb! + activationMb / 2, `cloud ${row.cloud_peak_mb} MB, edge ${row.edge_peak_mb} MB`);

    // Cut after the Conv, the 32 MB activation is the payload: over Lambda's 6 MB as base64.
    const over = await cli(['check', '--onnx_file', file, '--limits', 'lambda', '--points', '2', '--sides', 'cloud', '--threads', '1', '--results_file', join(dir, 'wide.csv'), '--json']);
    assert.equal(over.code, 1);
    const cut = (JSON.parse(over.out) as CheckJson).rows[0]!;
    assert.equal(cut.pass, false);
    assert.deepEqual(cut.failures.map((f) => f.limit), ['payload_bytes']);
    assert.ok(cut.payload_bytes > channels * 128 * 128 * 4 && cut.payload_bytes < channels * 128 * 128 * 4 + 1024, `${cut.payload_bytes}`);
    assert.equal((cut.failures[0] as { value?: number }).value, Math.ceil(cut.payload_bytes / 3) * 4);
    assert.match(over.err, /no split point of .*wide\.onnx passes the limits of AWS Lambda \(1 checked; broken: payload_bytes\)$/);
  });

  it('stops every measuring process and removes its folder when one part fails or it is stopped', async () => {
    const before = await peakFolders();
    const good = new Chunks().push(encodeModel(wideModel(8)));
    const broken = new Chunks().push(new Uint8Array([1, 2, 3, 4, 5]));
    const inputs = [{ name: 'input', dtype: 'float32', dims: [1, 3, 128, 128] }];
    const parts = new Map([
      ['good-1', { part: { model: good }, inputs }],
      ['broken', { part: { model: broken }, inputs }],
      ['good-2', { part: { model: good }, inputs }],
      ['good-3', { part: { model: good }, inputs }],
    ]);
    await assert.rejects(measurePeaks(parts, { session: {}, seed: 1, jobs: 2 }), (e: Error) => e instanceof MeasureError && /^measuring part broken: onnxruntime could not load the model/.test(e.message));
    assert.deepEqual(measuringChildren(), []);
    assert.deepEqual(await peakFolders(), before);

    // Stopped from outside while its processes run.
    parts.delete('broken');
    const stop = new AbortController();
    const measuring = measurePeaks(parts, { session: {}, seed: 1, jobs: 2, signal: stop.signal });
    while (measuringChildren().length === 0) await new Promise((resolve) => setTimeout(resolve, 20));
    stop.abort();
    await assert.rejects(measuring, (e: Error) => e.name === 'AbortError');
    assert.deepEqual(measuringChildren(), []);
    assert.deepEqual(await peakFolders(), before);
  });
});
