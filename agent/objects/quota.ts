// ResourceQuotas, checked at apply (k8s checks each pod as it is made; nokube refuses the object that
// would declare too much, so a Deployment scaled past its namespace's quota is refused by `apply` or
// `scale`, not left with pods that fail later). What a namespace uses is what its objects declare:
// a bare Pod one pod, a Deployment `replicas` pods, a Job `parallelism` (at most `completions`), a
// DaemonSet one per node its template may run on (nodeSelector, affinity, taints: as the DaemonSet
// controller picks them), each with its template's requests and limits (LimitRange defaults included);
// `count/<resource>` the objects of that resource. An apply is refused when it raises a use above a
// quota's hard limit (a use already above it, after the quota was lowered, only blocks raising it
// further); pods without a request or limit a quota tracks are refused too (k8s: "must specify").
import { formatCpu, formatMemory, podResources } from '../scheduler/resources.ts';
import { feasibleNodes } from '../scheduler/stack.ts';
import type { SchedNode } from '../scheduler/types.ts';
import { withLimitRangeDefaults } from './limit-range.ts';
import { isTerminalPhase } from './pod-phase.ts';
import { parseCpu, parseMemory } from './quantity.ts';
import type { Kind, KubeObject, LimitRange, PodSpec, ResourceQuota } from './types.ts';
import { API_VERSION, KINDS, namespaced, RESOURCE } from './types.ts';

export type Usage = Map<string, number>;

/** `count/deployments.apps`, `count/pods`: k8s' object-count names. */
export const countKey = (kind: Kind) => {
  const v = API_VERSION[kind];
  return `count/${RESOURCE[kind]}${v.includes('/') ? `.${v.split('/')[0]}` : ''}`;
};

/** The kinds whose objects a namespace's quotas count: those that declare pods, and those a quota's
 * `count/<resource>` names. */
export function countedKinds(hardKeys: readonly string[]): Kind[] {
  return KINDS.filter((k) => namespaced(k) && (POD_KINDS.includes(k) || hardKeys.includes(countKey(k))));
}
const POD_KINDS: readonly Kind[] = ['Pod', 'Deployment', 'Job', 'DaemonSet', 'CronJob'];

/** The pods an object declares (how many, and their spec), or undefined. `nodes`: the registered nodes
 * (a DaemonSet's pods are those it would make on them). */
export function declaredPods(
  o: KubeObject,
  nodes: readonly SchedNode[],
): { count: number; spec: PodSpec } | undefined {
  switch (o.kind) {
    case 'Pod':
      if (o.metadata.ownerReferences?.some((r) => r.controller)) return undefined; // its controller counts
      if (isTerminalPhase(o.status?.phase)) return undefined;
      return { count: 1, spec: o.spec };
    case 'Deployment':
      return { count: o.spec.replicas ?? 1, spec: o.spec.template.spec };
    case 'Job':
      if (o.metadata.ownerReferences?.some((r) => r.controller)) return undefined; // its CronJob counts
      return {
        count: Math.min(o.spec.parallelism ?? 1, o.spec.completions ?? 1),
        spec: o.spec.template.spec,
      };
    case 'CronJob': {
      // One run's pods (with concurrencyPolicy Allow runs may overlap; each is counted when made only
      // through its CronJob, as here).
      const job = o.spec.jobTemplate.spec;
      return { count: Math.min(job.parallelism ?? 1, job.completions ?? 1), spec: job.template.spec };
    }
    case 'DaemonSet':
      return {
        count: feasibleNodes({ spec: o.spec.template.spec }, nodes).length,
        spec: o.spec.template.spec,
      };
    default:
      return undefined;
  }
}

/** What these objects (one namespace's) use, in the keys a quota names. CPU in millicores, memory in
 * bytes. */
export function usageOf(
  objects: readonly KubeObject[],
  nodes: readonly SchedNode[],
  ranges: readonly LimitRange[],
): Usage {
  const u: Usage = new Map();
  const add = (k: string, n: number) => u.set(k, (u.get(k) ?? 0) + n);
  for (const o of objects) {
    add(countKey(o.kind), 1);
    const pods = declaredPods(o, nodes);
    if (!pods) continue;
    const r = podResources(withLimitRangeDefaults(pods.spec, ranges));
    add('pods', pods.count);
    add('requests.cpu', pods.count * r.requests.cpuMilli);
    add('requests.memory', pods.count * r.requests.memoryBytes);
    add('limits.cpu', pods.count * r.limits.cpuMilli);
    add('limits.memory', pods.count * r.limits.memoryBytes);
  }
  return u;
}

/** `cpu` and `memory` are the requests (k8s). */
const usageKey = (hardKey: string) =>
  hardKey === 'cpu' ? 'requests.cpu' : hardKey === 'memory' ? 'requests.memory' : hardKey;

export function hardAmount(key: string, q: string): number {
  const k = usageKey(key);
  if (k.endsWith('.cpu')) return Math.round(parseCpu(q) * 1000);
  if (k.endsWith('.memory')) return parseMemory(q);
  return parseCpu(q);
}

export function shownAmount(key: string, n: number): string {
  const k = usageKey(key);
  return k.endsWith('.cpu') ? formatCpu(n) : k.endsWith('.memory') ? formatMemory(n) : String(n);
}

export const usedOf = (u: Usage, key: string) => u.get(usageKey(key)) ?? 0;

/** k8s' refusals: a use this apply raises above a hard limit; pods missing what a quota tracks. */
export function quotaProblems(
  quotas: readonly ResourceQuota[],
  before: Usage,
  after: Usage,
  appliedPodSpecs: readonly PodSpec[],
  ranges: readonly LimitRange[],
): string[] {
  const out: string[] = [];
  for (const q of quotas) {
    const over = Object.entries(q.spec.hard).filter(([k, v]) => {
      const a = usedOf(after, k);
      return a > hardAmount(k, v) && a > usedOf(before, k);
    });
    if (over.length > 0) {
      const list = (f: (k: string, v: string) => string) => over.map(([k, v]) => `${k}=${f(k, v)}`).join(',');
      out.push(
        `Error from server (Forbidden): exceeded quota: ${q.metadata.name}, requested: ${list((k) => shownAmount(k, usedOf(after, k) - usedOf(before, k)))}, used: ${list((k) => shownAmount(k, usedOf(before, k)))}, limited: ${list((_k, v) => v)}`,
      );
    }
    const tracked = Object.keys(q.spec.hard)
      .map(usageKey)
      .filter((k) => k.includes('.'));
    for (const spec of appliedPodSpecs) {
      const withDefaults = withLimitRangeDefaults(spec, ranges);
      const missing = tracked.filter((k) => {
        const [kind, r] = k.split('.') as ['requests' | 'limits', 'cpu' | 'memory'];
        return [...withDefaults.containers, ...(withDefaults.initContainers ?? [])].some((c) =>
          kind === 'limits'
            ? c.resources?.limits?.[r] === undefined
            : (c.resources?.requests?.[r] ?? c.resources?.limits?.[r]) === undefined,
        );
      });
      if (missing.length > 0)
        out.push(
          `Error from server (Forbidden): failed quota: ${q.metadata.name}: must specify ${missing.join(',')} for: ${withDefaults.containers.map((c) => c.name).join(',')}`,
        );
    }
  }
  return [...new Set(out)];
}
