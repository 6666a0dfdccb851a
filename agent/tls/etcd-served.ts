// etcd served by new-or-update (etcd.serve) with the cluster's certificates (config tls): every member
// serves clients and peers over TLS with its node's certificate and requires a certificate of the cluster
// CA from both; agents are its clients with their node's certificate, the CLI with tls.dir's cli.pem.
// README "Deploy over SSH" and "Certificates".
import { join } from 'node:path';
import type { ClusterConfig } from '../config/schema.ts';
import type { EtcdSettings } from '../store/etcd.ts';
import { PKI_FILES } from './layout.ts';

/** etcd.serve with tls: the served etcd requires TLS and client certificates (etcd.tls is refused then). */
export function servesEtcdWithTls(config: ClusterConfig): config is ClusterConfig & {
  tls: NonNullable<ClusterConfig['tls']>;
} {
  return config.etcd.serve !== undefined && config.tls !== undefined;
}

/** How the operator's machine (new-or-update, the CLI's saved context) reaches etcd: the config's etcd
 * section, with tls.dir's CA and CLI certificate when the served etcd requires client certificates. */
export function cliEtcdSettings(config: ClusterConfig): EtcdSettings {
  const { endpoints, dialTimeoutMs, tls } = config.etcd;
  if (!servesEtcdWithTls(config)) return { endpoints, dialTimeoutMs, ...(tls ? { tls } : {}) };
  const dir = config.tls.dir;
  return {
    endpoints,
    dialTimeoutMs,
    tls: {
      ca: join(dir, PKI_FILES.caCert),
      cert: join(dir, PKI_FILES.cliCert),
      key: join(dir, PKI_FILES.cliKey),
    },
  };
}
