// PriorityClasses (scheduling.k8s.io/v1): a pod's priority is the value of the class it names
// (`priorityClassName`), else the value of the one class marked `globalDefault`, else 0. Two classes are
// built in, as in k8s (system-cluster-critical, system-node-critical). At apply: a pod or pod template
// naming a class that does not exist (stored, built in, or in the same apply) is refused, and so is a
// second globalDefault class (k8s' admission rules).
import type { Etcd3 } from 'etcd3';
import { keys } from '../store/keys.ts';
import type { Stored } from './store.ts';
import type { KubeObject, PodSpec, PriorityClass } from './types.ts';

export const SYSTEM_PRIORITY_CLASSES: Readonly<Record<string, number>> = {
  'system-cluster-critical': 2_000_000_000,
  'system-node-critical': 2_000_001_000,
};

/** The pod spec an object runs (a Pod's own, a controller's template). */
export function podSpecOf(o: KubeObject): PodSpec | undefined {
  if (o.kind === 'Pod') return o.spec;
  if (o.kind === 'Deployment' || o.kind === 'DaemonSet' || o.kind === 'Job') return o.spec.template.spec;
  if (o.kind === 'CronJob') return o.spec.jobTemplate.spec.template.spec;
  return undefined;
}

/** The priority of a pod with this spec among these classes. */
export function priorityOf(
  spec: Pick<PodSpec, 'priorityClassName'>,
  classes: readonly PriorityClass[],
): number {
  const name = spec.priorityClassName;
  if (name !== undefined) {
    const system = SYSTEM_PRIORITY_CLASSES[name];
    if (system !== undefined) return system;
    const c = classes.find((x) => x.metadata.name === name);
    if (c) return c.value;
  }
  return classes.find((c) => c.globalDefault)?.value ?? 0;
}

/** May a pod with this spec preempt others (its class's preemptionPolicy, default PreemptLowerPriority). */
export function preempts(
  spec: Pick<PodSpec, 'priorityClassName'>,
  classes: readonly PriorityClass[],
): boolean {
  const name = spec.priorityClassName;
  const c =
    name === undefined ? classes.find((x) => x.globalDefault) : classes.find((x) => x.metadata.name === name);
  return c?.preemptionPolicy !== 'Never';
}

/** The problems of an apply with these objects: missing classes, a second global default. `read` reads
 * one object (its revision becomes part of the apply's transaction). */
export async function priorityClassProblems(
  etcd: Etcd3,
  cluster: string,
  objects: readonly KubeObject[],
  read: (ref: { kind: 'PriorityClass'; name: string }) => Promise<Stored | null>,
): Promise<string[]> {
  const problems: string[] = [];
  const applied = new Map(
    objects.filter((o): o is PriorityClass => o.kind === 'PriorityClass').map((c) => [c.metadata.name, c]),
  );
  const named = new Set(
    objects.flatMap((o) => {
      const n = podSpecOf(o)?.priorityClassName;
      return n !== undefined && !(n in SYSTEM_PRIORITY_CLASSES) && !applied.has(n) ? [n] : [];
    }),
  );
  for (const name of named)
    if (!(await read({ kind: 'PriorityClass', name })))
      problems.push(`Error from server (Forbidden): no PriorityClass with name ${name} was found`);
  const defaults = [...applied.values()].filter((c) => c.globalDefault);
  if (defaults.length > 1)
    problems.push(
      `Error from server (Invalid): only one PriorityClass can be marked globalDefault (${defaults.map((c) => c.metadata.name).join(', ')})`,
    );
  else if (defaults.length === 1) {
    const prefix = keys.objectResourcePrefix(cluster, 'priorityclasses');
    const stored = await etcd.getAll().prefix(prefix).strings();
    for (const text of Object.values(stored)) {
      const c = JSON.parse(text) as PriorityClass;
      if (c.globalDefault && c.metadata.name !== defaults[0]!.metadata.name)
        problems.push(
          `Error from server (Invalid): PriorityClass.scheduling.k8s.io "${defaults[0]!.metadata.name}": globalDefault: ${c.metadata.name} is already marked as the default priority class`,
        );
    }
  }
  return problems;
}
