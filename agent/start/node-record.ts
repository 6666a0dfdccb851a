// Start step 4: this node's record in etcd, kept alive under the agent's lease (the lease also holds the
// alive records of the actors this agent runs). Registered before the parts start (the mesh admits a peer
// by its record); the record advertises the head API only once it listens (`serving`).

import type { AgentStatus } from '../context.ts';
import type { Logger } from '../log/logger.ts';
import type { OutageLog } from '../log/outage-log.ts';
import type { Mesh } from '../mesh/mesh.ts';
import { headApiUrl } from '../net/urls.ts';
import type { NodeFacts } from '../node/facts.ts';
import { allocatableOf } from '../scheduler/resources.ts';
import type { AliveRecords } from '../store/alive.ts';
import { logEtcdFailure, shortReason } from '../store/etcd.ts';
import {
  type NodeRecord,
  NodeRegistration,
  type RegistrationState,
  type StopHow,
} from '../store/node-registry.ts';
import { VERSION } from '../version.ts';
import type { StepBasics } from './basics.ts';
import type { LiveConfig } from './live-config.ts';

/** On a node without the worker role (k8s marks its control-plane nodes so). */
export const CONTROL_PLANE_TAINT = {
  key: 'node-role.kubernetes.io/control-plane',
  effect: 'NoSchedule' as const,
};

/** The labels the kubelet puts on every node, which users' topologyKeys and selectors name. */
export const wellKnownLabels = (node: string): Record<string, string> => ({
  'kubernetes.io/hostname': node,
  'kubernetes.io/os': process.platform,
  'kubernetes.io/arch': process.arch === 'x64' ? 'amd64' : process.arch,
});

export class NodeRecordKeeper {
  private readonly registration: NodeRegistration;
  private readonly live: LiveConfig;
  private readonly facts: NodeFacts;
  private readonly mesh: Mesh;
  private readonly incarnation: number;
  private readonly log: Logger;
  private regState: { state: RegistrationState; reason?: string } = { state: 'registering' };
  /** The parts have started: a head's API listens, so the record may name it. */
  private partsServing = false;

  constructor(
    o: StepBasics & {
      facts: NodeFacts;
      mesh: Mesh;
      incarnation: number;
      alive: AliveRecords;
      etcdOutage: OutageLog;
    },
  ) {
    this.live = o.live;
    this.facts = o.facts;
    this.mesh = o.mesh;
    this.incarnation = o.incarnation;
    this.log = o.log;
    const { log } = o;
    this.registration = new NodeRegistration(o.etcd, o.cluster, this.record(), {
      onLease: (lease) => o.alive.attach(lease),
      onRegistered: () => o.events.emit('registered'),
      onKeepalive: (failure) => (failure ? o.etcdOutage.failed(failure) : o.etcdOutage.ok()),
      onState: (state, reason) => {
        // Entering degraded is worth a line; each retry after it is the outage log's to report.
        const entering = this.regState.state !== state;
        this.regState = reason ? { state, reason } : { state };
        if (state === 'degraded')
          log[entering ? 'warn' : 'debug']({ reason }, 'etcd degraded: node record not kept alive; retrying');
        else if (state === 'registered') log.info('node registered in etcd');
      },
    });
  }

  /** From etcd: register before going on. From the cache (etcd not answering): keep trying meanwhile. */
  async start(from: 'etcd' | 'cache'): Promise<void> {
    if (from === 'etcd') await this.registration.start();
    else this.registration.startInBackground();
  }

  /** The parts have started: the record names the head API from now on (a head's record is written again). */
  serving(): void {
    this.partsServing = true;
    if (headApiUrl(this.live.config(), this.live.self())) this.update();
  }

  get registered(): boolean {
    return this.registration.state === 'registered';
  }

  /** The record again (after a config change). */
  update(): void {
    this.registration
      .update(this.record())
      .catch((err) => logEtcdFailure(this.log, err, {}, 'node record update failed'));
  }

  /** Our record is gone but our lease lives: a head judged us dead (we were paused, or cut off from the
   * mesh). We are not: put it back. */
  reassert(): void {
    this.registration.reassert().then(
      () => this.log.warn('our node record was removed on a verdict that we were dead: put back'),
      (err) => this.log.warn({ err: shortReason(err) }, 'putting our node record back failed'),
    );
  }

  etcdStatus(): AgentStatus['etcd'] {
    const ms = this.registration.keepaliveMs;
    return ms === undefined ? this.regState : { ...this.regState, latencyMs: ms };
  }

  /** `clean`: the record outlives the agent by NODE_STOP_GRACE_SECONDS (node-registry.ts); `withdraw` (a
   * start that failed after registering): the record and its lease go at once; else left to the TTL. */
  stop(how: StopHow): Promise<void> {
    return this.registration.stop(how);
  }

  private record(): NodeRecord {
    const self = this.live.self();
    const rec: NodeRecord = {
      name: self.name,
      address: self.address,
      roles: self.roles,
      labels: { ...wellKnownLabels(self.name), ...self.labels },
      peerId: this.mesh.peerId,
      multiaddrs: this.mesh.multiaddrs,
      capacity: this.facts,
      allocatable: allocatableOf(this.facts, self.reserved, self.maxPods),
      // A node without the worker role runs no workloads but those that tolerate it (k8s' control plane).
      taints: self.roles.includes('worker') ? self.taints : [...self.taints, CONTROL_PLANE_TAINT],
      agentVersion: VERSION,
      prePull: true,
      startedAt: new Date(this.incarnation).toISOString(),
      incarnation: this.incarnation,
    };
    const api = headApiUrl(this.live.config(), self);
    if (api && this.partsServing) rec.api = api;
    return rec;
  }
}
