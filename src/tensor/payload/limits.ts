/** The format version written and read, and the bounds every decode is held to. */

export const PAYLOAD_VERSION = 1;
export const DEFAULT_MAX_BYTES = 2 * 1024 ** 3;
export const DEFAULT_MAX_TENSORS = 4096;
/** Most dimensions a tensor may have. */
export const MAX_RANK = 64;
/** Longest run id accepted. */
export const MAX_RUN_ID_LENGTH = 256;
/** Most entries of next_models and of timings (each checked while reading, so memory stays bounded). */
export const MAX_LIST_ENTRIES = 65536;
