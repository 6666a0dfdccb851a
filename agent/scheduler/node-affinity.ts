// Feasibility: required node affinity (requiredDuringSchedulingIgnoredDuringExecution). Terms are OR'ed,
// the expressions of a term AND'ed; a term without expressions matches nothing (as in k8s). Operators
// In, NotIn, Exists, DoesNotExist, and Gt/Lt comparing the node's label as an integer.
import type { NodeSelectorRequirement, PodSpec } from '../objects/types.ts';
import { AFFINITY_REASON } from './node-selector.ts';
import type { Checker, Scorer } from './types.ts';

export function matchesExpression(labels: Record<string, string>, e: NodeSelectorRequirement): boolean {
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
    case 'Gt':
    case 'Lt': {
      // k8s: both sides integers; a label that is not one never matches.
      const [v] = e.values ?? [];
      if (!has || !INTEGER.test(labels[e.key]!) || v === undefined || !INTEGER.test(v)) return false;
      const [a, b] = [BigInt(labels[e.key]!), BigInt(v)];
      return e.operator === 'Gt' ? a > b : a < b;
    }
  }
}

const INTEGER = /^-?\d+$/;

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

const preferredTerms = (spec: Pick<PodSpec, 'affinity'>) =>
  spec.affinity?.nodeAffinity?.preferredDuringSchedulingIgnoredDuringExecution;

/** Ranking (k8s NodeAffinity score): the sum of the weights of the preferred terms the node matches
 * (a term without expressions matches nothing), normalised to the best candidate. */
export const preferredNodeAffinity: Scorer = {
  name: 'node-affinity',
  weight: 2,
  normalize: 'max',
  active: (pod) => (preferredTerms(pod.spec)?.length ?? 0) > 0,
  score: (node, pod) => {
    let sum = 0;
    for (const t of preferredTerms(pod.spec)!) {
      const exprs = t.preference.matchExpressions ?? [];
      if (exprs.length > 0 && exprs.every((e) => matchesExpression(node.labels, e))) sum += t.weight;
    }
    return sum;
  },
};

/** `nodeAffinity zone In [a,b] or gpu Exists`: what the pod asked, for the unschedulable message. */
export function describeNodeAffinity(spec: Pick<PodSpec, 'affinity'>): string | undefined {
  const terms = requiredTerms(spec);
  if (!terms) return undefined;
  const term = (exprs: NodeSelectorRequirement[] = []) =>
    exprs
      .map((e) =>
        e.operator === 'In' || e.operator === 'NotIn'
          ? `${e.key} ${e.operator} [${(e.values ?? []).join(',')}]`
          : e.operator === 'Gt' || e.operator === 'Lt'
            ? `${e.key} ${e.operator} ${e.values?.[0]}`
            : `${e.key} ${e.operator}`,
      )
      .join(' and ');
  return `nodeAffinity ${terms.map((t) => term(t.matchExpressions)).join(' or ')}`;
}
