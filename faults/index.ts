#!/usr/bin/env node
/**
 * npm run faults: the fault suite. Injects faults into sweeps (the store killed and restarted,
 * the cloud worker killed and stopped, run_all killed and resumed) against the embedded S3
 * server and, when installed, OpenStack Swift's S3 API; and runs seeded corpora of mutated models
 * and payloads through list_layers, split_model_all, onnx-cloud and the cloud runner. Prints one
 * table; exits 0 only when every figure but the faults injected is 0.
 *
 *   node dist/faults/index.js [--seed 1] [--models 1000] [--payloads 1000] [--cli_sample 20]
 *     [--workers 2] [--deadline_s 60] [--rep 6] [--no-sweeps] [--no-swift] [--only models:123]
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { encodeModel } from '../src/onnx/codec.js';
import { zoo } from '../test/models/zoo.js';
import { runCorpus, type CorpusTotals } from './corpus.js';
import { mutatedModel } from './model-mutations.js';
import type { Finding } from './outcome.js';
import { embeddedStore, type FaultStore } from './stores.js';
import { startSwift, swiftMissing } from './swift.js';
import { runAllKilled, storeKilled, workerKilled, workerStopped, type SweepSetup, type SweepTally } from './sweep-faults.js';
import { allZero, tableText, type TableRow } from './table.js';

const { values: o } = parseArgs({
  options: {
    seed: { type: 'string', default: '1' },
    models: { type: 'string', default: '1000' },
    payloads: { type: 'string', default: '1000' },
    cli_sample: { type: 'string', default: '20' },
    workers: { type: 'string', default: '2' },
    deadline_s: { type: 'string', default: '60' },
    rep: { type: 'string', default: '6' },
    kills: { type: 'string', default: '6' },
    'no-sweeps': { type: 'boolean', default: false },
    'no-swift': { type: 'boolean', default: false },
    only: { type: 'string' },
  },
});
const num = (name: keyof typeof o): number => {
  const v = Number(o[name]);
  if (!Number.isInteger(v) || v < 0) {
    process.stderr.write(`faults: --${name} must be a non-negative integer, got ${String(o[name])}\n`);
    process.exit(2);
  }
  return v;
};
const seed = num('seed');
const work = mkdtempSync(join(tmpdir(), 'onnx-manager-faults-'));
const rows: TableRow[] = [];
const findings: Finding[] = [];
const notes: string[] = [];
const say = (s: string) => process.stderr.write(`${s}\n`);

/** n items of a corpus, or the seeded sample of k of them. */
function items(n: number, k?: number): number[] {
  const all = Array.from({ length: n }, (_, i) => i);
  if (k === undefined || k >= n) return all;
  // Every (n/k)th item: spread over every base and mutation kind.
  return Array.from({ length: k }, (_, j) => Math.floor((j * n) / k));
}

async function corpus(kind: 'models' | 'payloads', list: number[], how: 'in-process' | 'spawn'): Promise<void> {
  if (list.length === 0) return;
  const t0 = Date.now();
  const r: CorpusTotals = await runCorpus({
    kind,
    seed,
    items: list,
    work,
    deadlineMs: num('deadline_s') * 1000,
    workers: num('workers'),
    how,
    describe: (i) => (kind === 'models' ? `${mutatedModel(seed, i).base}: ${mutatedModel(seed, i).what}` : `payload ${i}`),
    progress: (d, n) => {
      if (d % 100 === 0 || d === n) say(`faults: ${kind} (${how}) ${d}/${n}`);
    },
  });
  const label = `mutated ${kind}, ${how === 'spawn' ? 'real executables' : 'in-process'}`;
  rows.push({ scenario: label, store: '-', faults: r.items, rowsLost: 0, rowsDuplicated: 0, rowsWronglyOk: 0, mishandled: r.findings.length });
  findings.push(...r.findings);
  notes.push(`${label}: ${r.items} inputs, ${r.operations} operations, ${r.refused} refused in one line, ${r.accepted} accepted and checked against onnxruntime, ${((Date.now() - t0) / 1000).toFixed(0)} s`);
}

async function sweeps(store: FaultStore): Promise<void> {
  const model = join(work, 'lenet5.onnx');
  writeFileSync(model, encodeModel(zoo.find((z) => z.name === 'lenet5')!.build()));
  const setup: SweepSetup = { model, splits: 13, rep: num('rep'), work, seed };
  const add = (t: SweepTally) => {
    rows.push(t);
    for (const n of t.notes) notes.push(`${t.scenario} (${t.store}): ${n}`);
    say(`faults: ${t.scenario} (${t.store}) done`);
  };
  add(await storeKilled(store, setup));
  add(await workerKilled(store, { ...setup, seed: seed + 1 }));
  add(await workerStopped(store, { ...setup, seed: seed + 2 }));
  add(await runAllKilled(store, { ...setup, seed: seed + 3 }, num('kills')));
}

try {
  if (o.only) {
    const [kind, i] = o.only.split(':');
    if ((kind !== 'models' && kind !== 'payloads') || !/^\d+$/.test(i ?? '')) throw new Error(`--only takes models:N or payloads:N, got ${o.only}`);
    await corpus(kind, [Number(i)], 'in-process');
  } else {
    if (!o['no-sweeps']) {
      const embedded = await embeddedStore(join(work, 's3'));
      try {
        await sweeps(embedded);
      } finally {
        await embedded.stop();
      }
      const missing = o['no-swift'] ? 'skipped (--no-swift)' : swiftMissing();
      if (missing) notes.push(`OpenStack Swift: ${missing}`);
      else {
        const swift = await startSwift(join(work, 'swift'));
        try {
          await sweeps(swift);
        } finally {
          await swift.stop();
        }
      }
    }
    await corpus('models', items(num('models')), 'in-process');
    await corpus('payloads', items(num('payloads')), 'in-process');
    await corpus('models', items(num('models'), num('cli_sample')), 'spawn');
    await corpus('payloads', items(num('payloads'), num('cli_sample')), 'spawn');
  }
} catch (err) {
  say(`faults: the suite itself failed: ${(err as Error)?.stack ?? String(err)}`);
  process.exitCode = 2;
} finally {
  rmSync(work, { recursive: true, force: true });
}

process.stdout.write(`\nFault suite, seed ${seed}\n\n${tableText(rows)}\n\n`);
for (const n of notes) process.stdout.write(`- ${n}\n`);
if (findings.length) {
  process.stdout.write(`\nMishandled (reproduce one with --only <corpus>:<number>):\n`);
  for (const f of findings) process.stdout.write(`- ${f.input} [${f.operation}: ${f.kind}] ${f.what}\n    ${f.detail}\n`);
}
if (process.exitCode === undefined) process.exitCode = allZero(rows) ? 0 : 1;
