// At apply, a namespace's ResourceQuotas and LimitRanges (k8s' admission, done before anything is
// written): LimitRange defaults are filled into applied Pods, pods and templates outside a range are
// refused, and so is an apply that raises a use above a quota (quota.ts). Reads only the namespaces
// the apply touches, and their workloads only when a quota is there.
import type { Etcd3 } from 'etcd3';
import { listNodes } from '../store/node-registry.ts';
import { limitRangeProblems, withLimitRangeDefaults } from './limit-range.ts';
import { podSpecOf } from './priority-classes.ts';
import { countedKinds, declaredPods, quotaProblems, usageOf } from './quota.ts';
import { listObjects } from './store.ts';
import { type KubeObject, type LimitRange, namespaced, type ResourceQuota } from './types.ts';

export interface NamespacePolicy {
  problems: string[];
  /** The object as stored: a Pod with its namespace's LimitRange defaults. */
  admit<T extends KubeObject>(o: T): T;
}

const idOf = (o: KubeObject) => `${o.kind}/${o.metadata.name}`;

export async function namespacePolicy(
  etcd: Etcd3,
  cluster: string,
  objects: readonly KubeObject[],
  where: (o: KubeObject) => string,
): Promise<NamespacePolicy> {
  const problems: string[] = [];
  const byNs = new Map<string, KubeObject[]>();
  for (const o of objects)
    if (namespaced(o.kind)) byNs.set(o.metadata.namespace!, [...(byNs.get(o.metadata.namespace!) ?? []), o]);
  const rangesOf = new Map<string, LimitRange[]>();
  for (const [ns, applied] of byNs) {
    const appliedOf = <K extends 'ResourceQuota' | 'LimitRange'>(kind: K) =>
      applied.filter((o) => o.kind === kind) as Array<Extract<KubeObject, { kind: K }>>;
    const merge = <T extends KubeObject>(stored: T[], mine: T[]) => [
      ...stored.filter((s) => !mine.some((m) => m.metadata.name === s.metadata.name)),
      ...mine,
    ];
    const [storedQuotas, storedRanges] = await Promise.all([
      listObjects(etcd, cluster, 'ResourceQuota', ns, false),
      listObjects(etcd, cluster, 'LimitRange', ns, false),
    ]);
    const ranges = merge(
      storedRanges.map((s) => s.object),
      appliedOf('LimitRange'),
    );
    const quotas = merge(
      storedQuotas.map((s) => s.object),
      appliedOf('ResourceQuota'),
    ) as ResourceQuota[];
    rangesOf.set(ns, ranges);
    for (const o of applied) {
      const spec = podSpecOf(o);
      if (!spec) continue;
      for (const p of limitRangeProblems(withLimitRangeDefaults(spec, ranges), ranges))
        problems.push(`${where(o)}: Error from server (Forbidden): ${p}`);
    }
    if (quotas.length === 0) continue;
    // Every object of the namespace a quota may count: the workloads, and the resources named by count/.
    const counted = countedKinds(quotas.flatMap((q) => Object.keys(q.spec.hard)));
    const stored = (await Promise.all(counted.map((k) => listObjects(etcd, cluster, k, ns, false))))
      .flat()
      .map((s) => s.object as KubeObject);
    const nodes = await listNodes(etcd, cluster);
    const mine = new Set(applied.map(idOf));
    const after = [
      ...stored.filter((s) => !mine.has(idOf(s))),
      ...applied.filter((o) => counted.includes(o.kind)),
    ];
    const specs = applied.flatMap((o) => (declaredPods(o, []) ? [podSpecOf(o)!] : []));
    problems.push(
      ...quotaProblems(quotas, usageOf(stored, nodes, ranges), usageOf(after, nodes, ranges), specs, ranges),
    );
  }
  return {
    problems,
    admit: (o) => {
      if (o.kind !== 'Pod') return o;
      const ranges = rangesOf.get(o.metadata.namespace!) ?? [];
      const spec = withLimitRangeDefaults(o.spec, ranges);
      return spec === o.spec ? o : { ...o, spec };
    },
  };
}
