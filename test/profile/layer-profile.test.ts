/**
 * The profile file: written whole, read back equal, and a file that is not a profile refused
 * with its name and what is wrong.
 */
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { cycleMs, cycleWaitMs, cycleScale, FIXED_COSTS, oddCalibrationLines, readProfile, writeProfile, type LayerProfile } from '../../src/profile/layer-profile.js';
import { withCycleCosts } from '../../src/profile/cycle-calibration.js';
import { tempDirs } from '../helpers.js';

const tempDir = tempDirs();

function sample(): LayerProfile {
  const fixed = Object.fromEntries(FIXED_COSTS.map((f, i) => [f, { medianMs: 0.01 * (i + 1), p95Ms: 0.02 * (i + 1), runs: 20 }])) as LayerProfile['fixed']['edge'];
  return {
    modelSha256: 'ab'.repeat(32),
    settings: { edge: { execType: 'CPU', threads: 1, graphOpt: 'disabled', backend: 'local' }, cloud: { execType: 'CPU', graphOpt: 'all', backend: 'ssh' } },
    nodes: [
      { side: 'edge', node: 'conv_0', opType: 'Conv', medianMs: 1.25, p95Ms: 1.5, runs: 20, outputBytes: 18816, params: 156, macs: 117600 },
      { side: 'cloud', node: 'conv_0', opType: 'Conv', medianMs: 0.5, p95Ms: 0.75, runs: 20, outputBytes: 18816, params: 156, macs: 117600 },
      { side: 'cloud', node: 'a "quoted", name', opType: 'Relu', medianMs: 0, p95Ms: 0.001, runs: 20, outputBytes: 0, params: 0, macs: 0 },
    ],
    fixed: { edge: fixed, cloud: fixed },
  };
}

describe('profile files', () => {
  it('read back what was written', async () => {
    const file = join(await tempDir('profile'), 'm.profile.csv');
    await writeProfile(file, sample());
    assert.deepEqual(await readProfile(file), sample());
  });

  it('keep the cycle costs, and read a profile without them (written before them) as costing nothing in a cycle', async () => {
    const dir = await tempDir('profile-cycle');
    const file = join(dir, 'm.profile.csv');
    const c = (v: number) => ({ medianMs: v, p95Ms: v, runs: 16 });
    const cycled = withCycleCosts(sample(), { edge: { cycle_ms: c(0.125), cycle_scale: c(1.5) }, cloud: { cycle_ms: c(0.375), cycle_scale: c(2), cycle_wait_ms: c(1.75) } });
    await writeProfile(file, cycled);
    const back = await readProfile(file);
    assert.deepEqual(back, cycled);
    assert.deepEqual([cycleMs(back, 'edge'), cycleMs(back, 'cloud'), cycleScale(back, 'edge'), cycleScale(back, 'cloud'), cycleWaitMs(back)], [0.125, 0.375, 1.5, 2, 1.75]);
    const old = join(dir, 'old.profile.csv');
    await writeFile(old, (await readFile(file, 'utf8')).replace(/^\w+,fixed,cycle_\w+,.*\n/gm, ''));
    const read = await readProfile(old);
    assert.deepEqual(read, sample());
    assert.deepEqual([cycleMs(read, 'edge'), cycleMs(read, 'cloud'), cycleScale(read, 'edge'), cycleScale(read, 'cloud'), cycleWaitMs(read)], [0, 0, 1, 1, 0]);
  });

  it("keep the store's costs and which store they were measured on; a profile without them reads as having none, a broken set is refused", async () => {
    const dir = await tempDir('profile-store');
    const file = join(dir, 'm.profile.csv');
    const costs = { put: { fixedMs: 3.5, perMbMs: 4.25 }, get: { fixedMs: 2.5, perMbMs: 4.5 }, notifyMs: 0.003, encode: { fixedMs: 0.11, perMbMs: 0.03 }, decode: { fixedMs: 0.12, perMbMs: 0.015 }, requests: 18, spread: 1.75 };
    const withStore: LayerProfile = { ...sample(), store: { store: 'http://minio.example:9000', costs } };
    await writeProfile(file, withStore);
    assert.deepEqual(await readProfile(file), withStore);
    // Without spread (a store measured before it was kept) it reads without it.
    const { spread: _s, ...steady } = costs;
    await writeProfile(file, { ...sample(), store: { store: 'embedded', costs: steady } });
    assert.deepEqual((await readProfile(file)).store, { store: 'embedded', costs: steady });
    const text = await readFile(file, 'utf8');
    await writeFile(file, text.replace(/^edge,store_cost,.*\n/gm, ''));
    assert.equal((await readProfile(file)).store, undefined);
    await writeFile(file, text.replace(/^edge,store_cost,get_fixed_ms,.*\n/m, ''));
    await assert.rejects(readProfile(file), /not a profile of this version \(store costs without get_fixed_ms\)/);
    await writeFile(file, text.replace(/^(edge,store_cost,notify_ms,.*),embedded$/m, '$1,http://other:9000'));
    await assert.rejects(readProfile(file), /store cost 'notify_ms' of store 'http:\/\/other:9000'/);
  });

  it('a calibration far off (a part in a cycle 26x slower than alone, as on a busy machine) is told in one line per side; a usual one says nothing', () => {
    const c = (v: number) => ({ medianMs: v, p95Ms: v, runs: 16 });
    const usual = withCycleCosts(sample(), { edge: { cycle_ms: c(0.5), cycle_scale: c(1.95) }, cloud: { cycle_ms: c(0.4), cycle_scale: c(2.19) } });
    assert.deepEqual(oddCalibrationLines(usual, [8.5], 2), []);
    assert.deepEqual(oddCalibrationLines(sample(), [0.1], 2), [], 'a profile without cycle costs');
    const busy = withCycleCosts(sample(), { edge: { cycle_ms: c(0.76), cycle_scale: c(1.2) }, cloud: { cycle_ms: c(0.4), cycle_scale: c(26.07) } });
    assert.deepEqual(oddCalibrationLines(busy, [10.1, 9, 8], 2), [
      "the profile's cloud parts ran 26.1x slower in its calibration cycles than alone (cycle_scale; load 10.1 on 2 cores now): every predicted cloud_ms is scaled by that; profile again on a quieter machine, or check against a sweep with --measured",
    ]);
  });

  it('say which tensor codecs they hold: raw alone, or the ones measured', async () => {
    const dir = await tempDir('profile-codecs');
    const file = join(dir, 'm.profile.csv');
    const rawOnly: LayerProfile = { ...sample(), codecs: { profiled: [], speed: {}, wire: {} } };
    await writeProfile(file, rawOnly);
    assert.match(await readFile(file, 'utf8'), /^edge,codec,raw,.*,raw,,,,$/m);
    assert.deepEqual(await readProfile(file), rawOnly);
    const speed = { encode: { callMs: 0.01, perMbMs: 0.5 }, decode: { callMs: 0.02, perMbMs: 0.25 }, tensors: 3, runs: 3 };
    const fp16: LayerProfile = { ...sample(), codecs: { profiled: ['fp16'], speed: { fp16: speed }, wire: { 1: { fp16: { wireBytes: 100, codedTensorBytes: 160, codedTensors: 1 } } } } };
    await writeProfile(file, fp16);
    const text = await readFile(file, 'utf8');
    assert.deepEqual(await readProfile(file), fp16);
    const bad: [string, RegExp][] = [
      [text.replace(/^(edge|cloud),codec_speed,.*\n/gm, ''), /codec fp16 is listed but has no codec_speed rows/],
      [text.replace('edge,codec,fp16,', 'edge,codec,zstd,'), /codec row 'zstd' of codec 'fp16'/],
    ];
    for (const [body, pattern] of bad) {
      await writeFile(file, body);
      await assert.rejects(readProfile(file), (e: Error) => pattern.test(e.message) && e.message.startsWith(file));
    }
  });

  it('refuse a file that is not a profile, naming it and the problem', async () => {
    const dir = await tempDir('profile-bad');
    const good = join(dir, 'good.csv');
    await writeProfile(good, sample());
    const text = await readFile(good, 'utf8');
    const cases: [string, RegExp][] = [
      ['split_index,total_ms\n1,2\n', /not a profile: it is a results file, with none of a profile's columns \(side, kind, node, op_type, \.\.\.\)/],
      ['side,kind,node,median_ms\nedge,node,conv_0,1\n', /not a profile of this version \(missing column\(s\) op_type, p95_ms/],
      [text.replace('edge,node,conv_0,Conv,1.25', 'edge,node,conv_0,Conv,-1'), /: line 2: median_ms '-1' is not a number >= 0/],
      [text.replace(/^edge,fixed,run_call.*\n/m, ''), /no edge run_call row/],
      [text.replace('cloud,node,conv_0', 'moon,node,conv_0'), /side 'moon'/],
      ['', /no rows/],
    ];
    for (const [body, pattern] of cases) {
      const f = join(dir, 'bad.csv');
      await writeFile(f, body);
      await assert.rejects(readProfile(f), (e: Error) => pattern.test(e.message) && e.message.startsWith(f));
    }
  });

  it('refuse a profile edited by hand whose numbers cannot be measurements, naming the file, the line and the column', async () => {
    const dir = await tempDir('profile-edited');
    const good = join(dir, 'good.csv');
    await writeProfile(good, sample());
    const text = await readFile(good, 'utf8');
    const lines = text.split('\n');
    const cell = (line: number, column: string, value: string): string => {
      const header = lines[0]!.split(',');
      const fields = lines[line - 1]!.split(',');
      fields[header.indexOf(column)] = value;
      return lines.map((l, i) => (i === line - 1 ? fields.join(',') : l)).join('\n');
    };
    const cases: [string, RegExp][] = [
      [cell(2, 'median_ms', 'abc'), /: line 2: median_ms 'abc' is not a number >= 0/],
      [cell(3, 'p95_ms', '-5'), /: line 3: p95_ms '-5' is not a number >= 0/],
      [cell(2, 'median_ms', 'NaN'), /: line 2: median_ms 'NaN' is not a number >= 0/],
      [cell(2, 'median_ms', ''), /: line 2: median_ms '' is not a number >= 0/],
      [cell(2, 'median_ms', ' '), /: line 2: median_ms ' ' is not a number >= 0/],
      [cell(2, 'threads', 'abc'), /: line 2: threads 'abc' is not a number of threads/],
      [cell(3, 'calibration_rtt_ms', 'abc'), /: line 3: calibration_rtt_ms 'abc' is not a number >= 0/],
      [lines.map((l, i) => (i === 2 ? l.split(',').slice(0, 5).join(',') : l)).join('\n'), /: line 3: 5 fields, the header has \d+/],
      [[lines[0]!.replace(',p95_ms', ''), ...lines.slice(1)].join('\n'), /missing column\(s\) p95_ms/],
      [[lines[0]!.replace(',wire_bytes', ''), ...lines.slice(1)].join('\n'), /: line 2: \d+ fields, the header has \d+/],
    ];
    for (const [body, pattern] of cases) {
      const f = join(dir, 'edited.csv');
      await writeFile(f, body);
      await assert.rejects(readProfile(f), (e: Error) => {
        assert.ok(e.message.startsWith(f), e.message);
        assert.match(e.message, pattern);
        assert.doesNotMatch(e.message, /\n/);
        return true;
      });
    }
    // A profile saved without its last newline (an editor's) keeps its last row.
    const unended = join(dir, 'unended.csv');
    await writeFile(unended, text.trimEnd());
    assert.deepEqual(await readProfile(unended), sample());
  });
});
