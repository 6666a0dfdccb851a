// What a deploy puts on one node, derived from the validated config: paths, the node's own config slice
// (the file whose checksum decides a restart: cluster, etcd, and this node's entry, so a change to another
// node restarts nothing here) and the service that runs the agent.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { type ClusterConfig, type NodeConfig, podNetworkOf } from '../../../agent/config/schema.ts';
import type { ServiceSpec } from '../../../agent/op/op-schema.ts';
import { SECRET_VOLUMES_ROOT } from '../../../agent/pods/secret-volumes.ts';
import { servesEtcdWithTls } from '../../../agent/tls/etcd-served.ts';
import { hostNodeFiles, pkiNodeFiles } from '../../../agent/tls/layout.ts';

/** How long a stop waits after SIGTERM (the agent leaves the mesh first). README "Deploy over SSH". */
export const AGENT_STOP_TIMEOUT_MS = 15_000;
/** The engine socket when the node names none (nodes[].dockerSocket). */
export const DEFAULT_DOCKER_SOCKET = '/var/run/docker.sock';
const AGENT_SERVICE = 'nokube-agent';

export interface NodeTarget {
  node: NodeConfig & { ssh: NonNullable<NodeConfig['ssh']> };
  binaryPath: string;
  configPath: string;
  configText: string;
  configSha256: string;
  /** Files to upload with the node file: etcd.tls's, this node's own of the cluster's TLS (config tls:
   * the CA certificate, its certificate and key; never the CA key, never another node's), the secrets keyring. */
  tlsFiles: TlsFile[];
  service: ServiceSpec;
}

export interface TlsFile {
  local: string;
  remote: string;
  sha256: string;
}

function readLocal(node: string, field: string, path: string): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    throw new Error(`${node}: ${field} ${path}: ${(err as Error).message}`);
  }
}

function tlsFile(node: string, field: string, local: string, remote: string): TlsFile {
  return {
    local,
    remote,
    sha256: createHash('sha256')
      .update(readLocal(node, field, local))
      .digest('hex'),
  };
}

/** The node's own files of the cluster's TLS (none without config tls): CA certificate, certificate, key. */
function nodeTlsFiles(config: ClusterConfig, node: NodeConfig, installDir: string): TlsFile[] {
  if (!config.tls) return [];
  const local = pkiNodeFiles(config.tls.dir, node.name);
  const remote = hostNodeFiles(installDir);
  return (['ca', 'cert', 'key'] as const).map((k) => tlsFile(node.name, `tls.dir`, local[k], remote[k]));
}

/** `secretsKeyFile`: the keyring on this machine (head/cli/secrets/key-file.ts), uploaded to
 * `<installDir>/secrets-key.json` and passed as --secrets-key (without it, agents hold no key). */
export function nodeTarget(config: ClusterConfig, node: NodeConfig, secretsKeyFile?: string): NodeTarget {
  if (!node.ssh) throw new Error(`${node.name}: no ssh section (nodes[].ssh) to deploy it with`);
  const dir = node.ssh.installDir;
  const binaryPath = join(dir, 'nokube');
  const configPath = join(dir, 'node.json');
  // etcd client TLS: the operator's files go to <installDir>/tls/; their checksums are part of the node
  // file, so a renewed certificate is a config change (uploaded, agent restarted) like any other.
  const tls = config.etcd.tls;
  const etcdFiles: TlsFile[] = tls
    ? (['ca', 'cert', 'key'] as const).map((k) =>
        tlsFile(node.name, `etcd.tls.${k}`, tls[k], join(dir, 'tls', `${k}.pem`)),
      )
    : [];
  // The cluster's TLS: this node's own three files from tls.dir, the same way (checksums in the node file:
  // a renewed certificate of this node restarts this agent only).
  const nodeFiles = nodeTlsFiles(config, node, dir);
  const clusterTls = nodeFiles.length
    ? {
        ca: nodeFiles[0]!.remote,
        cert: nodeFiles[1]!.remote,
        key: nodeFiles[2]!.remote,
        sha256: nodeFiles.map((f) => f.sha256),
      }
    : undefined;
  // The agent's etcd client files: etcd.tls's, or, when etcd is served with the cluster's certificates,
  // this node's own (named in the node file's etcd block; their checksums are in its tls entry).
  const etcdClientFiles = servesEtcdWithTls(config) ? nodeFiles : etcdFiles;
  const etcd = etcdClientFiles.length
    ? {
        ...config.etcd,
        tls: {
          ca: etcdClientFiles[0]!.remote,
          cert: etcdClientFiles[1]!.remote,
          key: etcdClientFiles[2]!.remote,
        },
        ...(etcdFiles.length ? { tlsSha256: etcdFiles.map((f) => f.sha256) } : {}),
      }
    : config.etcd;
  // The keyring likewise: its checksum in the node file, so a new key (a rotation) is uploaded and taken.
  const keyFile = secretsKeyFile
    ? tlsFile(node.name, 'secrets.keyFile', secretsKeyFile, join(dir, 'secrets-key.json'))
    : undefined;
  const secrets = keyFile ? { secrets: { keyFile: keyFile.remote, keySha256: keyFile.sha256 } } : {};
  const configText = `${JSON.stringify({ cluster: config.cluster, etcd, tls: clusterTls, ...secrets, node }, null, 2)}\n`;
  const endpoints = config.etcd.endpoints.map((u) => new URL(u).host).join(',');
  const configSha256 = createHash('sha256').update(configText).digest('hex');
  const tlsArgs = [
    ...etcdClientFiles.flatMap((f, i) => [['--etcd-ca', '--etcd-cert', '--etcd-key'][i]!, f.remote]),
    ...nodeFiles.flatMap((f, i) => [['--tls-ca', '--tls-cert', '--tls-key'][i]!, f.remote]),
  ];
  const keyArgs = keyFile ? ['--secrets-key', keyFile.remote] : [];
  const tlsFiles = [...etcdFiles, ...nodeFiles, ...(keyFile ? [keyFile] : [])];
  return {
    node: node as NodeTarget['node'],
    binaryPath,
    configPath,
    configText,
    configSha256,
    tlsFiles,
    service: agentService(node as NodeTarget['node'], configSha256, podNetworkOf(config) !== undefined, [
      binaryPath,
      'agent',
      '--config',
      `${etcdClientFiles.length ? 'etcds' : 'etcd'}://${endpoints}/${config.cluster}`,
      '--node',
      node.name,
      ...tlsArgs,
      ...keyArgs,
    ]),
  };
}

/** The agent's service in the node's mode (nodes[].ssh.service); the record of the service last started
 * is kept in the install dir, so a change of mode stops the old service on the host. */
function agentService(
  node: NodeTarget['node'],
  configSha256: string,
  podNetwork: boolean,
  command: string[],
): ServiceSpec {
  const common = {
    name: AGENT_SERVICE,
    command,
    stopTimeoutMs: AGENT_STOP_TIMEOUT_MS,
    recordFile: join(node.ssh.installDir, 'service.json'),
  };
  switch (node.ssh.service) {
    case 'process':
      return {
        mode: 'process',
        ...common,
        pidFile: join(node.workspace, `${AGENT_SERVICE}.pid`),
        logFile: join(node.workspace, `${AGENT_SERVICE}.log`),
      };
    case 'docker': {
      const socket = node.dockerSocket ?? DEFAULT_DOCKER_SOCKET;
      return {
        mode: 'docker',
        ...common,
        socket,
        image: AGENT_SERVICE,
        // Secret volumes are written on the host's tmpfs (agent/pods/secret-volumes.ts) for the engine
        // to bind: the agent's container sees the same folder.
        mounts: [...new Set([socket, node.workspace, node.ssh.installDir, SECRET_VOLUMES_ROOT])],
        labels: { 'nokube.service.node': node.name, 'nokube.service.config-sha256': configSha256 },
        podNetwork,
      };
    }
    case 'systemd':
      return {
        mode: 'systemd',
        ...common,
        unitDir: '/etc/systemd/system',
        description: `nokube agent (node ${node.name})`,
      };
  }
}
