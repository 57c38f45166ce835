/** What fp16 and bf16 share: float32 tensors cast to 16 bits per element and back; other types stay raw. */
import { elementCount } from '../../onnx/dtypes.js';
import type { HostTensor } from '../../runtime/session.js';
import type { RunningCrc } from './simd/index.js';
import { alignedView, expectBodyBytes, unfilled, writeHalves, writtenBody, type CodedBody, type PlannedBody, type TensorCodec } from './types.js';

/**
 * A 16-bit cast codec: `narrow` writes the 16-bit form of each float32 (as bits) into `out`,
 * continuing `crc` over out's bytes as it writes them where it can (true: it did), `widen` the
 * float32 bits of each 16-bit value.
 */
export function cast16Codec(name: string, narrow: (bits: Int32Array, out: Uint16Array, crc: RunningCrc) => boolean, widen: (halves: Uint16Array, out: Int32Array) => void): TensorCodec {
  const plan = (t: HostTensor): PlannedBody | undefined => {
    if (t.type !== 'float32') return undefined;
    const src = t.data as Float32Array;
    // The float32 bits as Int32Array: its loads stay int32 in optimised code (Uint32 ones above 2^31 would not).
    const bits = new Int32Array(src.buffer, src.byteOffset, src.length);
    const write = (body: Uint8Array): number | undefined => {
      const crc = { value: 0 };
      let taken = false;
      // The same bytes whether written in place or through writeHalves' copy: the same CRC-32.
      writeHalves(body, (out) => {
        taken = narrow(bits, out, crc);
      });
      return taken ? crc.value : undefined;
    };
    return { codec: name, bytes: 2 * src.length, write };
  };
  return {
    name,
    lossless: false,
    async encode(t: HostTensor): Promise<CodedBody | undefined> {
      return writtenBody(plan(t));
    },
    plan,
    async decode(coded: CodedBody, type: string, dims: readonly number[]): Promise<HostTensor> {
      const n = elementCount(dims);
      expectBodyBytes(coded, n * 2, dims);
      const out = unfilled(Int32Array, n);
      widen(alignedView(coded.body, Uint16Array), out);
      return { type, dims: [...dims], data: new Float32Array(out.buffer) };
    },
  };
}
