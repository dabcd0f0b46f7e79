import { setTimeout as sleep } from 'node:timers/promises';

/**
 * The one polling helper of the tests, the fault suite and the bench. It lives under
 * test/ because only code that is never shipped needs it: the service polls nothing
 * this way, and the image copies src/, workers/ and bin/ only.
 */

/** Gives the awaited value, or undefined or false while it is not there yet. */
export type Probe<T> = () => Promise<T | undefined | false> | T | undefined | false;

/**
 * Asks `probe` again every `intervalMs` until it gives a value other than undefined
 * or false, and returns that value. Past `timeoutMs` it throws, naming `what` it
 * waited for: a bound against hanging, not a timing assertion. A probe that throws
 * ends the wait with its error.
 */
export async function waitFor<T>(
  what: string,
  probe: Probe<T>,
  timeoutMs: number,
  intervalMs = 100,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    }
    await sleep(intervalMs);
  }
}
