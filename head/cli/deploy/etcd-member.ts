// etcd on the nodes of `etcd.serve`: each member runs the host's own etcd binary as a process service
// started by new-or-update (a new cluster: all members start together, `--initial-cluster-state new`),
// data under `<workspace>/etcd`, pid and log next to the agent's. Flags are derived from the config only.
// With the cluster's certificates (tls), clients and peers over TLS with the node's own certificate and key
// (uploaded to <installDir>/tls/ with the node file), both required to show a certificate of the cluster CA.
import { join } from 'node:path';
import type { ClusterConfig, NodeConfig } from '../../../agent/config/schema.ts';
import type { ServiceSpec } from '../../../agent/op/op-schema.ts';
import { servesEtcdWithTls } from '../../../agent/tls/etcd-served.ts';
import { hostNodeFiles } from '../../../agent/tls/layout.ts';

/** How long a stop waits after SIGTERM (etcd flushes and exits in well under a second). */
const ETCD_STOP_TIMEOUT_MS = 15_000;

export function etcdMemberService(config: ClusterConfig, node: NodeConfig): ServiceSpec | null {
  const serve = config.etcd.serve;
  if (!serve?.nodes.includes(node.name)) return null;
  const tls = servesEtcdWithTls(config);
  const scheme = tls ? 'https' : 'http';
  const peer = (n: NodeConfig) => `${scheme}://${n.address}:${serve.peerPort}`;
  const client = `${scheme}://${node.address}:${serve.clientPort}`;
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
      ...(tls ? tlsFlags(node) : []),
    ],
    pidFile: join(node.workspace, 'nokube-etcd.pid'),
    logFile: join(node.workspace, 'nokube-etcd.log'),
    stopTimeoutMs: ETCD_STOP_TIMEOUT_MS,
  };
}

/** The member's TLS: its node's certificate serves clients and peers (server and client EKU, the node's
 * address as SAN, which peers verify), and only certificates of the cluster CA are let in on either. */
function tlsFlags(node: NodeConfig): string[] {
  const f = hostNodeFiles(node.ssh!.installDir); // etcd.serve's nodes have ssh (validated)
  return [
    '--cert-file',
    f.cert,
    '--key-file',
    f.key,
    '--client-cert-auth',
    '--trusted-ca-file',
    f.ca,
    '--peer-cert-file',
    f.cert,
    '--peer-key-file',
    f.key,
    '--peer-client-cert-auth',
    '--peer-trusted-ca-file',
    f.ca,
  ];
}
