/**
 * Limits of a platform: the JSON limits file (versioned, every field checked, one-line errors
 * naming the field), Kubernetes memory quantities, and OSCAR's memory read from --oscar_memory,
 * an FDL file or a service on a (test) OSCAR cluster over loopback.
 */
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { encodedBytes, LAMBDA_LIMITS, MB, memoryQuantityMb, parseLimits, readLimitsFile } from '../../src/check/limits.js';
import { oscarServiceLimits } from '../../src/check/oscar-limits.js';
import { UsageError } from '../../src/errors.js';
import { startEmbeddedStore, type EmbeddedStore } from '../../src/storage/embedded.js';
import { OscarTestServer } from '../backends/oscar-server.js';
import { tempDirs } from '../helpers.js';

const tempDir = tempDirs();

describe('limits files', () => {
  it('reads every field, with raw payloads unless told', () => {
    const l = parseLimits(JSON.stringify({ version: 1, platform: 'edge-fn', memory_mb: 512, package_mb: 50, payload_bytes: 1000, response_bytes: 0 }), 'l.json');
    assert.deepEqual(l, { platform: 'edge-fn', source: 'l.json', memory_mb: 512, package_mb: 50, payload_bytes: 1000, response_bytes: 0, payload_encoding: 'raw' });
    assert.equal(parseLimits('{"version":1,"payload_bytes":5,"payload_encoding":"base64"}', 'x.json').payload_encoding, 'base64');
    assert.equal(parseLimits('{"version":1,"payload_bytes":5}', 'x.json').platform, 'x.json');
  });

  it('refuses a bad file in one line naming the file and the field', () => {
    const cases: [string, RegExp][] = [
      ['{"version":1,', /^l\.json: not JSON/],
      ['[1]', /^l\.json: a limits file is a JSON object with "version": 1$/],
      ['{"memory_mb":1}', /^l\.json: "version" is missing/],
      ['{"version":2,"memory_mb":1}', /^l\.json: "version" is 2; this onnx-manager reads version 1$/],
      ['{"version":1,"memory":1}', /^l\.json: field "memory" is not a limit \(known: /],
      ['{"version":1,"memory_mb":"1Gi"}', /^l\.json: "memory_mb" must be a number >= 0, got "1Gi"$/],
      ['{"version":1,"package_mb":-1}', /^l\.json: "package_mb" must be a number >= 0, got -1$/],
      ['{"version":1,"payload_bytes":null}', /^l\.json: "payload_bytes" must be a number >= 0, got null$/],
      ['{"version":1,"payload_bytes":1,"payload_encoding":"hex"}', /^l\.json: "payload_encoding" must be "raw" or "base64", got "hex"$/],
      ['{"version":1,"platform":""}', /^l\.json: "platform" must be a non-empty string$/],
      ['{"version":1,"platform":"x"}', /^l\.json: names no limit \(give at least one of memory_mb, package_mb, payload_bytes, response_bytes\)$/],
    ];
    for (const [text, re] of cases) {
      assert.throws(
        () => parseLimits(text, 'l.json'),
        (e: Error) => e instanceof UsageError && re.test(e.message) && !e.message.includes('\n'),
        text,
      );
    }
  });

  it('names a missing file as bad input', async () => {
    await assert.rejects(readLimitsFile('/nonexistent/limits.json'), (e: Error) => e instanceof UsageError && e.message === '/nonexistent/limits.json: cannot read the limits file (no such file)');
  });

  it("has AWS Lambda's quotas built in, in MB of 2^20 bytes", () => {
    assert.equal(LAMBDA_LIMITS.memory_mb, 10240);
    assert.equal(LAMBDA_LIMITS.package_mb! * MB, 262144000);
    assert.equal(LAMBDA_LIMITS.payload_bytes, 6291456);
    assert.equal(LAMBDA_LIMITS.payload_encoding, 'base64');
    // 4.5 MiB of payload is exactly 6 MiB of base64; one byte more is over.
    assert.equal(encodedBytes(4718592, 'base64'), 6291456);
    assert.equal(encodedBytes(4718593, 'base64'), 6291460);
    assert.equal(Buffer.alloc(4718593).toString('base64').length, 6291460);
    assert.equal(encodedBytes(4718593, 'raw'), 4718593);
  });
});

describe('memory quantities', () => {
  it('reads Kubernetes quantities in MB', () => {
    const cases: [string, number][] = [
      ['256Mi', 256],
      ['1Gi', 1024],
      ['1.5Gi', 1536],
      ['512Ki', 0.5],
      ['1G', 1e9 / MB],
      ['500M', 5e8 / MB],
      ['134217728', 128],
      ['129e6', 129e6 / MB],
    ];
    for (const [q, mb] of cases) assert.equal(memoryQuantityMb(q, 'memory'), mb, q);
  });

  it('refuses what is no quantity, naming it', () => {
    for (const q of ['lots', '1GB', '-1Gi', '0', 'Gi', '1 Gi']) {
      assert.throws(() => memoryQuantityMb(q, '--oscar_memory'), (e: Error) => e instanceof UsageError && e.message.startsWith(`--oscar_memory '${q}' is not`), q);
    }
  });
});

describe('OSCAR limits', () => {
  let store: EmbeddedStore;
  let server: OscarTestServer;
  const env = { OSCAR_USERNAME: 'oscar', OSCAR_PASSWORD: 'oscar-test-password' };

  before(async () => {
    store = await startEmbeddedStore({ bucket: 'check' });
    server = await OscarTestServer.start({ username: env.OSCAR_USERNAME, password: env.OSCAR_PASSWORD, store });
    await server.addService({ name: 'big', memory: '3Gi', input: [{ storage_provider: 'minio.default', path: 'check/big-in' }], output: [] });
    await server.addService({ name: 'plain', input: [{ storage_provider: 'minio.default', path: 'check/plain-in' }], output: [] });
  });
  after(async () => {
    await server.stop();
    await store.stop();
  });

  it('reads the memory of a service on the cluster, and OSCAR\'s default when it has none', async () => {
    const l = await oscarServiceLimits({ oscar_service: 'big', oscar_endpoint: server.url }, env);
    assert.equal(l.memory_mb, 3072);
    assert.equal(l.platform, 'OSCAR');
    assert.equal(l.source, `OSCAR at ${server.url}, service 'big': memory 3Gi`);
    assert.equal(l.package_mb, undefined);
    assert.equal(l.payload_bytes, undefined);
    const plain = await oscarServiceLimits({ oscar_service: 'plain', oscar_endpoint: server.url }, env);
    assert.equal(plain.memory_mb, 256);
    assert.deepEqual(server.violations, []);
    await assert.rejects(oscarServiceLimits({ oscar_service: 'nope', oscar_endpoint: server.url }, env), /service 'nope' does not exist/);
    await assert.rejects(oscarServiceLimits({ oscar_service: 'big' }, {}), (e: Error) => e instanceof UsageError && /give --oscar_endpoint \(or OSCAR_ENDPOINT\)/.test(e.message));
  });

  it('reads the memory of a service in an FDL file, naming the service when there are several', async () => {
    const dir = await tempDir('fdl');
    const fdl = join(dir, 'fdl.yaml');
    await writeFile(fdl, ['functions:', '  oscar:', '  - c1:', '      name: a', '      memory: 2Gi', '  - c1:', '      name: b', ''].join('\n'));
    assert.equal((await oscarServiceLimits({ fdl_file: fdl, oscar_service: 'a' })).memory_mb, 2048);
    const b = await oscarServiceLimits({ fdl_file: fdl, oscar_service: 'b' });
    assert.equal(b.memory_mb, 256);
    assert.match(b.source, /not set: OSCAR's default/);
    await assert.rejects(oscarServiceLimits({ fdl_file: fdl }), /defines 2 services \(a, b\); name one with --oscar_service$/);
    await assert.rejects(oscarServiceLimits({ fdl_file: fdl, oscar_service: 'c' }), /no service named 'c' \(it has: a, b\)$/);
    await writeFile(fdl, 'functions: {}\n');
    await assert.rejects(oscarServiceLimits({ fdl_file: fdl }), /not an FDL file/);
    await assert.rejects(oscarServiceLimits({ fdl_file: join(dir, 'none.yaml') }), (e: Error) => e instanceof UsageError && /cannot read the FDL file \(no such file\)$/.test(e.message));
  });

  it('takes --oscar_memory as given, and asks for a source when there is none', async () => {
    assert.equal((await oscarServiceLimits({ oscar_memory: '1Gi' })).memory_mb, 1024);
    await assert.rejects(oscarServiceLimits({ oscar_memory: 'much' }), /--oscar_memory 'much' is not a memory quantity/);
    await assert.rejects(oscarServiceLimits({}), (e: Error) => e instanceof UsageError && /needs the service's memory: --oscar_service .*--fdl_file .*--oscar_memory/.test(e.message));
  });
});
