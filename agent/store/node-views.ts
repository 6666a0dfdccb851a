// What `get nodes` shows: every node of the config, joined with its live etcd record (if any) and,
// where known, the mesh's view of it. A node in the config without a record is NotReady.
import type { ClusterConfig, Role } from '../config/schema.ts';
import type { Member, MemberState } from '../mesh/member-table.ts';
import type { Allocatable } from '../scheduler/resources.ts';
import type { Taint } from '../scheduler/taints.ts';
import { compareText } from '../text/compare.ts';
import type { NodeRecord } from './node-registry.ts';

export interface NodeView {
  name: string;
  status: 'Ready' | 'NotReady';
  roles: Role[];
  address: string;
  labels: Record<string, string>;
  version: string | null;
  startedAt: string | null;
  /** Its agent stopped cleanly at (the record lives on for its grace; node-registry.ts). */
  stoppedAt: string | null;
  mesh: MemberState | null;
  inConfig: boolean;
  capacity: NodeRecord['capacity'] | null;
  /** From the record (null: no record, or an agent before resources). */
  allocatable: Allocatable | null;
  /** From the config (the record's when the node is not in it). */
  taints: Taint[];
  /** Cordoned. */
  unschedulable: boolean;
  peerId: string | null;
}

export function nodeViews(
  config: ClusterConfig,
  records: NodeRecord[],
  members: Member[] = [],
  cordoned: ReadonlySet<string> = new Set(),
): NodeView[] {
  const byName = new Map(records.map((r) => [r.name, r]));
  const memberByName = new Map(members.map((m) => [m.name, m]));
  const views: NodeView[] = config.nodes.map((n) => {
    const rec = byName.get(n.name);
    byName.delete(n.name);
    return {
      name: n.name,
      status: rec ? 'Ready' : 'NotReady',
      roles: n.roles,
      address: n.address,
      labels: n.labels,
      version: rec?.agentVersion ?? null,
      startedAt: rec?.startedAt ?? null,
      stoppedAt: rec?.stoppedAt ?? null,
      mesh: memberByName.get(n.name)?.state ?? null,
      inConfig: true,
      capacity: rec?.capacity ?? null,
      allocatable: rec?.allocatable ?? null,
      taints: n.taints,
      unschedulable: cordoned.has(n.name),
      peerId: rec?.peerId ?? null,
    };
  });
  // Records of nodes no longer in the config: still running agents, shown so nothing hides.
  for (const rec of byName.values()) {
    views.push({
      name: rec.name,
      status: 'Ready',
      roles: rec.roles,
      address: rec.address,
      labels: rec.labels,
      version: rec.agentVersion,
      startedAt: rec.startedAt,
      stoppedAt: rec.stoppedAt ?? null,
      mesh: memberByName.get(rec.name)?.state ?? null,
      inConfig: false,
      capacity: rec.capacity,
      allocatable: rec.allocatable ?? null,
      taints: rec.taints ?? [],
      unschedulable: cordoned.has(rec.name),
      peerId: rec.peerId,
    });
  }
  return views.sort((a, b) => compareText(a.name, b.name));
}
