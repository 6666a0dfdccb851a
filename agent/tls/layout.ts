// Where the cluster's certificates live. On the operator's machine, the directory `nokube tls init` wrote
// (config tls.dir); on each host, the three files of that host only, uploaded by new-or-update to
// <installDir>/tls/ (beside etcd.tls's ca.pem, cert.pem, key.pem, hence other names). README "Certificates".
import { join } from 'node:path';

/** Private keys: owner read/write only. The directories: owner only. */
export const KEY_MODE = 0o600;
export const CERT_MODE = 0o644;
export const DIR_MODE = 0o700;

/** The files of tls.dir, relative to it. */
export const PKI_FILES = {
  caCert: 'ca.pem',
  caKey: 'ca-key.pem',
  cliCert: 'cli.pem',
  cliKey: 'cli-key.pem',
  nodesDir: 'nodes',
  nodeCert: (node: string) => join('nodes', `${node}.pem`),
  nodeKey: (node: string) => join('nodes', `${node}-key.pem`),
  /** Client certificates of `nokube tls client`. */
  clientsDir: 'clients',
  clientCert: (name: string) => join('clients', `${name}.pem`),
  clientKey: (name: string) => join('clients', `${name}-key.pem`),
} as const;

/** A node's three files: the CA to trust, its certificate and its key. */
export interface NodeTlsFiles {
  ca: string;
  cert: string;
  key: string;
}

/** A node's files inside tls.dir on the operator's machine. */
export function pkiNodeFiles(dir: string, node: string): NodeTlsFiles {
  return {
    ca: join(dir, PKI_FILES.caCert),
    cert: join(dir, PKI_FILES.nodeCert(node)),
    key: join(dir, PKI_FILES.nodeKey(node)),
  };
}

/** A node's files on its host, under <installDir>/tls/. */
export function hostNodeFiles(installDir: string): NodeTlsFiles {
  const dir = join(installDir, 'tls');
  return { ca: join(dir, 'cluster-ca.pem'), cert: join(dir, 'node.pem'), key: join(dir, 'node-key.pem') };
}
