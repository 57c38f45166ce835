/** What a file given by mistake looks like, from its first bytes (no file system: the bytes only). */
import { FileError } from './errors.js';

const MAGIC: [bytes: number[], kind: string][] = [
  [[0x89, 0x50, 0x4e, 0x47], 'a PNG image'],
  [[0xff, 0xd8, 0xff], 'a JPEG image'],
  [[0x47, 0x49, 0x46, 0x38], 'a GIF image'],
  [[0x25, 0x50, 0x44, 0x46], 'a PDF document'],
  [[0x50, 0x4b, 0x03, 0x04], 'a ZIP archive'],
  [[0x1f, 0x8b], 'a gzip archive'],
];

/** ModelProto's fields 2..8 (producer, domain, model_version, doc_string, graph, opset_import) as the tag after ir_version. */
const ONNX_SECOND_TAGS = new Set([0x12, 0x1a, 0x22, 0x28, 0x32, 0x3a, 0x42]);

/**
 * What a file looks like from its first bytes, for messages about a file of the wrong kind given
 * ('an ONNX model', 'a PNG image', 'a CSV file', ...); undefined when nothing is recognised.
 */
export function contentKind(bytes: Uint8Array): string | undefined {
  if (bytes.length === 0) return 'an empty file';
  for (const [magic, kind] of MAGIC) if (magic.every((b, i) => bytes[i] === b)) return kind;
  const head = bytes.subarray(0, 4096);
  if (head.includes(0) || (bytes[0] === 0x08 && bytes[1]! < 0x20)) {
    // ir_version (field 1) first, then another ModelProto field; the project's payloads have a fixed64 (field 2) second.
    if (bytes[0] === 0x08 && bytes[1]! > 0 && bytes[1]! < 0x80 && ONNX_SECOND_TAGS.has(bytes[2]!)) return 'an ONNX model';
    if (bytes[0] === 0x08 && bytes[2] === 0x11) return 'a payload file (.pb)';
    return head.includes(0) ? 'binary content' : undefined;
  }
  const text = Buffer.from(head).toString('utf8').trimStart();
  if (text.startsWith('{') || text.startsWith('[')) return 'a JSON file';
  const [first, second] = text.split('\n');
  if (second !== undefined && first!.includes(',')) return 'a CSV file';
  return 'a text file';
}

/**
 * The error for CSV text expected (`expected`, e.g. 'a profile CSV') and bytes of another kind:
 * `FILE: not EXPECTED (it looks like an ONNX model)`; undefined for text that may be a CSV.
 */
export function notCsvError(file: string, bytes: Uint8Array, expected: string): FileError | undefined {
  const kind = contentKind(bytes);
  if (kind === undefined || kind === 'a CSV file' || kind === 'a text file' || kind === 'an empty file') return undefined;
  return new FileError(`${file}: not ${expected} (${kind === 'binary content' ? kind : `it looks like ${kind}`})`, { file });
}
