/**
 * zstd: lossless Zstandard (level 3) through @mongodb-js/zstd, whose prebuilt binaries come
 * as npm packages (Node 20's zlib has no zstd). Before decompressing, the frame header's content
 * size must be present and equal to the tensor's size, so a body never expands beyond it.
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

/** Frame_Content_Size of a single zstd frame (RFC 8878 3.1.1), or undefined when the header does not give it. */
export function frameContentSize(b: Uint8Array): number | undefined {
  if (b.length < 6) return undefined;
  const view = new DataView(b.buffer, b.byteOffset, b.byteLength);
  if (view.getUint32(0, true) !== MAGIC) return undefined;
  const fhd = b[4]!;
  const fcsFlag = fhd >>> 6;
  const single = (fhd >>> 5) & 1;
  const didFlag = fhd & 3;
  let pos = 5 + (single ? 0 : 1) + [0, 1, 2, 4][didFlag]!;
  const size = fcsFlag === 0 ? (single ? 1 : 0) : [1, 2, 4, 8][fcsFlag]!;
  if (size === 0 || pos + size > b.length) return undefined;
  if (size === 1) return b[pos];
  if (size === 2) return view.getUint16(pos, true) + 256;
  if (size === 4) return view.getUint32(pos, true);
  const v = view.getBigUint64(pos, true);
  pos += 8;
  return v > BigInt(Number.MAX_SAFE_INTEGER) ? Infinity : Number(v);
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
    const declared = frameContentSize(coded.body);
    if (declared !== want) {
      throw new CodecError(`zstd body of a [${dims.join(', ')}] ${type} tensor is corrupted or truncated (frame says ${declared ?? 'no'} content bytes, expected ${want})`);
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
