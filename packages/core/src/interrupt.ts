import { PgcloneError } from './errors.js';

/**
 * Runs an operation that takes an AbortSignal: an aborted signal stops it before it locks or changes anything, and
 * whatever the abort broke on the way out (a DOMException, a killed child's exit) becomes one INTERRUPTED error, as
 * for `dump`.
 */
export async function interruptible<T>(signal: AbortSignal | undefined, what: string, operation: () => Promise<T>): Promise<T> {
  if (signal?.aborted) throw new PgcloneError('INTERRUPTED', `${what} was interrupted before it started; nothing was changed`);
  try {
    return await operation();
  } catch (error) {
    if (!signal?.aborted || (error instanceof PgcloneError && error.code === 'INTERRUPTED')) throw error;
    throw new PgcloneError('INTERRUPTED', `${what} was interrupted`, { cause: error });
  }
}

/**
 * Calls `onAbort` once when `signal` aborts, or at once when it already has: an `abort` event that fired before the
 * listener was added is not fired again, and a child started after it would otherwise run to its end. Returns the
 * function that stops listening.
 */
export function whenAborted(signal: AbortSignal | undefined, onAbort: () => void): () => void {
  if (!signal) return () => {};
  if (signal.aborted) {
    onAbort();
    return () => {};
  }
  signal.addEventListener('abort', onAbort, { once: true });
  return () => signal.removeEventListener('abort', onAbort);
}

/** The error Node's own `signal` options reject with (`AbortError`), for a child stopped through {@link whenAborted}. */
export function abortError(signal: AbortSignal): Error {
  return Object.assign(new Error('The operation was aborted', { cause: signal.reason }), { name: 'AbortError', code: 'ABORT_ERR' });
}
