// The scheduler's vocabulary: a node to place on, the pod being placed, and the load already there.
// Pure data: the scheduler reads no etcd and keeps no state, so every rule is a table test.
import type { PodAffinityTerm, PodSpec } from '../objects/types.ts';
import type { NodeRecord } from '../store/node-registry.ts';
import type { HostPortSet, PortsSpec } from './host-ports.ts';
import type { SelectorCount } from './pod-counts.ts';
import type { PodRules } from './pod-rules.ts';
import type { Allocatable, Resources } from './resources.ts';
import type { Taint } from './taints.ts';

/** The node facts placement looks at (a NodeRecord has them all, `unschedulable` aside: a cordon). */
export type SchedNode = Pick<NodeRecord, 'name' | 'labels'> & {
  capacity?: { containerRuntime?: NodeRecord['capacity']['containerRuntime'] };
  /** Absent (a record from an agent before resources): no resource is checked or ranked on it. */
  allocatable?: Allocatable;
  taints?: readonly Taint[];
  /** Cordoned (`nokube cordon`): no new pod unless it tolerates node.kubernetes.io/unschedulable. */
  unschedulable?: boolean;
};

/** How nodes are ranked by their free resources (config `scheduler.algorithm`, per namespace too):
 * `spread` puts a pod where most is free (k8s LeastAllocated) and keeps a controller's replicas apart;
 * `binpack` where least is left after it (MostAllocated, Nomad's default), keeping big holes for big
 * pods and whole nodes idle. */
export type Algorithm = 'spread' | 'binpack';

/** What is being placed: the pod's spec, the uid of its controller (for spread), the nodes it avoids. */
export interface PodToPlace {
  spec: Pick<
    PodSpec,
    'nodeSelector' | 'affinity' | 'tolerations' | 'topologySpreadConstraints' | 'priorityClassName'
  > &
    PortsSpec &
    Partial<Pick<PodSpec, 'containers'>>;
  ownerUid?: string;
  /** Nodes penalised for the pod's controller (reschedule policy): ranked after all others. */
  avoid?: ReadonlySet<string>;
  /** Default `spread`. */
  algorithm?: Algorithm;
  /** For the rules about other pods (pod affinity, topology spread): default namespace `default`. */
  namespace?: string;
  labels?: Record<string, string>;
  /** Its priority (PriorityClass; default 0) and uid: the room nominated for others of no lower priority
   * is not its to take. */
  priority?: number;
  uid?: string;
}

/** A pod in the load, as pod affinity and topology spread see it. */
export interface PlacedPod {
  node: string;
  namespace: string;
  labels: Record<string, string>;
  /** Its required anti-affinity terms (other pods that match them keep out of its domain). */
  antiAffinity?: readonly PodAffinityTerm[];
}

/** A feasibility rule: null when the node can run the pod, else why not, in k8s' words as they appear in
 * the unschedulable message ("3 Insufficient cpu", "2 node(s) had untolerated taint {pool: batch}"). */
export type Checker = (node: SchedNode, pod: PodToPlace, load: Load, rules?: PodRules) => string | null;

/** A ranking rule: a raw score per node, higher is better, made 0–100 across the candidates by
 * `normalize` (`max`: score × 100 / the highest; `reverse`: 100 less that; `minmax`: from the lowest (0)
 * to the highest (100), for scores that may be negative; `none`: already 0–100), then
 * weighted and summed (Nomad's and k8s' ranking). `active` false: nothing in the pod for it to rank (its
 * cost is skipped). */
export interface Scorer {
  name: string;
  weight: number;
  normalize: 'none' | 'max' | 'reverse' | 'minmax';
  active?: (pod: PodToPlace, rules?: PodRules) => boolean;
  score: (node: SchedNode, pod: PodToPlace, load: Load, rules?: PodRules) => number;
}

/** Pods already bound, per node: how many, per controller uid, the host ports they hold, the resources
 * they request (real and with the non-zero defaults). */
export interface Load {
  total: Map<string, number>;
  byOwner: Map<string, Map<string, number>>;
  ports: Map<string, HostPortSet>;
  requested: Map<string, Resources>;
  nonzero: Map<string, Resources>;
  /** The pods on each node (pod affinity, topology spread), those with required anti-affinity apart. */
  pods: Map<string, PlacedPod[]>;
  antiAffinity: PlacedPod[];
  /** Matching pods per node by (namespaces, selector), kept as pods are added (pod-counts.ts). */
  counts: Map<string, SelectorCount>;
  /** Room a preemption freed for a pending pod (its nominated node): held against pods of lower priority. */
  nominated: Map<string, Array<{ uid: string; priority: number; requests: Resources }>>;
  /** The cluster has a pod network: only hostNetwork pods take their containerPorts on the node. */
  podNetwork?: boolean;
  /** Where the next `spread` placement starts looking (rotates, so a bounded sample visits every node in
   * turn; kept across reconciles by the caller that owns it). */
  rotation: { next: number };
}
