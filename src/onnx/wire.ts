/**
 * Field scanning of ONNX files. The split engine keeps nodes and weights as byte ranges of the
 * original file and assembles parts from them (../proto/writer.ts), so nothing is re-encoded or
 * copied until it is written, and every field (known or not) is carried over byte for byte.
 */
import { OnnxFormatError } from '../errors.js';
import { scanFields, type FieldRange } from '../proto/reader.js';

/** The fields of buf[start, end); malformed bytes are an OnnxFormatError naming `what` and the file. */
export function scanOrThrow(buf: Uint8Array, start: number, end: number, what: string, file?: string): FieldRange[] {
  try {
    return scanFields(buf, start, end);
  } catch (err) {
    const where = file ? `${file}: ` : '';
    throw new OnnxFormatError(`${where}not a valid ONNX model (${what}: ${(err as Error).message})`, { cause: err, file });
  }
}
