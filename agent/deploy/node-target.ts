// What a deploy puts on one node, derived from the validated config: paths, the node's own config slice
// (the file whose checksum decides a restart: cluster, etcd, and this node's entry, so a change to another
// node restarts nothing here) and the service that runs the agent.
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import type { ClusterConfig, NodeConfig } from '../config/schema.ts';
import type { ServiceSpec } from './op-schema.ts';

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
  service: ServiceSpec;
}

export function nodeTarget(config: ClusterConfig, node: NodeConfig): NodeTarget {
  if (!node.ssh) throw new Error(`${node.name}: no ssh section (nodes[].ssh) to deploy it with`);
  if (config.etcd.tls)
    throw new Error(`${node.name}: etcd.tls is not deployed over SSH yet (certificates are a later step)`);
  const dir = node.ssh.installDir;
  const binaryPath = join(dir, 'nokube');
  const configPath = join(dir, 'node.json');
  const configText = `${JSON.stringify({ cluster: config.cluster, etcd: config.etcd, node }, null, 2)}\n`;
  const endpoints = config.etcd.endpoints.map((u) => new URL(u).host).join(',');
  const configSha256 = createHash('sha256').update(configText).digest('hex');
  return {
    node: node as NodeTarget['node'],
    binaryPath,
    configPath,
    configText,
    configSha256,
    service: agentService(node as NodeTarget['node'], configSha256, [
      binaryPath,
      'agent',
      '--config',
      `etcd://${endpoints}/${config.cluster}`,
      '--node',
      node.name,
    ]),
  };
}

/** The agent's service in the node's mode (nodes[].ssh.service); the record of the service last started
 * is kept in the install dir, so a change of mode stops the old service on the host. */
function agentService(node: NodeTarget['node'], configSha256: string, command: string[]): ServiceSpec {
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
        mounts: [...new Set([socket, node.workspace, node.ssh.installDir])],
        labels: { 'nokube.service.node': node.name, 'nokube.service.config-sha256': configSha256 },
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
