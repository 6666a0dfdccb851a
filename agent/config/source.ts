// Where an agent finds its cluster: a cluster.yaml (whose etcd section says where the truth is), or an
// etcd URL `etcd://host:2379[,host2:2379]/<cluster>` (`etcds://` for TLS with --etcd-ca/--etcd-cert/--etcd-key).

import { type ClusterConfig, DNS_LABEL, DOCUMENTED_DEFAULTS } from './schema.ts';
import { loadConfigFile } from './validate.ts';

export interface ConfigSource {
  cluster: string;
  etcd: ClusterConfig['etcd'];
  /** Set when the source was a file: its path, for messages. */
  file?: string;
}

export async function resolveConfigSource(source: string): Promise<ConfigSource> {
  const m = /^etcd(s?):\/\/([^/]+)\/([^/]+)$/.exec(source);
  if (m) {
    const [, tls, hosts, cluster] = m as unknown as [string, string, string, string];
    if (tls)
      throw new Error(`${source}: etcds:// needs TLS files; give a cluster.yaml with etcd.tls instead`);
    if (!DNS_LABEL.test(cluster)) throw new Error(`${source}: cluster "${cluster}" is not an RFC 1123 label`);
    const endpoints = hosts.split(',').map((h) => `http://${h}`);
    return { cluster, etcd: { endpoints, dialTimeoutMs: DOCUMENTED_DEFAULTS['etcd.dialTimeoutMs'] } };
  }
  if (/^[a-z]+:\/\//.test(source))
    throw new Error(`${source}: expected a file path or etcd://host:port/<cluster>`);
  const { config } = await loadConfigFile(source);
  return { cluster: config.cluster, etcd: config.etcd, file: source };
}
