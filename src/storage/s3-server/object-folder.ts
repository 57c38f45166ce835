/**
 * Buckets and objects as plain files: `<root>/<bucket>/<key, percent-encoded>`, one flat folder
 * per bucket (no folders to create or clean up per key, so concurrent puts and deletes cannot
 * race on them). A put streams the body into `<root>/.incoming/<random>` and renames it over the
 * object only once every byte is written and checked: a reader opens either the old file or the
 * new one, whole, and keeps reading the file it opened even if it is replaced or removed meanwhile.
 */
import { createHash, randomUUID } from 'node:crypto';
import { closeSync, createWriteStream, fstatSync, openSync, readSync, renameSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { mkdir, open, readdir, rename, rm, rmdir, stat, unlink, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { S3Error } from './s3-error.js';

export interface ObjectInfo {
  size: number;
  lastModified: Date;
  /** Quoted and opaque (from the file's identity, size and time), as S3 sends it. */
  etag: string;
}

export interface OpenObject extends ObjectInfo {
  handle: FileHandle;
}

/**
 * Objects up to this size are written and read with one blocking call each instead of a stream:
 * a payload of a cycle is usually far smaller, and each asynchronous file operation costs a trip
 * through libuv's thread pool (a put made six, a get four: about a millisecond a request on a
 * busy machine), while writing or reading a mebibyte in the page cache takes a fraction of that.
 */
export const SMALL_OBJECT_BYTES = 1024 * 1024;

const INCOMING = '.incoming';
const MAX_NAME_BYTES = 255;

const noSuchBucket = (bucket: string): S3Error => new S3Error(404, 'NoSuchBucket', `the bucket '${bucket}' does not exist`);

function isCode(err: unknown, ...codes: string[]): boolean {
  return codes.includes((err as NodeJS.ErrnoException | null)?.code ?? '');
}

/** A key as one file name: percent-encoding of everything but unreserved characters ('.' and '..' too). */
function fileName(key: string): string {
  let name = encodeURIComponent(key).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
  if (/^\.+$/.test(name)) name = name.replace(/\./g, '%2E');
  if (Buffer.byteLength(name) > MAX_NAME_BYTES) throw new S3Error(400, 'KeyTooLongError', `the key is too long for the embedded S3 server (${key.length} characters)`);
  return name;
}

function info(s: { size: number; mtime: Date; mtimeMs: number; ino: number }): ObjectInfo {
  return { size: s.size, lastModified: s.mtime, etag: `"${s.ino.toString(16)}-${s.size.toString(16)}-${Math.round(s.mtimeMs * 1000).toString(16)}"` };
}

export class ObjectFolder {
  private readonly incoming: string;

  private constructor(readonly root: string) {
    this.incoming = join(root, INCOMING);
  }

  static async open(root: string): Promise<ObjectFolder> {
    const folder = new ObjectFolder(root);
    await mkdir(folder.incoming, { recursive: true });
    return folder;
  }

  private bucketPath(bucket: string): string {
    return join(this.root, bucket);
  }

  private objectPath(bucket: string, key: string): string {
    return join(this.root, bucket, fileName(key));
  }

  /** One blocking stat: cheaper than a trip through the thread pool, and every request makes it. */
  private hasBucket(bucket: string): boolean {
    try {
      return statSync(this.bucketPath(bucket)).isDirectory();
    } catch (err) {
      if (isCode(err, 'ENOENT', 'ENOTDIR')) return false;
      throw err;
    }
  }

  async bucketExists(bucket: string): Promise<boolean> {
    return this.hasBucket(bucket);
  }

  async checkBucket(bucket: string): Promise<void> {
    this.checkBucketNow(bucket);
  }

  private checkBucketNow(bucket: string): void {
    if (!this.hasBucket(bucket)) throw noSuchBucket(bucket);
  }

  /** False when it already existed. */
  async createBucket(bucket: string): Promise<boolean> {
    try {
      await mkdir(this.bucketPath(bucket));
      return true;
    } catch (err) {
      if (isCode(err, 'EEXIST')) return false;
      throw err;
    }
  }

  /**
   * Writes `body` to a fresh file and renames it over the object once it holds exactly `length`
   * bytes (and their SHA-256 is `sha256`, when given). Any failure leaves the object as it was.
   */
  async put(bucket: string, key: string, body: Readable, length: number, sha256?: string): Promise<ObjectInfo> {
    if (length <= SMALL_OBJECT_BYTES) return this.putSmall(bucket, key, body, length, sha256);
    const target = this.objectPath(bucket, key);
    await this.checkBucket(bucket);
    const temp = join(this.incoming, randomUUID());
    const hash = sha256 === undefined ? undefined : createHash('sha256');
    let received = 0;
    try {
      await pipeline(
        body,
        async function* (chunks: AsyncIterable<Buffer>) {
          for await (const chunk of chunks) {
            received += chunk.length;
            if (received > length) throw new S3Error(400, 'IncompleteBody', `the body is longer than its Content-Length (${length} bytes)`);
            hash?.update(chunk);
            yield chunk;
          }
        },
        createWriteStream(temp, { flags: 'wx' }),
      );
      if (received !== length) throw new S3Error(400, 'IncompleteBody', `the body has ${received} of its ${length} bytes`);
      if (hash && hash.digest('hex') !== sha256) throw new S3Error(400, 'XAmzContentSHA256Mismatch', 'the body does not match its x-amz-content-sha256');
      try {
        await rename(temp, target);
      } catch (err) {
        if (isCode(err, 'ENOENT')) throw noSuchBucket(bucket);
        throw err;
      }
      return info(await stat(target));
    } catch (err) {
      await rm(temp, { force: true });
      throw err;
    }
  }

  /** put for a body of at most SMALL_OBJECT_BYTES: received whole, then written, checked and renamed in place with blocking calls. */
  private async putSmall(bucket: string, key: string, body: Readable, length: number, sha256?: string): Promise<ObjectInfo> {
    const target = this.objectPath(bucket, key);
    this.checkBucketNow(bucket);
    const data = Buffer.allocUnsafe(length);
    let received = 0;
    for await (const chunk of body as AsyncIterable<Buffer>) {
      if (received + chunk.length > length) throw new S3Error(400, 'IncompleteBody', `the body is longer than its Content-Length (${length} bytes)`);
      chunk.copy(data, received);
      received += chunk.length;
    }
    if (received !== length) throw new S3Error(400, 'IncompleteBody', `the body has ${received} of its ${length} bytes`);
    if (sha256 !== undefined && createHash('sha256').update(data).digest('hex') !== sha256) throw new S3Error(400, 'XAmzContentSHA256Mismatch', 'the body does not match its x-amz-content-sha256');
    const temp = join(this.incoming, randomUUID());
    let written: ObjectInfo;
    try {
      const fd = openSync(temp, 'wx');
      try {
        let at = 0;
        while (at < length) at += writeSync(fd, data, at, length - at);
        written = info(fstatSync(fd));
      } finally {
        closeSync(fd);
      }
      renameSync(temp, target);
    } catch (err) {
      try {
        unlinkSync(temp);
      } catch {
        // never made
      }
      if (isCode(err, 'ENOENT')) throw noSuchBucket(bucket);
      throw err;
    }
    return written;
  }

  /**
   * The whole object when it has at most SMALL_OBJECT_BYTES (read with blocking calls), else its
   * file opened (the caller closes it); undefined when there is none.
   */
  async read(bucket: string, key: string): Promise<(ObjectInfo & { data: Buffer }) | OpenObject | undefined> {
    let fd: number;
    try {
      fd = openSync(this.objectPath(bucket, key), 'r');
    } catch (err) {
      if (!isCode(err, 'ENOENT')) throw err;
      this.checkBucketNow(bucket);
      return undefined;
    }
    let large = false;
    try {
      const s = fstatSync(fd);
      if (s.size > SMALL_OBJECT_BYTES) {
        large = true;
      } else {
        const data = Buffer.allocUnsafe(s.size);
        let at = 0;
        while (at < s.size) {
          const n = readSync(fd, data, at, s.size - at, at);
          if (n === 0) break;
          at += n;
        }
        return { ...info(s), data: at === s.size ? data : data.subarray(0, at) };
      }
    } finally {
      closeSync(fd);
    }
    // A large object streams from its own handle (it may have been replaced since: that one is read whole).
    return large ? this.open(bucket, key) : undefined;
  }

  /** The object's file, opened (the caller closes it), or undefined when there is none. */
  async open(bucket: string, key: string): Promise<OpenObject | undefined> {
    let handle: FileHandle;
    try {
      handle = await open(this.objectPath(bucket, key), 'r');
    } catch (err) {
      if (!isCode(err, 'ENOENT')) throw err;
      await this.checkBucket(bucket);
      return undefined;
    }
    try {
      return { handle, ...info(await handle.stat()) };
    } catch (err) {
      await handle.close();
      throw err;
    }
  }

  async stat(bucket: string, key: string): Promise<ObjectInfo | undefined> {
    try {
      return info(await stat(this.objectPath(bucket, key)));
    } catch (err) {
      if (!isCode(err, 'ENOENT')) throw err;
      await this.checkBucket(bucket);
      return undefined;
    }
  }

  /** Removes the object; a missing one is not an error. */
  async remove(bucket: string, key: string): Promise<void> {
    try {
      await unlink(this.objectPath(bucket, key));
    } catch (err) {
      if (!isCode(err, 'ENOENT')) throw err;
    }
  }

  /** Every key of the bucket that starts with `prefix` and sorts after `after`, in order. */
  async keys(bucket: string, prefix: string, after: string): Promise<string[]> {
    let names: string[];
    try {
      names = await readdir(this.bucketPath(bucket));
    } catch (err) {
      if (isCode(err, 'ENOENT', 'ENOTDIR')) throw noSuchBucket(bucket);
      throw err;
    }
    const keys = names.map((n) => decodeURIComponent(n)).filter((k) => k.startsWith(prefix) && k > after);
    return keys.sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
  }

  /** Removes the folder for files being received, when nothing is left in it. */
  async close(): Promise<void> {
    await rmdir(this.incoming).catch(() => {});
  }
}
