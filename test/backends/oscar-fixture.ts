/**
 * What the OSCAR test files share: the embedded store with a loopback OSCAR over it (each request
 * checked against the spec), lenet5 written to a file, and the OSCAR credentials in the environment
 * (every variable set is restored by stop()).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeModel } from '../../src/onnx/codec.js';
import type { ModelAnalysis } from '../../src/split/analysis.js';
import { startEmbeddedStore, type EmbeddedStore } from '../../src/storage/embedded.js';
import { analyze, zooSubject } from '../helpers.js';
import { zoo } from '../models/zoo.js';
import { OscarTestServer } from './oscar-server.js';

export const USER = 'oscar';
export const PASSWORD = 'pw-Xq81-secret';

export interface OscarFixture {
  bucket: string;
  dir: string;
  store: EmbeddedStore;
  server: OscarTestServer;
  modelFile: string;
  analysis: ModelAnalysis;
  setEnv(vars: Record<string, string | undefined>): void;
  /** No request broke the spec, and no response of the server either. */
  checkSpec(): void;
  stop(): Promise<void>;
}

export async function startOscarFixture(bucket: string, name: string): Promise<OscarFixture> {
  const dir = mkdtempSync(join(tmpdir(), `onnx-manager-${name}-`));
  const store = await startEmbeddedStore({ bucket });
  const server = await OscarTestServer.start({ username: USER, password: PASSWORD, store, pageSize: 4 });
  const lenet = zoo.find((z) => z.name === 'lenet5')!;
  const modelFile = join(dir, 'lenet5.onnx');
  writeFileSync(modelFile, encodeModel(lenet.build()));
  const analysis = await analyze(zooSubject(lenet));
  const saved: Record<string, string | undefined> = {};
  const setEnv = (vars: Record<string, string | undefined>): void => {
    for (const [k, v] of Object.entries(vars)) {
      if (!(k in saved)) saved[k] = process.env[k];
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  };
  setEnv({
    OSCAR_USERNAME: USER,
    OSCAR_PASSWORD: PASSWORD,
    OSCAR_TOKEN: undefined,
    OSCAR_TOKEN_FILE: undefined,
    OSCAR_PASSWORD_FILE: undefined,
    OSCAR_ENDPOINT: undefined,
    MINIO_ENDPOINT: undefined,
    MINIO_ACCESS_KEY: undefined,
    MINIO_SECRET_KEY: undefined,
    MINIO_ACCESS_KEY_FILE: undefined,
    MINIO_SECRET_KEY_FILE: undefined,
  });
  return {
    bucket,
    dir,
    store,
    server,
    modelFile,
    analysis,
    setEnv,
    checkSpec() {
      assert.deepEqual(server.violations, [], 'every request follows the OSCAR spec');
      assert.deepEqual(server.responseViolations, [], 'every response of the test server follows the spec');
    },
    async stop() {
      await server.stop();
      await store.stop();
      for (const [k, v] of Object.entries(saved)) {
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
