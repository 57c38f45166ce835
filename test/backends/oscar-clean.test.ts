/**
 * What killed or failed sweeps leave under an OSCAR service's own paths (its input and output
 * folders, and the folder of --oscar_trigger job payloads: <folder>/<run>-<split>-<rep>.pb), found
 * and removed by `clean --run_id ID | --all` with the OSCAR flags and by `run_all --resume`, against
 * the loopback OSCAR and the embedded store: only the run's own objects, and with --all only
 * objects named by this tool's run ids.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, afterEach, before, describe, it } from 'node:test';
import { parse as parseCsv } from 'csv-parse/sync';
import { humanBytes } from '../../src/cli/format.js';
import { cli } from '../cli-helper.js';
import { startOscarFixture, type OscarFixture } from './oscar-fixture.js';

const BUCKET = 'oscar-clean';
const RUN_A = '20261201T150000-aaaa1111';
const RUN_B = '20261201T160000-bbbb2222';
let f: OscarFixture;

before(async () => {
  f = await startOscarFixture(BUCKET, 'oscar-clean');
  for (const name of ['csvc', 'dsvc']) {
    await f.server.addService({
      name,
      input: [{ storage_provider: 'minio.default', path: `${BUCKET}/${name}-in` }],
      output: [{ storage_provider: 'minio.default', path: `${BUCKET}/${name}-out` }],
      environment: { variables: { MINIO_ENDPOINT: f.store.endpoint, MINIO_BUCKET: BUCKET }, secrets: { MINIO_ACCESS_KEY: f.store.accessKey, MINIO_SECRET_KEY: f.store.secretKey } },
    });
  }
});
after(async () => f?.stop());
afterEach(() => f.checkSpec());

/** A run's objects as the oscar backend names them (a payload, its result, a warm-up, a profile, a job-trigger payload of a codec) and two of the store layout. */
function runKeys(run: string, svc = 'csvc'): string[] {
  return [
    `${svc}-in/${run}-2-0.pb`,
    `${svc}-out/${run}-2-0.pb`,
    `${svc}-in/${run}-3-w1.pb`,
    `${svc}-out/${run}-0-profile.pb`,
    `onnx-manager-jobs/${svc}/${run}-5-1-int8_axis_1.pb`,
    `input/${run}/2/0-int8_axis_1.pb`,
    `input/${run}/profile/0.pb`,
  ];
}

/** Objects no sweep of RUN_A or RUN_B wrote: they survive every clean. */
const OTHERS = [
  'models/0123abcd.onnx',
  'csvc-in/chain-run-3-0.pb',
  `csvc-in/${RUN_A}-notes.txt`,
  `csvc-out/${RUN_A}-2-0.pb.bak`,
  `csvc-in/${RUN_A}x-2-0.pb`,
  `csvc-in/${RUN_A}-7-2-0.pb`,
  `other-in/${RUN_A}-2-0.pb`,
  `onnx-manager-jobs/${RUN_A}-2-0.pb`,
];

/** Puts the objects (starting no job); returns the bytes of RUN_A's and RUN_B's. */
async function fill(): Promise<{ a: number; b: number }> {
  f.server.faults = { ignoreUpload: () => true };
  const bytes = { a: 0, b: 0 };
  try {
    for (const [i, key] of [...OTHERS, ...runKeys(RUN_A), ...runKeys(RUN_B, 'dsvc')].entries()) {
      const body = Buffer.alloc(100 + i, i);
      await f.store.store.put(key, body);
      if (key.includes(RUN_A) && !OTHERS.includes(key)) bytes.a += body.length;
      if (key.includes(RUN_B)) bytes.b += body.length;
    }
    // The loopback OSCAR's webhook looks at uploads every 25 ms: these start no job.
    await new Promise((r) => setTimeout(r, 100));
  } finally {
    f.server.faults = {};
  }
  return bytes;
}

const everything = async () => (await f.store.store.list('')).sort();
const oscar = (service?: string) => ['--oscar_endpoint', f.server.url, ...(service ? ['--oscar_service', service] : [])];

describe('OSCAR leftovers', () => {
  it('clean --run_id with --oscar_service removes the run’s objects under the service’s paths and the store layout, nothing else; --all those of every service, by this tool’s run ids only', async () => {
    const { a, b } = await fill();
    const where = `bucket '${BUCKET}' at ${f.store.endpoint}`;
    const r = await cli(['clean', '--run_id', RUN_A, ...oscar('csvc')]);
    assert.equal(r.code, 0, r.err);
    assert.equal(r.out, `removed 7 objects (${humanBytes(a)}) of run ${RUN_A} from ${where}: 2 under input/, 0 under output/, 2 under csvc-in/, 2 under csvc-out/, 1 under onnx-manager-jobs/csvc/`);
    assert.deepEqual(await everything(), [...OTHERS, ...runKeys(RUN_B, 'dsvc')].sort());
    // Another service's objects of the run are not under csvc's paths.
    const wrong = await cli(['clean', '--run_id', RUN_B, ...oscar('csvc')]);
    assert.equal(wrong.code, 0, wrong.err);
    assert.equal(wrong.out, `removed 2 objects (${humanBytes(100 + OTHERS.length + 7 + 5 + 100 + OTHERS.length + 7 + 6)}) of run ${RUN_B} from ${where}: 2 under input/, 0 under output/`);
    await fill();
    const all = await cli(['clean', '--all', ...oscar()]);
    assert.equal(all.code, 0, all.err);
    assert.equal(all.out, `removed 14 objects (${humanBytes(a + b)}) of 2 runs (${RUN_A}, ${RUN_B}) from ${where}: 4 under input/, 0 under output/, 2 under csvc-in/, 2 under csvc-out/, 1 under onnx-manager-jobs/csvc/, 2 under dsvc-in/, 2 under dsvc-out/, 1 under onnx-manager-jobs/dsvc/`);
    assert.deepEqual(await everything(), [...OTHERS].sort());
  });

  it('run_all --resume through OSCAR removes what the sweep it continues left under the service’s paths', async () => {
    const csv = join(f.dir, 'resume.csv');
    const args = ['run_all', '--onnx_file', f.modelFile, '--splits', '4', '--warmup', '0', '--results_file', csv, '--cloud', 'oscar', ...oscar('csvc')];
    const first = await cli([...args, '--rep', '1']);
    assert.equal(first.code, 0, first.err);
    const run = (parseCsv(readFileSync(csv, 'utf8'), { columns: true }) as Record<string, string>[])[0]!.run_id!;
    // As a sweep killed mid-split leaves them: a payload whose job had not started, and a result it did not collect.
    f.server.faults = { ignoreUpload: () => true };
    try {
      await f.store.store.put(`csvc-in/${run}-4-1.pb`, Buffer.from('left'));
      await f.store.store.put(`csvc-out/${run}-4-0.pb`, Buffer.from('left over'));
      await new Promise((r) => setTimeout(r, 100));
    } finally {
      f.server.faults = {};
    }
    const r = await cli([...args, '--rep', '2', '--resume']);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, new RegExp(`^removed 2 objects \\(13 B\\) of run ${run} from bucket '${BUCKET}' at .*: 0 under input/, 0 under output/, 1 under csvc-in/, 1 under csvc-out/ \\(left by the sweep this one resumes\\)$`, 'm'));
    assert.deepEqual((await everything()).filter((k) => k.includes(run)), [], 'the old run’s objects are gone, and the resumed sweep removed its own');
    assert.equal((parseCsv(readFileSync(csv, 'utf8'), { columns: true }) as Record<string, string>[]).length, 2);
  });
});
