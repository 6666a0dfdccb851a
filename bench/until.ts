// The benches' wait: poll until a check gives a value (a check that throws counts as not yet), or fail
// after the bench's --timeout.

/** `until(what, check, pollMs)` bounded by `timeoutMs`. */
export function untilWithin(timeoutMs: number, defaultPollMs: number) {
  return async function until<T>(
    what: string,
    check: () => Promise<T | false>,
    pollMs = defaultPollMs,
  ): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const v = await check().catch(() => false as const);
      if (v !== false) return v;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, pollMs));
    }
  };
}
