// Fields Kubernetes refuses to change once an object exists (apps/v1 and batch/v1 validation): an apply
// that changes one is refused, naming the field; and the data of a ConfigMap or Secret marked `immutable`.
// Pod spec is in apply.ts.
import { canonical } from './canonical.ts';
import type { Kind, KubeObject } from './types.ts';

interface Rule {
  path: string[];
  /** The value Kubernetes defaults an absent field to (absent and default are the same). */
  absent?: unknown;
}

const RULES: Partial<Record<Kind, Rule[]>> = {
  Deployment: [{ path: ['spec', 'selector'] }],
  DaemonSet: [{ path: ['spec', 'selector'] }],
  Job: [
    { path: ['spec', 'selector'] },
    { path: ['spec', 'template'] },
    { path: ['spec', 'completions'], absent: 1 },
  ],
  Secret: [{ path: ['type'], absent: 'Opaque' }],
  // A task's nodes and batches are fixed when it starts: only `cancel` may change (README "Image prewarm").
  ImagePrewarm: [
    'images',
    'nodeSelector',
    'affinity',
    'batchSize',
    'maxFailureRatio',
    'retries',
    'pullTimeoutSeconds',
    'priority',
  ].map((f) => ({ path: ['spec', f] })),
  // k8s: a class's value and preemption policy stay (pods took their priority from them).
  PriorityClass: [{ path: ['value'] }, { path: ['preemptionPolicy'], absent: 'PreemptLowerPriority' }],
};

/** What `immutable: true` freezes (k8s ValidateConfigMapUpdate / ValidateSecretUpdate); a Secret's
 * stringData is folded into data before this. */
const SEALED = ['immutable', 'data', 'binaryData'] as const;

/** One message per immutable field that differs between the stored and the desired object. */
export function immutableFieldChanges(old: KubeObject, desired: KubeObject): string[] {
  const out = (RULES[desired.kind] ?? [])
    .filter((r) => canonical(at(old, r)) !== canonical(at(desired, r)))
    .map((r) => `${r.path.join('.')}: field is immutable; delete and re-create the ${desired.kind}`);
  if ((old.kind === 'ConfigMap' || old.kind === 'Secret') && old.immutable === true) {
    const [o, d] = [old as unknown as Record<string, unknown>, desired as unknown as Record<string, unknown>];
    for (const f of SEALED)
      if (canonical(o[f] ?? null) !== canonical(d[f] ?? null))
        out.push(`${f}: Forbidden: field is immutable when \`immutable\` is set`);
  }
  return out;
}

function at(obj: KubeObject, rule: Rule): unknown {
  let v: unknown = obj;
  for (const key of rule.path) v = (v as Record<string, unknown> | undefined)?.[key];
  return v ?? rule.absent;
}
