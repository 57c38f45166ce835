/**
 * A part's external data: tensors laid out at aligned offsets, taken from memory or read from the
 * source model's data files.
 */
import { open, type FileHandle } from 'node:fs/promises';
import { FileError } from '../errors.js';
import type { AssembledPart, ExternalSegment } from './assemble.js';

type External = NonNullable<AssembledPart['external']>;

async function withSources<T>(segments: readonly ExternalSegment[], fn: (read: (s: ExternalSegment) => Promise<Uint8Array>) => Promise<T>): Promise<T> {
  const handles = new Map<string, FileHandle>();
  try {
    return await fn(async (s) => {
      if (s.source instanceof Uint8Array) return s.source;
      let h = handles.get(s.source.file);
      if (!h) {
        const file = s.source.file;
        h = await open(file, 'r').catch((err: unknown) => {
          throw new FileError(`${file}: cannot read external data (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`, { cause: err, file });
        });
        handles.set(file, h);
      }
      const buf = Buffer.allocUnsafe(s.length);
      const { bytesRead } = await h.read(buf, 0, s.length, s.source.offset);
      if (bytesRead !== s.length) throw new FileError(`${s.source.file}: external data ends early (expected ${s.length} bytes at offset ${s.source.offset}, read ${bytesRead})`, { file: s.source.file });
      return buf;
    });
  } finally {
    for (const h of handles.values()) await h.close();
  }
}

/** The whole external data file in memory (for in-memory sessions). */
export async function readSegments(external: External): Promise<Uint8Array> {
  const out = Buffer.alloc(external.byteLength);
  await withSources(external.segments, async (read) => {
    for (const s of external.segments) out.set(await read(s), s.offset);
  });
  return out;
}

/** Writes the external data file through an open handle, tensor by tensor. */
export async function writeSegments(external: External, handle: FileHandle): Promise<void> {
  await withSources(external.segments, async (read) => {
    for (const s of external.segments) {
      const data = await read(s);
      await handle.write(data, 0, data.length, s.offset);
    }
    await handle.truncate(external.byteLength);
  });
}
