// Feasibility: required node affinity (requiredDuringSchedulingIgnoredDuringExecution). Terms are OR'ed,
// the expressions of a term AND'ed; a term without expressions matches nothing (as in k8s).
import type { LabelSelectorRequirement, PodSpec } from '../objects/types.ts';
import { AFFINITY_REASON } from './node-selector.ts';
import type { Checker } from './types.ts';

export function matchesExpression(labels: Record<string, string>, e: LabelSelectorRequirement): boolean {
  const has = Object.hasOwn(labels, e.key);
  switch (e.operator) {
    case 'In':
      return has && (e.values ?? []).includes(labels[e.key]!);
    case 'NotIn':
      return !has || !(e.values ?? []).includes(labels[e.key]!);
    case 'Exists':
      return has;
    case 'DoesNotExist':
      return !has;
  }
}

const requiredTerms = (spec: Pick<PodSpec, 'affinity'>) =>
  spec.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution?.nodeSelectorTerms;

export const matchesNodeAffinity: Checker = (node, pod) => {
  const terms = requiredTerms(pod.spec);
  if (!terms) return null;
  const ok = terms.some(
    (t) =>
      (t.matchExpressions?.length ?? 0) > 0 &&
      t.matchExpressions!.every((e) => matchesExpression(node.labels, e)),
  );
  return ok ? null : AFFINITY_REASON;
};

/** `nodeAffinity zone In [a,b] or gpu Exists`: what the pod asked, for the unschedulable message. */
export function describeNodeAffinity(spec: Pick<PodSpec, 'affinity'>): string | undefined {
  const terms = requiredTerms(spec);
  if (!terms) return undefined;
  const term = (exprs: LabelSelectorRequirement[] = []) =>
    exprs
      .map((e) =>
        e.operator === 'In' || e.operator === 'NotIn'
          ? `${e.key} ${e.operator} [${(e.values ?? []).join(',')}]`
          : `${e.key} ${e.operator}`,
      )
      .join(' and ');
  return `nodeAffinity ${terms.map((t) => term(t.matchExpressions)).join(' or ')}`;
}
