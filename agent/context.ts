// What an agent's parts are given (js-libp2p's `components`): what the agent made at start, once — the
// config, the etcd client, the mesh, the one Docker client, the event recorder — and the typed handles
// through which parts publish what others read (the pod actors' view for /metrics, the log export's
// totals, the controllers' actor rows). Types only, and the two handle classes: every part imports this
// file, this file imports no part, so nothing imports its way back up to agent.ts.

import type { EventEmitter } from 'node:events';
import type Docker from 'dockerode';
import type { Etcd3 } from 'etcd3';
import type { Registry } from 'prom-client';
import type { ClusterConfig, NodeConfig } from './config/schema.ts';
import type { RegistryAuth } from './images/registry-auth.ts';
import type { Logger } from './log/logger.ts';
import type { LoopLag } from './loop/lag.ts';
import type { MemberEvent } from './mesh/member-table.ts';
import type { Mesh } from './mesh/mesh.ts';
import type { EventRecorder } from './objects/events.ts';
import type { Secret } from './objects/types.ts';
import type { AliveRecords } from './store/alive.ts';
import type { NodeRecord, RegistrationState } from './store/node-registry.ts';
import type { DropReason } from './telemetry/export/shipper.ts';
import type { NodeSample } from './telemetry/sample.ts';
import type { NodeTls } from './tls/node-check.ts';

export interface AgentContext {
  readonly cluster: string;
  readonly nodeName: string;
  readonly etcd: Etcd3;
  readonly mesh: Mesh;
  /** The agent's one Docker client (nodes[].dockerSocket as configured at start, else Docker's default). */
  readonly docker: Docker;
  readonly log: Logger;
  readonly loopLag: LoopLag;
  /** The agent's Prometheus registry: /metrics of the agent (and the head) and what is written to GreptimeDB. */
  readonly metrics: Registry;
  readonly events: AgentEventBus;
  /** Alive records of the actors this agent runs, under the agent's lease. */
  readonly alive: AliveRecords;
  /** Events about objects, as seen from this node (source component nokube-agent, host = node). */
  readonly recorder: EventRecorder;
  /** What parts publish for other parts. */
  readonly handles: AgentHandles;
  /** This node's TLS files, checked at start (the config has `tls`): the head serves its API with them. */
  readonly tls?: NodeTls;
  config(): ClusterConfig;
  configVersion(): number | null;
  self(): NodeConfig;
  status(): AgentStatus;
}

export interface AgentPart {
  name: string;
  start(ctx: AgentContext): Promise<{ stop(): Promise<void> } | null>;
}

export interface AgentEvents {
  member: [MemberEvent];
  node: [{ type: 'put'; node: NodeRecord } | { type: 'delete'; name: string }];
  config: [{ config: ClusterConfig; version: number }];
  /** One sample per monitoring interval (agent/telemetry). */
  telemetry: [NodeSample];
  /** Our node record was (re)written: after a lost lease or a record deleted on a wrong verdict, what we
   * report (pod statuses) is written again, since others may have spoken for us meanwhile (NodeLost). */
  registered: [];
}
export type AgentEventBus = EventEmitter<AgentEvents>;

export interface AgentStatus {
  node: string;
  cluster: string;
  version: string;
  incarnation: number;
  etcd: { state: RegistrationState; reason?: string; latencyMs?: number };
  configVersion: number | null;
  mesh: {
    peerId: string;
    multiaddrs: string[];
    connections: number;
    members: ReturnType<Mesh['table']['counts']>;
  };
}

/** The handles parts publish (the publisher is named on each). */
export interface AgentHandles {
  /** The pods part (agent/pods): what this node's pod actors are doing. */
  readonly podActors: Handle<{
    views(): PodActorView[];
    images(): string[];
    /** A Secret the pods part holds (its informer's, or its cache's with etcd away). */
    secret(namespace: string, name: string): Secret | undefined;
  }>;
  /** The logs part (agent/telemetry/logs): what the log export has done; undefined while it does not run. */
  readonly logsExport: Handle<{ totals(): ExportTotals | undefined }>;
  /** The images part (agent/images/peers): pulls through peers of the site, else the registry. */
  readonly imageFetcher: Handle<{
    pull(
      image: string,
      signal: AbortSignal,
      policy?: 'Always' | 'IfNotPresent' | 'Never',
      auths?: readonly RegistryAuth[],
    ): Promise<unknown>;
  }>;
  /** Rows of `nokube_actor` from elsewhere than this node's pods (the kubecontroller leader's objects). */
  readonly actorRows: HandleSet<() => ActorRow[]>;
}

export function agentHandles(): AgentHandles {
  return {
    podActors: new Handle(),
    logsExport: new Handle(),
    imageFetcher: new Handle(),
    actorRows: new HandleSet(),
  };
}

/** One value a part publishes for others; absent while that part does not run. */
export class Handle<T> {
  private value: T | undefined;

  /** Returns the withdrawal, which withdraws this value only (not one published after it). */
  publish(value: T): () => void {
    this.value = value;
    return () => {
      if (this.value === value) this.value = undefined;
    };
  }

  get(): T | undefined {
    return this.value;
  }
}

/** Values several parts publish side by side. */
export class HandleSet<T> {
  private readonly values = new Set<T>();

  /** Returns the withdrawal. */
  add(value: T): () => void {
    this.values.add(value);
    return () => this.values.delete(value);
  }

  all(): Iterable<T> {
    return this.values;
  }
}

/** What one pod actor of this node is doing, for metrics and the console (agent/telemetry). */
export interface PodActorView {
  namespace: string;
  name: string;
  owner?: { kind: string; name: string };
  /** Ownership path, e.g. `deployment-web/pod-web-abc12`. */
  path: string;
  phase: string;
  containers: Array<{
    name: string;
    state: 'running' | 'waiting' | 'terminated';
    reason?: string;
    restarts: number;
  }>;
}

/** A row of the `nokube_actor` metric (labels and value) from a source other than this node's pods. */
export interface ActorRow {
  kind: string;
  namespace: string;
  name: string;
  owner_kind: string;
  owner_name: string;
  owner_path: string;
  phase: string;
  restarts: number;
}

/** An export pipeline's figures as /metrics counts them (nokube_export_*). */
export interface ExportTotals {
  queuedBytes: number;
  sentItems: number;
  dropped: Record<DropReason, number>;
}
