// Where an agent finds its cluster: a cluster.yaml (whose etcd section says where the truth is), or an
// etcd URL `etcd://host:2379[,host2:2379]/<cluster>` (`etcds://` for TLS, with the files from the agent's
// --etcd-ca/--etcd-cert/--etcd-key).

import { DOCUMENTED_DEFAULTS } from './defaults.ts';
import { type ClusterConfig, DNS_LABEL } from './schema.ts';
import { loadConfigFile } from './validate.ts';

export interface ConfigSource {
  cluster: string;
  etcd: ClusterConfig['etcd'];
  /** Set when the source was a file: its path, for messages. */
  file?: string;
}

/** Client TLS files for an etcds:// source (the agent's --etcd-ca, --etcd-cert, --etcd-key). */
export type EtcdTlsFiles = NonNullable<ClusterConfig['etcd']['tls']>;

export async function resolveConfigSource(source: string, tls?: EtcdTlsFiles): Promise<ConfigSource> {
  const m = /^etcd(s?):\/\/([^/]+)\/([^/]+)$/.exec(source);
  if (m) {
    const [, secure, hosts, cluster] = m as unknown as [string, string, string, string];
    if (secure && !tls)
      throw new Error(`${source}: etcds:// needs the TLS files: --etcd-ca, --etcd-cert and --etcd-key`);
    if (!secure && tls)
      throw new Error(`${source}: TLS files given for a plain etcd:// source (use etcds://)`);
    if (!DNS_LABEL.test(cluster)) throw new Error(`${source}: cluster "${cluster}" is not an RFC 1123 label`);
    const endpoints = hosts.split(',').map((h) => `${secure ? 'https' : 'http'}://${h}`);
    const etcd: ConfigSource['etcd'] = {
      endpoints,
      dialTimeoutMs: DOCUMENTED_DEFAULTS['etcd.dialTimeoutMs'],
    };
    if (tls) etcd.tls = tls;
    return { cluster, etcd };
  }
  if (tls) throw new Error(`${source}: --etcd-ca/--etcd-cert/--etcd-key go with an etcds:// source only`);
  if (/^[a-z]+:\/\//.test(source))
    throw new Error(`${source}: expected a file path or etcd://host:port/<cluster>`);
  const { config } = await loadConfigFile(source);
  return { cluster: config.cluster, etcd: config.etcd, file: source };
}
