// Rules across fields of one valid-shaped manifest (after the kind's zod schema passed):
// duplicate names, mounts of unknown volumes, selectors vs template labels, restart policies per kind,
// requests <= limits, probes' k8s rules. Each rule yields [path, message].
import { dockerConfigProblem } from '../images/registry-auth.ts';
import { describeHostPort, HostPortSet, hostPortsOf } from '../scheduler/host-ports.ts';
import { podDnsProblems } from './pod-dns-rules.ts';
import { parseQuantity } from './quantity.ts';
import { reschedulePolicyProblems } from './reschedule-policy.ts';
import { rolloutAnnotationProblems } from './rollout-annotations.ts';
import { serviceProblems } from './service-rules.ts';
import type {
  Container,
  DaemonSetUpdateStrategy,
  DeploymentStrategy,
  IntOrPercent,
  Kind,
  LabelSelector,
  PodSpec,
  Probe,
  ServiceSpec,
} from './types.ts';

type Problem = [Array<string | number>, string];

export function crossFieldProblems(kind: Kind, m: Record<string, unknown>): Problem[] {
  const spec = m.spec as Record<string, unknown> | undefined;
  switch (kind) {
    case 'Pod':
      return podSpecProblems(spec as unknown as PodSpec, ['spec']);
    case 'Deployment': {
      const annotations = (m.metadata as { annotations?: Record<string, string> } | undefined)?.annotations;
      return [
        ...controllerProblems(kind, spec!),
        ...reschedulePolicyProblems(annotations),
        ...rolloutAnnotationProblems(annotations, spec!),
      ];
    }
    case 'DaemonSet':
    case 'Job':
      return controllerProblems(kind, spec!);
    case 'CronJob': {
      // The Job it makes, checked as a Job (paths under spec.jobTemplate).
      const job = (spec!.jobTemplate as { spec: Record<string, unknown> }).spec;
      return controllerProblems('Job', job).map(
        ([path, message]): Problem => [['spec', 'jobTemplate', ...path], message],
      );
    }
    case 'Service':
      return serviceProblems((m.metadata as { name: string }).name, spec as unknown as ServiceSpec);
    case 'Secret': {
      const problem = dockerConfigProblem(
        m.type as string | undefined,
        m.data as Record<string, string> | undefined,
        m.stringData as Record<string, string> | undefined,
      );
      return problem ? [problem] : [];
    }
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
  if (kind === 'Deployment') out.push(...deploymentProblems(spec));
  if (kind === 'DaemonSet') out.push(...daemonSetProblems(spec, template.spec));
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

/** k8s' DaemonSet rules: rollingUpdate only for RollingUpdate, maxUnavailable and maxSurge not both 0,
 * neither above 100%. Ours: no maxSurge when the template takes host ports (pods share the node's
 * network: every containerPort is one), since the new pod could not start beside the old one. */
function daemonSetProblems(spec: Record<string, unknown>, podSpec: PodSpec): Problem[] {
  const out: Problem[] = [];
  const strategy = spec.updateStrategy as DaemonSetUpdateStrategy | undefined;
  const ru = strategy?.rollingUpdate;
  if (!ru) return out;
  const at = (f: string) => ['spec', 'updateStrategy', 'rollingUpdate', f];
  if (strategy?.type !== 'RollingUpdate')
    return [
      [
        ['spec', 'updateStrategy', 'rollingUpdate'],
        "may not be specified when strategy `type` is 'OnDelete'",
      ],
    ];
  const zero = (v: IntOrPercent | undefined) => v === undefined || v === 0 || v === '0%';
  // k8s' default maxUnavailable is 1: only a maxUnavailable written as 0 counts as 0 here.
  const unavailableZero = ru.maxUnavailable !== undefined && zero(ru.maxUnavailable);
  if (unavailableZero && zero(ru.maxSurge))
    out.push([at('maxUnavailable'), 'may not be 0 when `maxSurge` is 0']);
  for (const f of ['maxUnavailable', 'maxSurge'] as const) {
    const v = ru[f];
    if (typeof v === 'string' && Number.parseInt(v, 10) > 100)
      out.push([at(f), 'must not be greater than 100%']);
  }
  const ports = hostPortsOf(podSpec);
  if (!zero(ru.maxSurge) && ports.length > 0)
    out.push([
      at('maxSurge'),
      `must be 0 when the template takes host ports (${describeHostPort(ports[0]!)}; pods share the node's network: every containerPort is a host port): the new pod could not start beside the old one`,
    ]);
  return out;
}

/** k8s' Deployment rules: maxSurge and maxUnavailable not both 0 (nothing could move), only for
 * RollingUpdate; progressDeadlineSeconds beyond minReadySeconds. */
function deploymentProblems(spec: Record<string, unknown>): Problem[] {
  const out: Problem[] = [];
  const strategy = spec.strategy as DeploymentStrategy | undefined;
  const ru = strategy?.rollingUpdate;
  const at = (f: string) => ['spec', 'strategy', 'rollingUpdate', f];
  if (ru && strategy?.type !== 'RollingUpdate')
    out.push([
      ['spec', 'strategy', 'rollingUpdate'],
      "may not be specified when strategy `type` is 'Recreate'",
    ]);
  const zero = (v: IntOrPercent | undefined) => v === 0 || v === '0%';
  if (ru && zero(ru.maxSurge) && zero(ru.maxUnavailable))
    out.push([at('maxUnavailable'), 'may not be 0 when `maxSurge` is 0']);
  if (typeof ru?.maxUnavailable === 'string' && Number.parseInt(ru.maxUnavailable, 10) > 100)
    out.push([at('maxUnavailable'), 'must not be greater than 100%']);
  const deadline = spec.progressDeadlineSeconds as number | undefined;
  const minReady = (spec.minReadySeconds as number | undefined) ?? 0;
  if (deadline !== undefined && deadline <= minReady)
    out.push([['spec', 'progressDeadlineSeconds'], 'must be greater than minReadySeconds']);
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
  // One name space for both lists (k8s: a container's name is unique in the pod).
  const all = [
    ...spec.containers.map((c, i) => ({ c, cAt: [...at, 'containers', i] })),
    ...(spec.initContainers ?? []).map((c, i) => ({ c, cAt: [...at, 'initContainers', i] })),
  ];
  duplicates(
    all.map(({ c }) => c.name),
    (i, name) => out.push([[...all[i]!.cAt, 'name'], `duplicate container name "${name}"`]),
  );
  out.push(...hostPortProblems(spec, at), ...podDnsProblems(spec, at));
  const volumeNames = new Set(volumes.map((v) => v.name));
  for (const { c, cAt } of all) {
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
    out.push(...probeProblems(c, cAt));
  }
  return out;
}

const PROBES = ['livenessProbe', 'readinessProbe', 'startupProbe'] as const;

/** k8s' rules for probes: liveness and startup succeed once (successThreshold 1; 0 is defaulted to 1),
 * a readiness probe kills nothing so has no grace; and ours: a named port must be one of the
 * container's ports (k8s would fail the probe at every run). */
function probeProblems(c: Container, at: Array<string | number>): Problem[] {
  const out: Problem[] = [];
  for (const kind of PROBES) {
    const p: Probe | undefined = c[kind];
    if (!p) continue;
    const pAt = [...at, kind];
    if (kind !== 'readinessProbe' && p.successThreshold !== undefined && p.successThreshold > 1)
      out.push([[...pAt, 'successThreshold'], `must be 1 for a ${kind.replace('Probe', '')} probe`]);
    if (kind === 'readinessProbe' && p.terminationGracePeriodSeconds !== undefined)
      out.push([[...pAt, 'terminationGracePeriodSeconds'], 'must not be set for readinessProbes']);
    for (const action of ['httpGet', 'tcpSocket'] as const) {
      const port = p[action]?.port;
      if (typeof port === 'string' && !(c.ports ?? []).some((cp) => cp.name === port))
        out.push([[...pAt, action, 'port'], `no port named "${port}" in this container's ports`]);
    }
  }
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
