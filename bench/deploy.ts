// bench/deploy: how long `nokube new-or-update cluster.yaml --yes` (the binary, over real SSH) takes to
// bring N bare hosts to running agents, and to rerun with no change.
//   node bench/deploy.ts [--sizes 3,6] [--bin dist/nokube]
// Hosts are `ip netns` namespaces with their own sshd (test/harness/hosts.ts); etcd runs on their gateway.
// Per size N, a fresh cluster (its own install dirs and workspaces):
//   from nothing   upload + install + start, one host at a time, each waited for until registered
//   no change      connect to all, observe, plan "nothing to do"            target: < 3 s for 6 hosts
// Needs root. Every agent, sshd, namespace and etcd it starts is stopped at the end, also on Ctrl-C.
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs, promisify } from 'node:util';
import { REPO } from '../test/harness/cluster.ts';
import { deployConfigText, stopDeployedAgents } from '../test/harness/deployed.ts';
import { startTestEtcd, type TestEtcd } from '../test/harness/etcd.ts';
import { startTestHosts, type TestHosts } from '../test/harness/hosts.ts';
import { cleanupOnSignals } from './cleanup.ts';

const run = promisify(execFile);
const { values } = parseArgs({
  options: { sizes: { type: 'string', default: '3,6' }, bin: { type: 'string', default: 'dist/nokube' } },
});
const sizes = values.sizes.split(',').map(Number);
const bin = resolve(REPO, values.bin);
const TARGET_NO_CHANGE_MS = 3000;

let th: TestHosts | undefined;
let etcd: TestEtcd | undefined;
const configs: string[] = [];
const home = await mkdtemp(join(tmpdir(), 'nokube-bench-deploy-'));

async function cleanup(): Promise<void> {
  for (const c of configs.splice(0)) await stopDeployedAgents(c).catch(() => undefined);
  await etcd?.stop().catch(() => undefined);
  await th?.stop().catch(() => undefined);
  await rm(home, { recursive: true, force: true });
}
cleanupOnSignals(cleanup);

async function timedDeploy(file: string): Promise<{ ms: number; out: string }> {
  const t0 = performance.now();
  const { stdout } = await run(bin, ['new-or-update', file, '--yes'], {
    env: { ...process.env, NOKUBE_HOME: home },
    maxBuffer: 16 << 20,
  });
  return { ms: performance.now() - t0, out: stdout };
}

try {
  th = await startTestHosts(Math.max(...sizes));
  etcd = await startTestEtcd(th.gateway);
  const rows: string[] = [];
  for (const n of sizes) {
    const text = deployConfigText(th, {
      cluster: `bench-${n}`,
      etcd: { endpoints: [etcd.url] },
      headPort: 7480 + n,
      meshPort: 7900 + n,
      nodes: th.hosts.slice(0, n).map((host, i) => ({
        host,
        roles: i === 0 ? ['head', 'worker'] : ['worker'],
        subdir: `bench-${n}`,
      })),
    });
    configs.push(text);
    const file = join(home, `cluster-${n}.yaml`);
    await writeFile(file, text);
    const fresh = await timedDeploy(file);
    const again = await timedDeploy(file);
    if (!/No change on any host\./.test(again.out))
      throw new Error(`the rerun of N = ${n} changed something:\n${again.out}`);
    rows.push(
      `N = ${String(n).padStart(2)}   from nothing ${(fresh.ms / 1000).toFixed(2)} s   no change ${(again.ms / 1000).toFixed(2)} s` +
        (n === 6
          ? `   (target < ${TARGET_NO_CHANGE_MS / 1000} s: ${again.ms < TARGET_NO_CHANGE_MS ? 'met' : 'missed'})`
          : ''),
    );
    await stopDeployedAgents(text);
    configs.splice(configs.indexOf(text), 1);
  }
  process.stdout.write(`bench/deploy (${bin})\n${rows.join('\n')}\n`);
} finally {
  await cleanup();
}
