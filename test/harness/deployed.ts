// What the deploy tests and bench/deploy share: a cluster config (YAML) for netns test hosts, and
// stopping the agents a deploy started on them (over SSH, through the installed binary's own op), so a
// test or bench leaves no agent behind.
import { rmSync } from 'node:fs';
import { copyFile, mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Etcd3 } from 'etcd3';
import { stringify } from 'yaml';
import type { ClusterConfig } from '../../agent/config/schema.ts';
import { validateConfigText } from '../../agent/config/validate.ts';
import { fileSha256 } from '../../agent/op/checksum.ts';
import { encodeOp } from '../../agent/op/op.ts';
import type { ServiceSpec } from '../../agent/op/op-schema.ts';
import { readConfig, storeConfig } from '../../agent/store/config-store.ts';
import type { DeployOptions } from '../../head/cli/deploy/deploy.ts';
import { etcdMemberService } from '../../head/cli/deploy/etcd-member.ts';
import type { LocalBinary } from '../../head/cli/deploy/node-deploy.ts';
import { type NodeTarget, nodeTarget } from '../../head/cli/deploy/node-target.ts';
import { openSession } from '../../head/cli/deploy/ssh/session.ts';
import { REPO } from './cluster.ts';
import type { TestHost, TestHosts } from './hosts.ts';

/** Temp dirs of copiedBinary, removed when this process exits (a test file's process ends with it). */
const copies: string[] = [];
process.once('exit', () => {
  for (const dir of copies) rmSync(dir, { recursive: true, force: true });
});

/** The built dist/nokube, copied to a temp dir (other work may rebuild dist/nokube meanwhile); the copy
 * (127 MB) is removed at this process's exit: each run left one per deploy test behind. */
export async function copiedBinary(): Promise<LocalBinary> {
  const dir = await mkdtemp(join(tmpdir(), 'nokube-deploy-bin-'));
  copies.push(dir);
  const path = join(dir, 'nokube');
  await copyFile(join(REPO, 'dist', 'nokube'), path);
  return { path, sha256: await fileSha256(path) };
}

export interface DeployedNodeSpec {
  host: TestHost;
  roles: Array<'head' | 'worker'>;
  labels?: Record<string, string>;
  /** Sub-folder of the host's dir for install dir and workspace (several clusters on one host). */
  subdir?: string;
  knownHosts?: string;
  /** nodes[].ssh.service and nodes[].dockerSocket, when the test sets them. */
  service?: 'process' | 'docker' | 'systemd';
  dockerSocket?: string;
}

export function deployConfigText(
  th: TestHosts,
  o: {
    cluster: string;
    /** The config's etcd section as written (endpoints, and tls or serve when the test wants them). */
    etcd: { endpoints: string[]; [field: string]: unknown };
    headPort: number;
    meshPort: number;
    nodes: DeployedNodeSpec[];
    /** The config's network section, as written; absent: `mode: host` (the hosts' pods may go to the
     * machine's one Docker engine). */
    network?: Record<string, unknown>;
  },
): string {
  return stringify({
    cluster: o.cluster,
    etcd: o.etcd,
    head: { port: o.headPort },
    mesh: { port: o.meshPort },
    network: o.network ?? { mode: 'host' },
    nodes: o.nodes.map((n) => ({
      name: n.host.name,
      address: n.host.address,
      roles: n.roles,
      labels: n.labels ?? {},
      workspace: n.subdir ? `${n.host.dir}/${n.subdir}/workspace` : n.host.workspaceDir,
      ...(n.dockerSocket ? { dockerSocket: n.dockerSocket } : {}),
      ssh: {
        user: th.user,
        port: 22,
        key: th.privateKeyPath,
        knownHosts: n.knownHosts ?? th.knownHostsPath,
        installDir: n.subdir ? `${n.host.dir}/${n.subdir}/install` : n.host.installDir,
        ...(n.service ? { service: n.service } : {}),
      },
    })),
  });
}

/** Stop the agent service on every node of the config that has one (best effort: hosts may be gone). */
export function stopDeployedAgents(configText: string): Promise<void> {
  return stopOnNodes(configText, (t) => t.service);
}

/** Stop the etcd members new-or-update started (etcd.serve), the same way. */
export function stopServedEtcd(configText: string): Promise<void> {
  return stopOnNodes(configText, (t, config) => etcdMemberService(config, t.node));
}

/** Stop a service on every node of the config, through the installed binary's own op. */
async function stopOnNodes(
  configText: string,
  service: (t: NodeTarget, config: ClusterConfig) => ServiceSpec | null,
): Promise<void> {
  const config = validateConfigText(configText, 'cluster.yaml').config;
  await Promise.all(
    config.nodes.map(async (n) => {
      const t = nodeTarget(config, n);
      const spec = service(t, config);
      if (!spec) return;
      const s = await openSession(t.node, 5000).catch(() => null);
      if (!s) return;
      await s
        .exec([t.binaryPath, 'agent', 'op', encodeOp({ op: 'stop', service: spec })])
        .catch(() => undefined);
      s.close();
    }),
  );
}

/** DeployOptions as the CLI builds them (previous config from etcd, store in etcd), confirming at once,
 * output collected in `out`. */
export function testDeployOptions(o: {
  text: string;
  binary: LocalBinary;
  etcd: () => Promise<Etcd3>;
  out: string[];
  dryRun?: boolean;
}): DeployOptions {
  const config = validateConfigText(o.text, 'cluster.yaml').config;
  return {
    config,
    binary: o.binary,
    dryRun: o.dryRun === true,
    confirm: async () => true,
    previousConfig: async () => {
      const stored = await readConfig(await o.etcd(), config.cluster);
      return stored ? validateConfigText(stored.text, 'stored').config : null;
    },
    storeConfig: async () => {
      await storeConfig(await o.etcd(), o.text, 'cluster.yaml', 'deploy-test', 'latest');
    },
    etcd: o.etcd,
    out: (t) => o.out.push(t),
    by: 'deploy-test',
    sshTimeoutMs: 5000,
    registerTimeoutMs: 60_000,
    drainTimeoutMs: 60_000,
  };
}
