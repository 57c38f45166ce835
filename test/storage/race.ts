/**
 * Readers racing writers on one S3 endpoint (not a test file): while a store puts large objects,
 * another client (its own minio Client and sockets, as the cloud worker has) stats and gets the
 * same keys in a loop. Every answer it gets must be a whole object: a stat shows the full size or
 * nothing, a GET returns the old body, the new body, or "no such key", never a part of either.
 */
import http from 'node:http';
import { Client } from 'minio';
import type { ObjectStore } from '../../src/storage/store.js';

export interface RaceTarget {
  /** `http://127.0.0.1:<port>` */
  endpoint: string;
  accessKey: string;
  secretKey: string;
  bucket: string;
}

export interface RaceReport {
  /** Stats and GETs that found an object (each was checked). */
  observations: number;
  /** Of those, the ones answered while a put of that key was still in flight. */
  duringPut: number;
  /** What was wrong, one line each (empty when every answer was whole). */
  violations: string[];
}

function isMissing(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return code === 'NoSuchKey' || code === 'NotFound';
}

async function readAll(client: Client, bucket: string, key: string): Promise<Buffer | undefined> {
  try {
    const stream = await client.getObject(bucket, key);
    const parts: Buffer[] = [];
    for await (const chunk of stream as AsyncIterable<Buffer>) parts.push(chunk);
    return Buffer.concat(parts);
  } catch (err) {
    if (isMissing(err)) return undefined;
    throw err;
  }
}

async function statSize(client: Client, bucket: string, key: string): Promise<number | undefined> {
  try {
    return (await client.statObject(bucket, key)).size;
  } catch (err) {
    if (isMissing(err)) return undefined;
    throw err;
  }
}

/** A body of `size` bytes that differs from every other round's at every offset. */
function body(size: number, round: number): Buffer {
  return Buffer.alloc(size, 0x41 + (round % 60));
}

function describe(got: Buffer, allowed: Buffer[]): string {
  return `${got.length} bytes (first ${got[0] ?? '-'}, last ${got[got.length - 1] ?? '-'}), expected ${allowed.map((b) => `${b.length} bytes of ${b[0]}`).join(' or ')}`;
}

/**
 * `rounds` times: puts a new key and overwrites a key that holds the previous round's body, each
 * `size` bytes, through `writer`, while a separate client reads both keys until the put returns;
 * then reads once more (the put has returned, so the new body must be there, whole).
 */
export async function readWhilePutting(writer: ObjectStore, target: RaceTarget, size: number, rounds: number): Promise<RaceReport> {
  const url = new URL(target.endpoint);
  const agent = new http.Agent({ keepAlive: true });
  const reader = new Client({
    endPoint: url.hostname,
    port: Number(url.port),
    useSSL: false,
    accessKey: target.accessKey,
    secretKey: target.secretKey,
    region: 'us-east-1',
    pathStyle: true,
    transportAgent: agent,
  });
  const report: RaceReport = { observations: 0, duringPut: 0, violations: [] };
  const replaced = 'race/replaced.bin';
  let previous = body(size, rounds);
  await writer.put(replaced, previous);
  try {
    for (let round = 0; round < rounds && report.violations.length === 0; round++) {
      const fresh = `race/new-${round}.bin`;
      const next = body(size, round);
      let putting = true;
      const check = async (key: string, allowed: Buffer[], mayBeMissing: boolean, inFlight: boolean): Promise<void> => {
        const length = await statSize(reader, target.bucket, key);
        if (length !== undefined) {
          report.observations++;
          if (inFlight) report.duringPut++;
          if (!allowed.some((b) => b.length === length)) report.violations.push(`round ${round}: stat of ${key} showed ${length} bytes, expected ${size}`);
        } else if (!mayBeMissing) {
          report.violations.push(`round ${round}: stat found no ${key}`);
        }
        const got = await readAll(reader, target.bucket, key);
        if (got === undefined) {
          if (!mayBeMissing) report.violations.push(`round ${round}: GET found no ${key}`);
          return;
        }
        report.observations++;
        if (inFlight) report.duringPut++;
        if (!allowed.some((b) => b.equals(got))) report.violations.push(`round ${round}: GET of ${key} returned ${describe(got, allowed)}`);
      };
      const poll = async (key: string, allowed: Buffer[], mayBeMissing: boolean): Promise<void> => {
        while (putting) await check(key, allowed, mayBeMissing, true);
      };
      const puts = Promise.all([writer.put(fresh, next), writer.put(replaced, next)]).finally(() => {
        putting = false;
      });
      await Promise.all([puts, poll(fresh, [next], true), poll(replaced, [previous, next], false)]);
      await check(fresh, [next], false, false);
      await check(replaced, [next], false, false);
      previous = next;
      await writer.remove([fresh]);
    }
  } finally {
    agent.destroy();
  }
  return report;
}
