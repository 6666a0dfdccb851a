// etcd on the nodes of `etcd.serve`: each member runs the host's own etcd binary as a process service
// started by new-or-update (a new cluster: all members start together, `--initial-cluster-state new`),
// data under `<workspace>/etcd`, pid and log next to the agent's. Flags are derived from the config only.
import { join } from 'node:path';
import type { ClusterConfig, NodeConfig } from '../../../agent/config/schema.ts';
import type { ServiceSpec } from '../../../agent/op/op-schema.ts';

/** How long a stop waits after SIGTERM (etcd flushes and exits in well under a second). */
const ETCD_STOP_TIMEOUT_MS = 15_000;

export function etcdMemberService(config: ClusterConfig, node: NodeConfig): ServiceSpec | null {
  const serve = config.etcd.serve;
  if (!serve?.nodes.includes(node.name)) return null;
  const peer = (n: NodeConfig) => `http://${n.address}:${serve.peerPort}`;
  const client = `http://${node.address}:${serve.clientPort}`;
  const members = serve.nodes.map((name) => config.nodes.find((n) => n.name === name)!);
  return {
    mode: 'process',
    name: 'nokube-etcd',
    command: [
      serve.binary,
      '--name',
      node.name,
      '--data-dir',
      join(node.workspace, 'etcd'),
      '--listen-client-urls',
      client,
      '--advertise-client-urls',
      client,
      '--listen-peer-urls',
      peer(node),
      '--initial-advertise-peer-urls',
      peer(node),
      '--initial-cluster',
      members.map((m) => `${m.name}=${peer(m)}`).join(','),
      '--initial-cluster-token',
      `nokube-${config.cluster}`,
      '--initial-cluster-state',
      'new',
    ],
    pidFile: join(node.workspace, 'nokube-etcd.pid'),
    logFile: join(node.workspace, 'nokube-etcd.log'),
    stopTimeoutMs: ETCD_STOP_TIMEOUT_MS,
  };
}
