// SIGSTOP that a test can rely on. kill(2) returns once the stop is pending; each of the process's threads
// stops when the kernel next gets hold of it, so a thread running on another core (or on a vCPU the
// hypervisor has not run yet) can still answer a request for a moment. Wait until /proc says every thread
// is stopped.
import { readdir, readFile } from 'node:fs/promises';
import { eventually } from './cluster.ts';

/** The state letter of each thread of `pid` (T stopped, S sleeping, R running, …); none when it is gone. */
async function threadStates(pid: number): Promise<string[]> {
  const tasks = await readdir(`/proc/${pid}/task`).catch(() => []);
  const states = await Promise.all(
    tasks.map((t) =>
      readFile(`/proc/${pid}/task/${t}/stat`, 'utf8').then(
        (s) => s.charAt(s.lastIndexOf(')') + 2),
        () => '',
      ),
    ),
  );
  return states.filter((s) => s !== '');
}

/** SIGSTOP `pid` and return when all of its threads are stopped. */
export async function freezeProcess(pid: number): Promise<void> {
  process.kill(pid, 'SIGSTOP');
  await eventually(
    async () => {
      const states = await threadStates(pid);
      return states.length > 0 && states.every((s) => s === 'T');
    },
    5000,
    `process ${pid} stopped`,
  );
}
