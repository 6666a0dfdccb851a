// Jobs run at most `limit` at a time, in order of start: thousands of independent etcd writes (a sweep's
// deletions) go out as a window instead of one round trip after another, and never all at once.

/** Run every job, at most `limit` at once. After a failure no new job starts; the first failure is thrown
 * once the jobs already started have settled. */
export async function atMost(limit: number, jobs: ReadonlyArray<() => Promise<unknown>>): Promise<void> {
  let next = 0;
  let failed = false;
  let failure: unknown;
  const worker = async () => {
    while (next < jobs.length && !failed) {
      const job = jobs[next++]!;
      try {
        await job();
      } catch (err) {
        if (!failed) failure = err;
        failed = true;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, jobs.length) }, worker));
  if (failed) throw failure;
}
