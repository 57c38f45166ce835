/**
 * A secret named by NAME_FILE is read only from a regular file of a secret's size: a device or a
 * FIFO (MINIO_SECRET_KEY_FILE=/dev/zero read without end, growing the process by GBs) or a file
 * far too large for a key is refused in one line naming the variable and the file, never its content.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { FileError } from '../../src/errors.js';
import { secretFromEnv } from '../../src/secrets.js';

const dir = mkdtempSync(join(tmpdir(), 'onnx-manager-secret-files-'));
after(() => rmSync(dir, { recursive: true, force: true }));

describe('secrets from NAME_FILE', () => {
  it('a regular file gives its content, one trailing newline removed', () => {
    const file = join(dir, 'key');
    writeFileSync(file, 'k3y\n');
    assert.deepEqual(secretFromEnv({ MINIO_SECRET_KEY_FILE: file }, 'MINIO_SECRET_KEY'), { value: 'k3y', from: 'MINIO_SECRET_KEY_FILE' });
  });

  it('a device or a FIFO is refused before it is read', { timeout: 20_000 }, () => {
    const fifo = join(dir, 'fifo');
    execFileSync('mkfifo', [fifo]);
    for (const file of ['/dev/zero', fifo]) {
      assert.throws(
        () => secretFromEnv({ MINIO_SECRET_KEY_FILE: file }, 'MINIO_SECRET_KEY'),
        (err: Error) => err instanceof FileError && err.message === `${file}: cannot read MINIO_SECRET_KEY_FILE (not a regular file (a device, FIFO or socket))`,
      );
    }
  });

  it('a missing file or a directory is named in words, not by its error code', () => {
    for (const [file, why] of [
      [join(dir, 'missing'), 'no such file'],
      [dir, 'is a directory'],
    ] as const) {
      assert.throws(
        () => secretFromEnv({ MINIO_SECRET_KEY_FILE: file }, 'MINIO_SECRET_KEY'),
        (err: Error) => err instanceof FileError && err.message === `${file}: cannot read MINIO_SECRET_KEY_FILE (${why})`,
      );
    }
  });

  it('a file far larger than a key is refused without its content', () => {
    const file = join(dir, 'big');
    writeFileSync(file, 'S'.repeat(1 << 20));
    assert.throws(
      () => secretFromEnv({ MINIO_SECRET_KEY_FILE: file }, 'MINIO_SECRET_KEY'),
      (err: Error) => err instanceof FileError && err.message === `${file}: cannot read MINIO_SECRET_KEY_FILE (1048576 bytes, more than a secret's 65536)`,
    );
  });
});
