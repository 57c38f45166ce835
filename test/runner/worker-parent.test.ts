/**
 * The local cloud worker serves the edge that started it and no one else: when its input closes
 * (the edge ended, however it ended, even by SIGKILL) it ends too, whatever it was doing: here,
 * starting against a store that does not answer, which it retries for minutes.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { cloudConfigArgs, type CloudConfig } from '../../src/config/cloud-config.js';
import { projectRoot } from '../models/zoo.js';
import { endsWithin } from '../processes.js';

/** A loopback port nothing listens on. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

describe('the local cloud worker', () => {
  it('ends when its input closes, even while it waits for its store to answer', async () => {
    const worker = join(projectRoot(), 'dist', 'cloud', 'worker.js');
    const env: NodeJS.ProcessEnv = { ...process.env, MINIO_ENDPOINT: `http://127.0.0.1:${await closedPort()}`, MINIO_ACCESS_KEY: 'k', MINIO_SECRET_KEY: 'secretsecret' };
    delete env.MINIO_ACCESS_KEY_FILE;
    delete env.MINIO_SECRET_KEY_FILE;
    const config: CloudConfig = { provider: { name: 'cpu' }, graphOptimizationLevel: 'all', bucket: 'gone' };
    const child = spawn(process.execPath, [worker, ...cloudConfigArgs(config)], { env, stdio: ['pipe', 'ignore', 'ignore'] });
    try {
      // Starting, it opens its store, which does not answer: it retries for minutes, not reading its input yet.
      await new Promise((r) => setTimeout(r, 500));
      child.stdin.end();
      assert.ok(await endsWithin(child.pid!, 10_000), 'the worker still runs 10 s after its input closed');
    } finally {
      child.kill('SIGKILL');
    }
  });
});
