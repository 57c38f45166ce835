/**
 * The name a model part goes by: the sha256 of its bytes, in hex. Payloads list the cloud parts
 * by it, the store keeps them under models/<hash>.onnx, and the cloud checks it on load.
 */
import { createHash } from 'node:crypto';

export function partHash(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}
