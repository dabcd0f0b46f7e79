import { TimeoutError } from '../timeout.ts';

export { TimeoutError };

/**
 * A signal that aborts when `outer` does or when `timeoutMs` has passed, whichever
 * comes first; its reason tells which. Node 20.0 to 20.2 lack AbortSignal.any, and
 * `package.json` promises Node 20. Call `clear` when the work is done, so neither the
 * timer nor the listener outlives it.
 */
export function signalWithTimeout(
  outer: AbortSignal | undefined,
  timeoutMs: number,
): { signal: AbortSignal; clear: () => void } {
  const controller = new AbortController();
  const onAbort = () => controller.abort(outer?.reason);
  const timer = setTimeout(
    () => controller.abort(new TimeoutError(timeoutMs)),
    timeoutMs,
  );

  if (outer?.aborted) onAbort();
  else outer?.addEventListener('abort', onAbort, { once: true });

  const clear = () => {
    clearTimeout(timer);
    outer?.removeEventListener('abort', onAbort);
  };
  return { signal: controller.signal, clear };
}
