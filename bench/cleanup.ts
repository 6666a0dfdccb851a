// What every bench does on its way out, also when interrupted: stop its test cluster (agents, etcd) and
// remove the containers its agents left (pods keep running when an agent stops).
import type { TestCluster } from '../test/harness/cluster.ts';
import { type Docker, removeContainers } from '../test/harness/docker.ts';

export async function stopClusterAndPods(docker: Docker, c: TestCluster | undefined): Promise<void> {
  if (!c) return;
  await c.stop().catch(() => undefined);
  await removeContainers(docker, { 'nokube.cluster': c.name }).catch(() => undefined);
}

/** Ctrl-C or SIGTERM runs `cleanup`, then exits 130. */
export function cleanupOnSignals(cleanup: () => Promise<void>): void {
  for (const sig of ['SIGINT', 'SIGTERM'] as const)
    process.once(sig, () => {
      process.stderr.write(`\n${sig}: cleaning up…\n`);
      cleanup().finally(() => process.exit(130));
    });
}
