/** Time helpers of the suites: none of them is a timed assertion, they only wait. */

/** Resolves after `ms`. */
export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** `[f(0), …, f(n-1)]`. */
export const times = <T>(n: number, f: (i: number) => T): T[] => Array.from({ length: n }, (_, i) => f(i));

/**
 * Waits until `check` passes (it throws or returns false otherwise), for states reached in the
 * background or read back over REST; after `timeoutMs` the last failure is thrown.
 */
export async function eventually(check: () => Promise<boolean | void> | boolean | void, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      if ((await check()) !== false) return;
    } catch (err) {
      if (Date.now() > deadline) throw err;
    }
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await sleep(20);
  }
}
