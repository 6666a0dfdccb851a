// What a deploy puts on one node, derived from the validated config: paths, the node's own config slice
// (the file whose checksum decides a restart: cluster, etcd, and this node's entry, so a change to another
// node restarts nothing here) and the service that runs the agent.
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import type { ClusterConfig, NodeConfig } from '../config/schema.ts';
import type { ServiceSpec } from './op-schema.ts';

/** How long a stop waits after SIGTERM (the agent leaves the mesh first). README "Deploy over SSH". */
export const AGENT_STOP_TIMEOUT_MS = 15_000;

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
  return {
    node: node as NodeTarget['node'],
    binaryPath,
    configPath,
    configText,
    configSha256: createHash('sha256').update(configText).digest('hex'),
    service: {
      mode: 'process',
      name: 'nokube-agent',
      command: [
        binaryPath,
        'agent',
        '--config',
        `etcd://${endpoints}/${config.cluster}`,
        '--node',
        node.name,
      ],
      pidFile: join(node.workspace, 'nokube-agent.pid'),
      logFile: join(node.workspace, 'nokube-agent.log'),
      stopTimeoutMs: AGENT_STOP_TIMEOUT_MS,
    },
  };
}
