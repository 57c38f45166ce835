/**
 * zstd: lossless Zstandard (level 3) through @mongodb-js/zstd, whose prebuilt binaries come
 * as npm packages (Node 20's zlib has no zstd). Before decompressing, the frame's block headers
 * must allow the tensor's size and not more than one block beyond it, so a body never expands
 * far beyond the tensor it claims to be.
 */
import type { HostTensor } from '../../runtime/session.js';
import { expectedBytes, numericBytes, tensorFromBytes } from './lossless.js';
import { CodecError, type CodedBody, type TensorCodec } from './types.js';

const LEVEL = 3;
const MAGIC = 0xfd2fb528;

type ZstdModule = { compress(b: Buffer, level?: number): Promise<Buffer>; decompress(b: Buffer): Promise<Buffer> };
let loaded: Promise<ZstdModule> | undefined;

function zstdModule(): Promise<ZstdModule> {
  loaded ??= import('@mongodb-js/zstd').then(
    (m) => ((m as { default?: ZstdModule }).default ?? (m as unknown as ZstdModule)),
    (err: Error) => {
      throw new CodecError(`zstd needs the @mongodb-js/zstd package, which does not load here (${err.message.split('\n')[0]})`);
    },
  );
  return loaded;
}

/** Largest decompressed size of one compressed block (RFC 8878 3.1.1.2.4). */
const BLOCK_MAX = 128 * 1024;

/**
 * The most bytes one zstd frame spanning all of `b` can decompress to (RFC 8878 3.1.1: frame
 * header, then blocks), or a reason it is not such a frame. Raw and RLE blocks count their
 * size, compressed blocks at most 128 KiB each; the declared content size, where given, must match.
 */
export function frameBound(b: Uint8Array): number | string {
  if (b.length < 6) return `${b.length} bytes is too short for a zstd frame`;
  const view = new DataView(b.buffer, b.byteOffset, b.byteLength);
  if (view.getUint32(0, true) !== MAGIC) return 'no zstd frame magic';
  const fhd = b[4]!;
  const fcsFlag = fhd >>> 6;
  const single = (fhd >>> 5) & 1;
  const checksum = (fhd >>> 2) & 1;
  let pos = 5 + (single ? 0 : 1) + [0, 1, 2, 4][fhd & 3]!;
  const fcsBytes = fcsFlag === 0 ? single : [1, 2, 4, 8][fcsFlag]!;
  if (pos + fcsBytes > b.length) return 'frame header cut short';
  let declared: number | undefined;
  if (fcsBytes === 1) declared = b[pos]!;
  else if (fcsBytes === 2) declared = view.getUint16(pos, true) + 256;
  else if (fcsBytes === 4) declared = view.getUint32(pos, true);
  else if (fcsBytes === 8) declared = Number(view.getBigUint64(pos, true));
  pos += fcsBytes;
  let bound = 0;
  for (;;) {
    if (pos + 3 > b.length) return 'blocks cut short';
    const h = b[pos]! | (b[pos + 1]! << 8) | (b[pos + 2]! << 16);
    pos += 3;
    const last = h & 1;
    const type = (h >>> 1) & 3;
    const size = h >>> 3;
    if (type === 3) return 'reserved block type';
    const stored = type === 1 ? 1 : size;
    if (pos + stored > b.length) return 'block cut short';
    pos += stored;
    bound += type === 2 ? BLOCK_MAX : size;
    if (last) break;
  }
  if (pos + 4 * checksum !== b.length) return 'bytes after the frame';
  return declared ?? bound;
}

export const zstd: TensorCodec = {
  name: 'zstd',
  lossless: true,
  async encode(t: HostTensor): Promise<CodedBody | undefined> {
    const raw = numericBytes(t);
    if (raw === undefined) return undefined;
    const z = await zstdModule();
    return { codec: 'zstd', body: await z.compress(Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength), LEVEL) };
  },
  async decode(coded: CodedBody, type: string, dims: readonly number[]): Promise<HostTensor> {
    const want = expectedBytes(type, dims);
    const bound = frameBound(coded.body);
    // The frame must be able to hold the tensor, and not much more (decompression is bounded).
    if (typeof bound === 'string' || bound < want || bound > want + BLOCK_MAX) {
      const why = typeof bound === 'string' ? bound : `frame holds up to ${bound} bytes, expected ${want}`;
      throw new CodecError(`zstd body of a [${dims.join(', ')}] ${type} tensor is corrupted or truncated (${why})`);
    }
    const z = await zstdModule();
    let out: Buffer;
    try {
      out = await z.decompress(Buffer.from(coded.body.buffer, coded.body.byteOffset, coded.body.byteLength));
    } catch (err) {
      throw new CodecError(`zstd body of a [${dims.join(', ')}] ${type} tensor is corrupted or truncated (${(err as Error).message})`);
    }
    return tensorFromBytes('zstd', out, type, dims);
  },
};
