// The rules that look at other pods (k8s InterPodAffinity and PodTopologySpread), worked out once per
// placement over the nodes offered, before any node is checked: for each term, how many matching pods
// each topology domain (a value of the term's node label) holds. Cost: O(nodes) per term per placement
// plus, the first time a (namespaces, selector) pair is asked in a load, one pass over the pods placed
// (pod-counts.ts keeps it up to date as pods are added). Required rules are exact per node, so the
// sample stands; preferred ones rank every node that fits.
import type { LabelSelector, PodAffinityTerm, TopologySpreadConstraint } from '../objects/types.ts';
import { selectorMatches } from '../objects/validate-rules.ts';
import { matchesNodeAffinity } from './node-affinity.ts';
import { matchesNodeSelector } from './node-selector.ts';
import { countsOf } from './pod-counts.ts';
import type { Load, PodToPlace, SchedNode } from './types.ts';

interface TermState {
  key: string;
  /** Matching pods per domain value. */
  domains: Map<string, number>;
  total: number;
  /** The pod being placed matches its own term (the first of a group may go anywhere). */
  self: boolean;
  weight: number;
}
export interface SpreadState {
  key: string;
  maxSkew: number;
  domains: Map<string, number>;
  /** The emptiest eligible domain's count (0 while fewer domains than minDomains). */
  min: number;
  self: number;
}
export interface PodRules {
  affinity: TermState[];
  antiAffinity: TermState[];
  preferred: TermState[];
  /** Domains (key = value) where an existing pod's required anti-affinity keeps this pod out. */
  forbidden: Array<{ key: string; value: string }>;
  hardSpread: SpreadState[];
  softSpread: SpreadState[];
}

const namespaceOf = (pod: PodToPlace) => pod.namespace ?? 'default';

/** A pod whose placement needs other pods' whereabouts. */
export function hasPodRules(pod: PodToPlace): boolean {
  const a = pod.spec.affinity;
  return (
    (pod.spec.topologySpreadConstraints?.length ?? 0) > 0 ||
    a?.podAffinity !== undefined ||
    a?.podAntiAffinity !== undefined
  );
}

const selfMatches = (pod: PodToPlace, namespaces: readonly string[], selector: LabelSelector | undefined) =>
  selector !== undefined &&
  namespaces.includes(namespaceOf(pod)) &&
  selectorMatches(selector, pod.labels ?? {});

function termState(
  term: PodAffinityTerm,
  weight: number,
  pod: PodToPlace,
  nodes: readonly SchedNode[],
  load: Load,
): TermState {
  const namespaces = term.namespaces?.length ? term.namespaces : [namespaceOf(pod)];
  const counts = term.labelSelector
    ? countsOf(load, namespaces, term.labelSelector)
    : new Map<string, number>();
  const domains = new Map<string, number>();
  let total = 0;
  for (const n of nodes) {
    const v = n.labels[term.topologyKey];
    const c = counts.get(n.name) ?? 0;
    if (v === undefined || c === 0) continue;
    domains.set(v, (domains.get(v) ?? 0) + c);
    total += c;
  }
  return {
    key: term.topologyKey,
    domains,
    total,
    self: selfMatches(pod, namespaces, term.labelSelector),
    weight,
  };
}

function spreadState(
  c: TopologySpreadConstraint,
  pod: PodToPlace,
  nodes: readonly SchedNode[],
  load: Load,
): SpreadState {
  const ns = [namespaceOf(pod)];
  const counts = c.labelSelector ? countsOf(load, ns, c.labelSelector) : new Map<string, number>();
  const domains = new Map<string, number>();
  for (const n of nodes) {
    const v = n.labels[c.topologyKey];
    // Eligible domains: nodes the pod's own selector and required affinity allow (k8s' Honor policy).
    if (
      v === undefined ||
      matchesNodeSelector(n, pod, load) !== null ||
      matchesNodeAffinity(n, pod, load) !== null
    )
      continue;
    domains.set(v, (domains.get(v) ?? 0) + (counts.get(n.name) ?? 0));
  }
  const few = c.minDomains !== undefined && domains.size < c.minDomains;
  const min = domains.size === 0 || few ? 0 : Math.min(...domains.values());
  return {
    key: c.topologyKey,
    maxSkew: c.maxSkew,
    domains,
    min,
    self: selfMatches(pod, ns, c.labelSelector) ? 1 : 0,
  };
}

/** Rules that rank nodes against each other (preferred pod affinity, ScheduleAnyway spread): then every
 * node that fits is ranked, not a sample. Required rules are exact per node and keep the sample. */
export function ranksAcrossNodes(pod: PodToPlace): boolean {
  const a = pod.spec.affinity;
  return (
    (pod.spec.topologySpreadConstraints ?? []).some((c) => c.whenUnsatisfiable === 'ScheduleAnyway') ||
    (a?.podAffinity?.preferredDuringSchedulingIgnoredDuringExecution?.length ?? 0) > 0 ||
    (a?.podAntiAffinity?.preferredDuringSchedulingIgnoredDuringExecution?.length ?? 0) > 0
  );
}

export function preparePodRules(
  pod: PodToPlace,
  nodes: readonly SchedNode[],
  load: Load,
): PodRules | undefined {
  if (!hasPodRules(pod) && load.antiAffinity.length === 0) return undefined;
  const a = pod.spec.affinity;
  const state = (t: PodAffinityTerm, w = 1) => termState(t, w, pod, nodes, load);
  const rules: PodRules = {
    affinity: (a?.podAffinity?.requiredDuringSchedulingIgnoredDuringExecution ?? []).map((t) => state(t)),
    antiAffinity: (a?.podAntiAffinity?.requiredDuringSchedulingIgnoredDuringExecution ?? []).map((t) =>
      state(t),
    ),
    preferred: [
      ...(a?.podAffinity?.preferredDuringSchedulingIgnoredDuringExecution ?? []).map((p) =>
        state(p.podAffinityTerm, p.weight),
      ),
      ...(a?.podAntiAffinity?.preferredDuringSchedulingIgnoredDuringExecution ?? []).map((p) =>
        state(p.podAffinityTerm, -p.weight),
      ),
    ],
    forbidden: [],
    hardSpread: [],
    softSpread: [],
  };
  for (const c of pod.spec.topologySpreadConstraints ?? [])
    (c.whenUnsatisfiable === 'DoNotSchedule' ? rules.hardSpread : rules.softSpread).push(
      spreadState(c, pod, nodes, load),
    );
  // Existing pods' required anti-affinity that this pod matches (k8s checks it both ways).
  const labelsOf = load.antiAffinity.length > 0 ? new Map(nodes.map((n) => [n.name, n.labels])) : undefined;
  for (const other of load.antiAffinity)
    for (const t of other.antiAffinity!) {
      const namespaces = t.namespaces?.length ? t.namespaces : [other.namespace];
      const value = labelsOf!.get(other.node)?.[t.topologyKey];
      if (value !== undefined && selfMatches(pod, namespaces, t.labelSelector))
        rules.forbidden.push({ key: t.topologyKey, value });
    }
  return rules;
}
