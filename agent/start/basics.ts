// What every start step is given: the cluster, this node, the etcd client, the live config, the event
// bus and the log (each step takes what it needs besides).
import type { Etcd3 } from 'etcd3';
import type { AgentEventBus } from '../context.ts';
import type { Logger } from '../log/logger.ts';
import type { LiveConfig } from './live-config.ts';

export interface StepBasics {
  cluster: string;
  nodeName: string;
  etcd: Etcd3;
  live: LiveConfig;
  events: AgentEventBus;
  log: Logger;
}
