import { OnnxManagerError } from '../../errors.js';

/** A payload is malformed, truncated, over a limit, of an unknown version, or cannot be encoded. */
export class PayloadError extends OnnxManagerError {}

/** Internal to the decoder: a reason the bytes are refused; decodePayload turns it into a PayloadError naming the file. */
export class Refused extends Error {}

export function refuse(reason: string): never {
  throw new Refused(reason);
}

export function encodeError(reason: string): PayloadError {
  return new PayloadError(`cannot encode payload: ${reason}`);
}
