// The scheduler's vocabulary: a node to place on, the pod being placed, and the load already there.
// Pure data: the scheduler reads no etcd and keeps no state, so every rule is a table test.
import type { PodSpec } from '../objects/types.ts';
import type { NodeRecord } from '../store/node-registry.ts';
import type { HostPortSet, PortsSpec } from './host-ports.ts';

/** The node facts placement looks at (a NodeRecord has them all). */
export type SchedNode = Pick<NodeRecord, 'name' | 'labels'> & {
  capacity?: { containerRuntime?: NodeRecord['capacity']['containerRuntime'] };
};

/** What is being placed: the pod's spec, the uid of its controller (for spread), the nodes it avoids. */
export interface PodToPlace {
  spec: Pick<PodSpec, 'nodeSelector' | 'affinity'> & PortsSpec;
  ownerUid?: string;
  /** Nodes penalised for the pod's controller (reschedule policy): ranked after all others. */
  avoid?: ReadonlySet<string>;
}

/** A feasibility rule: null when the node can run the pod, else why not (k8s wording, grouped in the
 * unschedulable message: "3 node(s) <reason>"). */
export type Checker = (node: SchedNode, pod: PodToPlace, load: Load) => string | null;

/** Pods already bound, per node: all of them, per controller uid, and the host ports they hold. */
export interface Load {
  total: Map<string, number>;
  byOwner: Map<string, Map<string, number>>;
  ports: Map<string, HostPortSet>;
  /** The cluster has a pod network: only hostNetwork pods take their containerPorts on the node. */
  podNetwork?: boolean;
}

/** A ranking rule: lower is better; ties go to the next rule. */
export type Ranker = (node: SchedNode, pod: PodToPlace, load: Load) => number | string;
