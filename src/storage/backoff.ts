/**
 * When to try the store again: capped exponential backoff with jitter inside a total budget, and
 * which failures are worth another try (the store unreachable, its connection dropped or timed
 * out, or a 5xx answer). A 4xx answer (access denied, a missing key) is an answer: never retried.
 */

export interface BackoffPolicy {
  /** First delay before jitter (ms). */
  baseMs: number;
  /** No single delay is longer (ms). */
  capMs: number;
  /** How long the store may stay unavailable before giving up (ms). */
  budgetMs: number;
}

export const DEFAULT_BACKOFF: Omit<BackoffPolicy, 'budgetMs'> = Object.freeze({ baseMs: 100, capMs: 2000 });

/**
 * The delay before retry number `attempt` (1, 2, ...): base * 2^(attempt-1), capped, then a random
 * part of it ("equal jitter": between half and all of it), never past what is left of the budget.
 * `random` returns [0, 1) (Math.random unless a test gives one).
 */
export function backoffDelay(attempt: number, policy: BackoffPolicy, spentMs: number, random: () => number = Math.random): number {
  const exp = Math.min(policy.capMs, policy.baseMs * 2 ** Math.min(Math.max(attempt - 1, 0), 30));
  const jittered = exp / 2 + (exp / 2) * random();
  return Math.max(0, Math.min(jittered, policy.budgetMs - spentMs));
}

const TRANSIENT_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'ESOCKETTIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENETDOWN',
  'EAI_AGAIN',
  'UND_ERR_SOCKET',
  // S3's own names for a server that is overloaded or failing.
  'InternalError',
  'ServiceUnavailable',
  'SlowDown',
  'RequestTimeout',
]);
/** The minio client's message for a 5xx (and 408/429) answer when its own retry is off. */
const TRANSIENT_MESSAGE = /socket hang up|Retryable HTTP status: (5\d\d|408|429)/;

/** Whether a store failure (or anything in its cause chain) is the store being unavailable. */
export function isTransientStoreFailure(err: unknown): boolean {
  for (let e = err as { code?: unknown; message?: unknown; cause?: unknown } | undefined, depth = 0; e && depth < 8; e = e.cause as typeof e, depth++) {
    if (typeof e.code === 'string' && TRANSIENT_CODES.has(e.code)) return true;
    if (typeof e.message === 'string' && TRANSIENT_MESSAGE.test(e.message)) return true;
    const inner = (e as { errors?: unknown[] }).errors;
    if (Array.isArray(inner) && inner.some((x) => isTransientStoreFailure(x))) return true;
  }
  return false;
}
