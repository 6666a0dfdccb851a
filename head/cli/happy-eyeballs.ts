// Trying several servers the way RFC 8305 ("Happy Eyeballs") tries addresses: the first at once, the next
// `staggerMs` later if none has answered yet (or at once when one fails), and so on; the first to answer
// wins and the others are aborted. A dead or frozen first server then costs `staggerMs`, not its timeout.

export type RaceResult<T> = { server: string; value: T } | { errors: string[] };

export function firstToAnswer<T>(
  servers: string[],
  attempt: (server: string, signal: AbortSignal) => Promise<T>,
  staggerMs: number,
): Promise<RaceResult<T>> {
  return new Promise((resolve) => {
    const abort = new AbortController();
    const errors: string[] = [];
    let next = 0;
    let pending = 0;
    let done = false;
    let timer: NodeJS.Timeout | undefined;
    const startNext = (): void => {
      clearTimeout(timer);
      if (done) return;
      if (next >= servers.length) {
        if (pending === 0) {
          done = true;
          resolve({ errors });
        }
        return;
      }
      const server = servers[next++]!;
      pending++;
      attempt(server, abort.signal).then(
        (value) => {
          pending--;
          if (done) return;
          done = true;
          clearTimeout(timer);
          abort.abort();
          resolve({ server, value });
        },
        (err: unknown) => {
          pending--;
          if (done) return;
          errors.push(`${server}: ${err instanceof Error ? err.message : String(err)}`);
          startNext();
        },
      );
      if (next < servers.length) timer = setTimeout(startNext, staggerMs);
    };
    startNext();
  });
}
