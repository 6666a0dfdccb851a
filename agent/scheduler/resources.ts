// Resources as the scheduler counts them: CPU in millicores, memory in bytes (k8s quantities parsed
// once). A pod requests the sum of its containers' requests; a container's limit stands in for a
// missing request (k8s defaults the request to the limit). For ranking only, a container that requests
// nothing counts as 100m CPU and 200 MiB (k8s' non-zero defaults), so pods without requests still spread
// or pack instead of all landing on one node; feasibility uses the real requests.
import { parseCpu, parseMemory } from '../objects/quantity.ts';
import type { Container, ResourceList } from '../objects/types.ts';

export interface Resources {
  cpuMilli: number;
  memoryBytes: number;
}

/** What a node offers pods (k8s node.status.allocatable): capacity less what is reserved. */
export interface Allocatable extends Resources {
  pods: number;
}

export const NONZERO_CPU_MILLI = 100;
export const NONZERO_MEMORY_BYTES = 200 * 2 ** 20;

export const ZERO: Resources = Object.freeze({ cpuMilli: 0, memoryBytes: 0 });

const cpuMilli = (q: string | undefined) => (q === undefined ? undefined : Math.ceil(parseCpu(q) * 1000));
const memory = (q: string | undefined) => (q === undefined ? undefined : parseMemory(q));

type Which = keyof ResourceList;
/** A container's request for one resource: the request, else the limit, else undefined. */
function requestOf(c: Pick<Container, 'resources'>, r: Which): number | undefined {
  const parse = r === 'cpu' ? cpuMilli : memory;
  return parse(c.resources?.requests?.[r]) ?? parse(c.resources?.limits?.[r]);
}

export interface PodResources {
  /** For feasibility: the pod's requests. */
  requests: Resources;
  /** For ranking: the requests with k8s' non-zero defaults. */
  nonzero: Resources;
  /** The pod's limits (absent limit: counted as 0, as `describe node` does). */
  limits: Resources;
}

const memo = new WeakMap<object, PodResources>();

type WithResources = ReadonlyArray<Pick<Container, 'resources'>>;

/** The sums of these containers' requests (0 and the scheduler's non-zero defaults where absent) and limits. */
function summed(containers: WithResources): PodResources {
  const out: PodResources = { requests: { ...ZERO }, nonzero: { ...ZERO }, limits: { ...ZERO } };
  for (const c of containers) {
    const cpu = requestOf(c, 'cpu');
    const mem = requestOf(c, 'memory');
    out.requests.cpuMilli += cpu ?? 0;
    out.requests.memoryBytes += mem ?? 0;
    out.nonzero.cpuMilli += cpu ?? NONZERO_CPU_MILLI;
    out.nonzero.memoryBytes += mem ?? NONZERO_MEMORY_BYTES;
    out.limits.cpuMilli += cpuMilli(c.resources?.limits?.cpu) ?? 0;
    out.limits.memoryBytes += memory(c.resources?.limits?.memory) ?? 0;
  }
  return out;
}

const larger = (a: Resources, b: Resources): Resources => ({
  cpuMilli: Math.max(a.cpuMilli, b.cpuMilli),
  memoryBytes: Math.max(a.memoryBytes, b.memoryBytes),
});

/** The pod's requests and limits (memoised per spec object: placing N replicas parses once): as k8s
 * counts them, the containers' sum or the largest init container's, whichever is larger per resource
 * (init containers run one at a time, before the containers). */
export function podResources(spec: {
  containers?: WithResources;
  initContainers?: WithResources;
}): PodResources {
  const known = memo.get(spec);
  if (known) return known;
  const out = summed(spec.containers ?? []);
  for (const c of spec.initContainers ?? []) {
    const one = summed([c]);
    out.requests = larger(out.requests, one.requests);
    out.nonzero = larger(out.nonzero, one.nonzero);
    out.limits = larger(out.limits, one.limits);
  }
  memo.set(spec, out);
  return out;
}

/** k8s' default for a node's pods (kubelet maxPods). */
export const DEFAULT_MAX_PODS = 110;

/** Allocatable from a node's capacity (cores, bytes) less what its config reserves (quantities). */
export function allocatableOf(
  capacity: { cpus: number; memoryBytes: number },
  reserved: { cpu?: string; memory?: string } | undefined,
  maxPods: number,
): Allocatable {
  return {
    cpuMilli: Math.max(0, capacity.cpus * 1000 - (cpuMilli(reserved?.cpu) ?? 0)),
    memoryBytes: Math.max(0, capacity.memoryBytes - (memory(reserved?.memory) ?? 0)),
    pods: maxPods,
  };
}

/** a + times × b */
export const addResources = (a: Resources, b: Resources, times = 1): Resources => ({
  cpuMilli: a.cpuMilli + times * b.cpuMilli,
  memoryBytes: a.memoryBytes + times * b.memoryBytes,
});

/** `1500m`, `2`; `512Mi`, `1.5Gi`: as kubectl prints them. */
export const formatCpu = (milli: number): string => (milli % 1000 === 0 ? `${milli / 1000}` : `${milli}m`);
export function formatMemory(bytes: number): string {
  for (const [unit, size] of [
    ['Gi', 2 ** 30],
    ['Mi', 2 ** 20],
    ['Ki', 2 ** 10],
  ] as const)
    if (bytes >= size && bytes % size === 0) return `${bytes / size}${unit}`;
  if (bytes >= 2 ** 20) return `${Math.round(bytes / 2 ** 20)}Mi`;
  return `${bytes}`;
}
