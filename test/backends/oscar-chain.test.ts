/**
 * profile and predict when the cloud is a chain of OSCAR services (deploy --split_layers): the
 * stage services run only their own part, so the cloud side is measured in the chain's service
 * that runs whatever parts a payload names (its last one), through that service's own paths.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, afterEach, before, describe, it } from 'node:test';
import { parse as parseCsv } from 'csv-parse/sync';
import { runnerService } from '../../src/backends/oscar-chain.js';
import { OscarClient } from '../../src/backends/oscar-client.js';
import { buildRunConfig, type RunFlags } from '../../src/config/run-config.js';
import { profileModel } from '../../src/profile/layer-profiler.js';
import { readProfile } from '../../src/profile/layer-profile.js';
import { randomInputs } from '../../src/split/random-inputs.js';
import { JOB_CALIBRATION_REP } from '../../src/profile/cycle-calibration.js';
import { cli } from '../cli-helper.js';
import { PASSWORD, startOscarFixture, USER, type OscarFixture } from './oscar-fixture.js';

const BUCKET = 'oscar-chain';
let f: OscarFixture;

before(async () => {
  f = await startOscarFixture(BUCKET, 'oscar-chain');
  const layers = [f.analysis.splitPoints[3]!.splitLayer, f.analysis.splitPoints[7]!.splitLayer];
  const r = await cli(['deploy', '--onnx_file', f.modelFile, '--split_layers', ...layers, '--oscar_service', 'pchain', '--oscar_endpoint', f.server.url, '--minio_bucket', BUCKET, '--threads', '1', '--onnx_path', join(f.dir, 'fdl'), '--apply']);
  assert.equal(r.code, 0, r.err);
});
after(async () => f?.stop());
afterEach(() => f.checkSpec());

const oscar = (service: string) => ['--cloud', 'oscar', '--oscar_endpoint', f.server.url, '--oscar_service', service];
const jobsOf = (service: string) => [...f.server.jobs.values()].filter((j) => j.service === service);

describe('profile and predict through a chain of OSCAR services', () => {
  it('profile --oscar_service <chain> measures every node in a job of the chain’s last service, through its own paths', async () => {
    const results = join(f.dir, 'chain.csv');
    const r = await cli(['profile', '--onnx_file', f.modelFile, '--rep', '2', '--warmup', '0', '--threads', '1', '--results_file', results, ...oscar('pchain')]);
    assert.equal(r.code, 0, r.err);
    assert.match(r.err, /OSCAR service 'pchain-1' is a stage of a chain \(pchain-1 -> pchain-2\) and runs only its own part; the cloud side runs in 'pchain-2', the chain's service that runs any parts/);
    const p = await readProfile(join(f.dir, 'chain.profile.csv'));
    assert.equal(p.settings.cloud.backend, 'oscar');
    assert.equal(p.settings.cloud.threads, 1);
    const cloud = p.nodes.filter((n) => n.side === 'cloud');
    assert.equal(cloud.length, f.analysis.index.nodes.length, 'every node has a cloud row');
    assert.ok(cloud.every((n) => n.runs === 2) && cloud.some((n) => n.medianMs > 0));
    // The request and the calibration cycles went to pchain-2's input path (pchain-1's output path); no stage job ran.
    assert.deepEqual(jobsOf('pchain-1'), []);
    const jobs = jobsOf('pchain-2');
    assert.equal(jobs.filter((j) => new RegExp(`^${BUCKET}/pchain-1-out/.*-0-profile\\.pb$`).test(j.object)).length, 1, jobs.map((j) => j.object).join(', '));
    assert.equal(jobs.length, 1 + 3 * JOB_CALIBRATION_REP);
    assert.ok(jobs.every((j) => j.status === 'Succeeded'));
    assert.deepEqual(await f.store.store.list('pchain-1-out/'), []);
    assert.deepEqual(await f.store.store.list('pchain-out/'), []);
  });

  it('predict without --profile profiles through the chain named by its first stage and predicts every split point', async () => {
    const out = join(f.dir, 'chain.predict.csv');
    const r = await cli(['predict', '--onnx_file', f.modelFile, '--profile_rep', '2', '--threads', '1', '--results_file', out, ...oscar('pchain-1')]);
    assert.equal(r.code, 0, r.err);
    const rows = parseCsv(readFileSync(out, 'utf8'), { columns: true }) as Record<string, string>[];
    assert.deepEqual(rows.map((x) => Number(x.split_index)), f.analysis.splitPoints.map((s) => s.index));
    assert.ok(rows.every((x) => Number(x.cloud_ms) >= 0 && Number.isFinite(Number(x.total_ms))));
    assert.ok(Number(rows[0]!.cloud_ms) > 0, 'cloud only: the whole model in the cloud');
    assert.deepEqual(jobsOf('pchain-1'), [], 'no stage job ran');
  });

  it('predict gives its warnings to the caller: the CLI prints the chain warning once, on its err, and --json carries it', async () => {
    const out = join(f.dir, 'chain-warn.predict.csv');
    const { value: r, stderr } = await capturingStderr(() => cli(['predict', '--onnx_file', f.modelFile, '--profile_rep', '1', '--threads', '1', '--json', '--results_file', out, ...oscar('pchain-1')]));
    assert.equal(r.code, 0, r.err);
    const chain = r.errLines.filter((l) => CHAIN_WARNING.test(l));
    assert.equal(chain.length, 1, r.errLines.join('\n'));
    assert.match(chain[0]!, /^onnx-manager: warning: OSCAR service 'pchain-1' is a stage of a chain/);
    assert.equal(stderr, '', 'nothing written to stderr behind the caller');
    // The JSON follows the line that says where the profile was written.
    const json = JSON.parse(r.out.slice(r.out.indexOf('\n{') + 1)) as { warnings: string[] };
    assert.equal(json.warnings.filter((l) => CHAIN_WARNING.test(l)).length, 1, json.warnings.join('\n'));
    assert.ok(json.warnings.every((l) => !l.startsWith('onnx-manager:')), 'the data holds the warnings themselves');
  });

  it('profileModel (the library) gives the chain warning to its warn option, not to stderr', async () => {
    const lines: string[] = [];
    const config = buildRunConfig({ cloud: 'oscar', oscar_endpoint: f.server.url, oscar_service: 'pchain-1', threads: 1, warmup: 0 } as RunFlags);
    const { stderr } = await capturingStderr(() => profileModel(f.analysis, config, { feeds: randomInputs(f.analysis, 1), rep: 1, warn: (l) => lines.push(l) }));
    assert.equal(lines.filter((l) => CHAIN_WARNING.test(l)).length, 1, lines.join('\n'));
    assert.equal(stderr, '');
  });
});

const CHAIN_WARNING = /OSCAR service 'pchain-1' is a stage of a chain \(pchain-1 -> pchain-2\)/;

/** `f`'s value and what was written to process.stderr while it ran. */
async function capturingStderr<T>(f: () => Promise<T>): Promise<{ value: T; stderr: string }> {
  const written: string[] = [];
  const write = process.stderr.write.bind(process.stderr);
  process.stderr.write = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
    written.push(String(chunk));
    return (write as (c: string | Uint8Array, ...r: unknown[]) => boolean)(chunk, ...rest);
  }) as typeof process.stderr.write;
  try {
    return { value: await f(), stderr: written.join('') };
  } finally {
    process.stderr.write = write;
  }
}

describe('run_all through a chain of OSCAR services', () => {
  it('runs each split point’s cloud side in a job of the chain’s last service', async () => {
    const csv = join(f.dir, 'chain-run.csv');
    const r = await cli(['run_all', '--onnx_file', f.modelFile, '--splits', '2', '--rep', '1', '--warmup', '0', '--threads', '1', '--results_file', csv, ...oscar('pchain')]);
    assert.equal(r.code, 0, r.err);
    const [row] = parseCsv(readFileSync(csv, 'utf8'), { columns: true }) as Record<string, string>[];
    assert.equal(row!.status, 'ok', row!.error);
    assert.ok(Number(row!.max_abs_diff) <= 1e-5);
    assert.match(row!.job_name!, /^pchain-2-/);
    assert.deepEqual(jobsOf('pchain-1'), []);
  });
});

describe('finding the service that runs a chain’s cloud side', () => {
  it('warns about a stage deployed with other settings, and refuses a stage whose output path leads to no service', async () => {
    const client = new OscarClient({ endpoint: f.server.url, auth: { kind: 'basic', username: USER, password: PASSWORD } });
    const stage = f.server.services.get('pchain-1')!;
    const cpu = stage.cpu;
    stage.cpu = '3.5';
    const lines: string[] = [];
    try {
      const { service, chain } = await runnerService(client, 'pchain-1', (l) => lines.push(l));
      assert.equal(service.name, 'pchain-2');
      assert.deepEqual(chain.map((s) => s.name), ['pchain-1', 'pchain-2']);
    } finally {
      stage.cpu = cpu;
    }
    assert.equal(lines.length, 2, lines.join('\n'));
    assert.match(lines[1]!, /^OSCAR service 'pchain-1' runs with other settings than 'pchain-2' \(cpu "3\.5" against "1\.0"\): its part's times differ/);
    const plain: string[] = [];
    assert.equal((await runnerService(client, 'pchain-2', (l) => plain.push(l))).service.name, 'pchain-2');
    assert.deepEqual(plain, [], 'a service that runs any parts is used as it is');
    await f.server.addService({
      name: 'orphan-1',
      input: [{ storage_provider: 'minio.default', path: `${BUCKET}/orphan-in` }],
      output: [{ storage_provider: 'minio.default', path: `${BUCKET}/orphan-1-out` }],
      environment: { variables: { ONNX_MANAGER_STAGE_PARTS: 'ab'.repeat(32) } },
    });
    await assert.rejects(runnerService(client, 'orphan', () => undefined), /OSCAR service 'orphan-1' is a stage of a chain \(ONNX_MANAGER_STAGE_PARTS\) whose output path oscar-chain\/orphan-1-out leads nowhere: no service has it as its input path/);
  });
});
