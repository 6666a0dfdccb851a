// Rules across fields of one valid-shaped manifest (after the kind's zod schema passed):
// duplicate names, mounts of unknown volumes, selectors vs template labels, restart policies per kind,
// requests <= limits. Each rule yields [path, message].
import { describeHostPort, HostPortSet, hostPortsOf } from '../scheduler/host-ports.ts';
import { parseQuantity } from './quantity.ts';
import type { Kind, LabelSelector, PodSpec } from './types.ts';

type Problem = [Array<string | number>, string];

export function crossFieldProblems(kind: Kind, m: Record<string, unknown>): Problem[] {
  const spec = m.spec as Record<string, unknown> | undefined;
  switch (kind) {
    case 'Pod':
      return podSpecProblems(spec as unknown as PodSpec, ['spec']);
    case 'Deployment':
    case 'DaemonSet':
    case 'Job':
      return controllerProblems(kind, spec!);
    case 'ConfigMap':
      return Object.keys((m.binaryData as object) ?? {})
        .filter((k) => k in ((m.data as object) ?? {}))
        .map((k) => [['binaryData', k], `key "${k}" is also in data`]);
    default:
      return [];
  }
}

function controllerProblems(kind: Kind, spec: Record<string, unknown>): Problem[] {
  const template = spec.template as { metadata?: { labels?: Record<string, string> }; spec: PodSpec };
  const out = podSpecProblems(template.spec, ['spec', 'template', 'spec']);
  const policy = template.spec.restartPolicy;
  const policyPath = ['spec', 'template', 'spec', 'restartPolicy'];
  if (kind === 'Job') {
    if (policy === undefined) out.push([policyPath, 'required for a Job: OnFailure or Never']);
    else if (policy === 'Always') out.push([policyPath, 'must be OnFailure or Never for a Job']);
  } else if (policy !== undefined && policy !== 'Always') {
    out.push([policyPath, `must be Always for a ${kind}`]);
  }
  const selector = spec.selector as LabelSelector | undefined;
  const templateLabels = template.metadata?.labels ?? {};
  if (selector === undefined) return out;
  if (Object.keys(selector.matchLabels ?? {}).length === 0 && (selector.matchExpressions ?? []).length === 0)
    out.push([['spec', 'selector'], 'empty selector is invalid (it would match every pod)']);
  else if (!selectorMatches(selector, templateLabels))
    out.push([['spec', 'template', 'metadata', 'labels'], 'selector does not match template labels']);
  return out;
}

export function selectorMatches(selector: LabelSelector, labels: Record<string, string>): boolean {
  for (const [k, v] of Object.entries(selector.matchLabels ?? {})) if (labels[k] !== v) return false;
  for (const r of selector.matchExpressions ?? []) {
    const has = Object.hasOwn(labels, r.key);
    const inValues = has && (r.values ?? []).includes(labels[r.key]!);
    const ok =
      r.operator === 'In'
        ? inValues
        : r.operator === 'NotIn'
          ? !inValues
          : r.operator === 'Exists'
            ? has
            : !has;
    if (!ok) return false;
  }
  return true;
}

function podSpecProblems(spec: PodSpec, at: Array<string | number>): Problem[] {
  const out: Problem[] = [];
  const volumes = spec.volumes ?? [];
  duplicates(
    volumes.map((v) => v.name),
    (i, name) => out.push([[...at, 'volumes', i, 'name'], `duplicate volume name "${name}"`]),
  );
  duplicates(
    spec.containers.map((c) => c.name),
    (i, name) => out.push([[...at, 'containers', i, 'name'], `duplicate container name "${name}"`]),
  );
  out.push(...hostPortProblems(spec, at));
  const volumeNames = new Set(volumes.map((v) => v.name));
  spec.containers.forEach((c, ci) => {
    const cAt = [...at, 'containers', ci];
    (c.volumeMounts ?? []).forEach((m, mi) => {
      if (!volumeNames.has(m.name))
        out.push([[...cAt, 'volumeMounts', mi, 'name'], `no volume named "${m.name}" in spec.volumes`]);
    });
    duplicates(
      (c.volumeMounts ?? []).map((m) => m.mountPath),
      (i, path) => out.push([[...cAt, 'volumeMounts', i, 'mountPath'], `"${path}" is mounted twice`]),
    );
    duplicates(
      (c.env ?? []).map((e) => e.name),
      (i, name) => out.push([[...cAt, 'env', i, 'name'], `duplicate environment variable "${name}"`]),
    );
    for (const r of ['cpu', 'memory'] as const) {
      const limit = c.resources?.limits?.[r];
      const request = c.resources?.requests?.[r];
      if (limit !== undefined && request !== undefined && parseQuantity(request) > parseQuantity(limit))
        out.push([
          [...cAt, 'resources', 'requests', r],
          `must be less than or equal to the ${r} limit ${limit}`,
        ]);
    }
  });
  return out;
}

/** A pod's own host ports may not overlap (k8s: `Duplicate value` on hostPort): it could never run. */
function hostPortProblems(spec: PodSpec, at: Array<string | number>): Problem[] {
  const out: Problem[] = [];
  const held = new HostPortSet();
  spec.containers.forEach((c, ci) => {
    (c.ports ?? []).forEach((p, pi) => {
      for (const hp of hostPortsOf({ containers: [{ ports: [p] }] })) {
        if (held.overlaps(hp))
          out.push([
            [...at, 'containers', ci, 'ports', pi, 'containerPort'],
            `Duplicate value: "${describeHostPort(hp)}" (pods share the node's network: every containerPort is a host port)`,
          ]);
        held.add(hp);
      }
    });
  });
  return out;
}

function duplicates(names: string[], report: (index: number, name: string) => void): void {
  const seen = new Set<string>();
  names.forEach((n, i) => {
    if (seen.has(n)) report(i, n);
    seen.add(n);
  });
}
