// The little of an AgentContext the kubecontroller's Leader uses, for tests that run the leader in their
// own process against a real etcd (no agent, no mesh: an empty member table).
import { EventEmitter } from 'node:events';
import type { Etcd3 } from 'etcd3';
import { Registry } from 'prom-client';
import type { ClusterConfig } from '../../agent/config/schema.ts';
import { type AgentContext, agentHandles } from '../../agent/context.ts';
import { createLogger } from '../../agent/log/logger.ts';
import { EventRecorder } from '../../agent/objects/events.ts';
import { AliveRecords } from '../../agent/store/alive.ts';

export function leaderContext(client: Etcd3, cluster: string, node = 'h1'): AgentContext {
  const log = createLogger({ node }, 'silent');
  return {
    cluster,
    nodeName: node,
    etcd: client,
    log,
    events: new EventEmitter(),
    alive: new AliveRecords(client, cluster, node, log),
    recorder: new EventRecorder(client, cluster, { component: 'test' }, log),
    mesh: { table: { list: () => [] } },
    handles: agentHandles(),
    // The leader's own gauges (prewarm tasks) register here.
    metrics: new Registry(),
    // No pod network, no nodes listed (these tests make no pod subnets for the leader to free).
    config: () => ({ cluster, nodes: [], network: { mode: 'host' } }) as unknown as ClusterConfig,
  } as unknown as AgentContext;
}
