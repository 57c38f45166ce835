/** deflate: lossless, zlib format (RFC 1950, with its Adler-32 check) from node:zlib, at zlib's default level. */
import { deflateSync, inflateSync } from 'node:zlib';
import type { HostTensor } from '../../runtime/session.js';
import { expectedBytes, numericBytes, tensorFromBytes } from './lossless.js';
import { CodecError, type CodedBody, type TensorCodec } from './types.js';

export const deflate: TensorCodec = {
  name: 'deflate',
  lossless: true,
  async encode(t: HostTensor): Promise<CodedBody | undefined> {
    const raw = numericBytes(t);
    return raw === undefined ? undefined : { codec: 'deflate', body: deflateSync(raw) };
  },
  async decode(coded: CodedBody, type: string, dims: readonly number[]): Promise<HostTensor> {
    const want = expectedBytes(type, dims);
    let out: Buffer;
    try {
      // One byte more than expected: a body that inflates to more is refused without inflating it all.
      out = inflateSync(coded.body, { maxOutputLength: want + 1 });
    } catch (err) {
      throw new CodecError(`deflate body of a [${dims.join(', ')}] ${type} tensor is corrupted or truncated (${(err as Error).message})`);
    }
    return tensorFromBytes('deflate', out, type, dims);
  },
};
