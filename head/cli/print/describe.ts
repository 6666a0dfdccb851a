// `nokube describe`: kubectl's layout — aligned "Field:  value" lines, the kind's spec and status
// summary, container states and restarts, and the object's Events table.
import { DEPLOYMENT_DEFAULTS } from '../../../agent/objects/defaults.ts';
import type { KubeEvent } from '../../../agent/objects/events.ts';
import { shownAmount, type Usage, usedOf } from '../../../agent/objects/quota.ts';
import { rolloutAnnotations } from '../../../agent/objects/rollout-annotations.ts';
import type {
  Condition,
  ConfigMap,
  Container,
  ContainerState,
  ContainerStatus,
  DaemonSet,
  Deployment,
  EndpointSlice,
  Job,
  KubeObject,
  LimitRange,
  Namespace,
  Pod,
  PodTemplateSpec,
  ReplicaSet,
  ResourceQuota,
  Secret,
  Service,
} from '../../../agent/objects/types.ts';
import { age, table } from '../output.ts';
import { duration, pairs, selectorText } from './columns.ts';
import { cronJobLines } from './cronjob.ts';
import { disruptionBudgetLines } from './disruption-budget.ts';
import { podStatusText } from './pod-status.ts';
import { prewarmLines } from './prewarm.ts';
import { probeText } from './probe.ts';

export type Line = [string, string] | string;

/** What describe shows besides the object: a Service's slices (its Endpoints lines), a quota's use. */
export interface Related {
  endpointSlices?: EndpointSlice[];
  quotaUsage?: Usage;
}

export function describeText(obj: KubeObject, events: KubeEvent[], related: Related = {}): string {
  const lines: Line[] = [['Name', obj.metadata.name]];
  if (obj.metadata.namespace) lines.push(['Namespace', obj.metadata.namespace]);
  lines.push(...multi('Labels', obj.metadata.labels), ...multi('Annotations', obj.metadata.annotations), [
    'CreationTimestamp',
    obj.metadata.creationTimestamp || '<unknown>',
  ]);
  const owner = obj.metadata.ownerReferences?.find((r) => r.controller);
  if (owner) lines.push(['Controlled By', `${owner.kind}/${owner.name}`]);
  lines.push(...kindLines(obj, related.endpointSlices ?? [], related));
  return `${render(lines)}${eventsText(events)}`;
}

function kindLines(obj: KubeObject, slices: EndpointSlice[], related: Related): Line[] {
  switch (obj.kind) {
    case 'Service':
      return serviceLines(obj, slices);
    case 'EndpointSlice':
      return endpointSliceLines(obj);
    case 'Pod':
      return podLines(obj);
    case 'Deployment':
      return deploymentLines(obj);
    case 'ReplicaSet':
      return replicaSetLines(obj);
    case 'DaemonSet':
      return daemonSetLines(obj);
    case 'Job':
      return jobLines(obj);
    case 'ImagePrewarm':
      return prewarmLines(obj);
    case 'CronJob':
      return cronJobLines(obj);
    case 'PodDisruptionBudget':
      return disruptionBudgetLines(obj);
    case 'ConfigMap':
      return configMapLines(obj);
    case 'Secret':
      return secretLines(obj);
    case 'Namespace':
      return [['Status', (obj as Namespace).status?.phase ?? 'Active']];
    case 'ResourceQuota':
      return quotaLines(obj, related.quotaUsage);
    case 'LimitRange':
      return limitRangeLines(obj);
    case 'PriorityClass':
      return [
        ['Value', String(obj.value)],
        ['GlobalDefault', String(obj.globalDefault ?? false)],
        ['PreemptionPolicy', obj.preemptionPolicy ?? 'PreemptLowerPriority'],
        ['Description', obj.description ?? ''],
      ];
  }
}

/** kubectl: a pod being deleted shows how long it has been terminating and the grace it was given. */
function terminationLines(p: Pod): Line[] {
  const { deletionTimestamp: at, deletionGracePeriodSeconds: grace } = p.metadata;
  const phase = p.status?.phase;
  if (!at || phase === 'Succeeded' || phase === 'Failed') return [['Status', podStatusText(p)]];
  const requested = Date.parse(at) - (grace ?? 0) * 1000;
  return [
    ['Status', `Terminating (lasts ${age(requested)})`],
    ['Termination Grace Period', `${grace ?? 0}s`],
  ];
}

function podLines(p: Pod): Line[] {
  const st = p.status;
  const out: Line[] = [
    ['Node', p.spec.nodeName ?? '<none>'],
    ['Start Time', st?.startTime ?? '<unset>'],
    ...terminationLines(p),
  ];
  if (st?.reason) out.push(['Reason', st.reason]);
  if (st?.message) out.push(['Message', st.message]);
  out.push(['IP', st?.podIP ?? '<none>']);
  if (p.spec.initContainers?.length) {
    out.push('Init Containers:');
    for (const c of p.spec.initContainers) out.push(...containerLines(c, st?.initContainerStatuses));
  }
  out.push('Containers:');
  for (const c of p.spec.containers) out.push(...containerLines(c, st?.containerStatuses));
  out.push(...conditionLines(st?.conditions));
  out.push([
    'Volumes',
    (p.spec.volumes ?? []).map((v) => `${v.name} (${Object.keys(v).find((k) => k !== 'name')})`).join(', ') ||
      '<none>',
  ]);
  out.push(['Node-Selectors', pairs(p.spec.nodeSelector) || '<none>']);
  return out;
}

/** One container's lines under Containers: or Init Containers:, as kubectl describe prints them. */
function containerLines(c: Container, statuses: ContainerStatus[] | undefined): Line[] {
  const cs = statuses?.find((s) => s.name === c.name);
  const out: Line[] = [`  ${c.name}:`];
  const sub: Array<[string, string]> = [['Image', c.image]];
  if (c.command) sub.push(['Command', c.command.join(' ')]);
  if (c.args) sub.push(['Args', c.args.join(' ')]);
  if (c.ports?.length)
    sub.push(['Port', c.ports.map((pt) => `${pt.containerPort}/${pt.protocol ?? 'TCP'}`).join(', ')]);
  sub.push(...stateLines('State', cs?.state));
  if (cs?.lastState && Object.keys(cs.lastState).length > 0)
    sub.push(...stateLines('Last State', cs.lastState));
  sub.push(['Ready', cs ? String(cs.ready) : 'False'], ['Restart Count', String(cs?.restartCount ?? 0)]);
  for (const [label, probe] of [
    ['Liveness', c.livenessProbe],
    ['Readiness', c.readinessProbe],
    ['Startup', c.startupProbe],
  ] as const)
    if (probe) sub.push([label, probeText(probe)]);
  if (c.resources?.limits) sub.push(['Limits', pairs(c.resources.limits as Record<string, string>)]);
  if (c.resources?.requests) sub.push(['Requests', pairs(c.resources.requests as Record<string, string>)]);
  sub.push([
    'Environment',
    (c.env ?? []).map((e) => `${e.name}=${e.value ?? '(from source)'}`).join(', ') || '<none>',
  ]);
  sub.push([
    'Mounts',
    (c.volumeMounts ?? [])
      .map((m) => `${m.mountPath} from ${m.name}${m.readOnly ? ' (ro)' : ''}`)
      .join(', ') || '<none>',
  ]);
  out.push(...sub.map(([k, v]) => `    ${k}:`.padEnd(20) + v));
  return out;
}

function stateLines(label: string, s: ContainerState | undefined): Array<[string, string]> {
  if (!s) return [[label, 'Waiting']];
  if (s.running)
    return [
      [label, 'Running'],
      ['  Started', s.running.startedAt],
    ];
  if (s.waiting)
    return [
      [label, 'Waiting'],
      ['  Reason', s.waiting.reason],
      ...(s.waiting.message ? [['  Message', s.waiting.message] as [string, string]] : []),
    ];
  if (s.terminated) {
    const t = s.terminated;
    return [
      [label, 'Terminated'],
      ['  Reason', t.reason],
      ...(t.message ? [['  Message', t.message.trimEnd()] as [string, string]] : []),
      ['  Exit Code', String(t.exitCode)],
      ...(t.startedAt ? [['  Started', t.startedAt] as [string, string]] : []),
      ['  Finished', t.finishedAt],
    ];
  }
  return [[label, 'Waiting']];
}

function conditionLines(conds: Condition[] | undefined): Line[] {
  if (!conds?.length) return [];
  const rows = conds.map((c) => [c.type, c.status, c.reason ?? '', c.message ?? '']);
  return ['Conditions:', ...indent(table(['Type', 'Status', 'Reason', 'Message'], rows))];
}

function templateLines(t: PodTemplateSpec): Line[] {
  const out: Line[] = ['Pod Template:', `  Labels:  ${pairs(t.metadata?.labels) || '<none>'}`];
  for (const [title, list] of [
    ['Init Containers', t.spec.initContainers ?? []],
    ['Containers', t.spec.containers],
  ] as const) {
    if (list.length === 0) continue;
    out.push(`  ${title}:`);
    for (const c of list) {
      out.push(`   ${c.name}:`, `    Image:  ${c.image}`);
      if (c.command) out.push(`    Command:  ${c.command.join(' ')}`);
      if (c.resources?.limits)
        out.push(`    Limits:  ${pairs(c.resources.limits as Record<string, string>)}`);
    }
  }
  if (t.spec.nodeSelector) out.push(`  Node-Selectors:  ${pairs(t.spec.nodeSelector)}`);
  return out;
}

function deploymentLines(d: Deployment): Line[] {
  const st = d.status;
  return [
    ['Selector', selectorText(d.spec.selector)],
    [
      'Replicas',
      `${d.spec.replicas ?? 1} desired | ${st?.updatedReplicas ?? 0} updated | ${st?.replicas ?? 0} total | ${st?.availableReplicas ?? 0} available | ${st?.unavailableReplicas ?? 0} unavailable`,
    ],
    ['StrategyType', d.spec.strategy?.type ?? 'RollingUpdate'],
    ['MinReadySeconds', String(d.spec.minReadySeconds ?? 0)],
    ...rollingLines(d),
    ...safetyLines(d),
    ...(d.spec.paused ? [['Paused', 'true'] as Line] : []),
    ['Generation', `${d.metadata.generation} (observed ${st?.observedGeneration ?? '<none>'})`],
    ...templateLines(d.spec.template),
    ...conditionLines(st?.conditions),
  ];
}

function rollingLines(d: Deployment): Line[] {
  const ru = d.spec.strategy?.rollingUpdate;
  if (!ru) return [];
  const surge = ru.maxSurge ?? DEPLOYMENT_DEFAULTS.maxSurge;
  const unavailable = ru.maxUnavailable ?? DEPLOYMENT_DEFAULTS.maxUnavailable;
  return [['RollingUpdateStrategy', `${unavailable} max unavailable, ${surge} max surge`]];
}

/** nokube's canary step and automatic rollback (rollout-annotations.ts), when set. */
function safetyLines(d: Deployment): Line[] {
  const a = rolloutAnnotations(d.metadata);
  const out: Line[] = [];
  if (a.canary > 0)
    out.push([
      'Canary',
      `${a.canary} pod${a.canary === 1 ? '' : 's'}, ${a.autoPromoteAfterSeconds === undefined ? 'promoted by nokube rollout promote' : `promoted after ${a.autoPromoteAfterSeconds}s Ready`}`,
    ]);
  if (a.autoRollback) out.push(['AutoRollback', 'true']);
  return out;
}

function replicaSetLines(r: ReplicaSet): Line[] {
  const st = r.status;
  return [
    ['Selector', selectorText(r.spec.selector)],
    ['Replicas', `${st?.replicas ?? 0} current / ${r.spec.replicas} desired`],
    ['Pods Status', `${st?.readyReplicas ?? 0} Ready / ${st?.availableReplicas ?? 0} Available`],
    ...templateLines(r.spec.template),
  ];
}

function daemonSetLines(d: DaemonSet): Line[] {
  const st = d.status;
  return [
    ['Selector', selectorText(d.spec.selector)],
    ['Node-Selector', pairs(d.spec.template.spec.nodeSelector) || '<none>'],
    ['Desired Number of Nodes Scheduled', String(st?.desiredNumberScheduled ?? 0)],
    ['Current Number of Nodes Scheduled', String(st?.currentNumberScheduled ?? 0)],
    ['Number of Nodes Scheduled with Up-to-date Pods', String(st?.updatedNumberScheduled ?? 0)],
    ['Number of Nodes Scheduled with Available Pods', String(st?.numberAvailable ?? 0)],
    ['Number of Nodes Misscheduled', String(st?.numberMisscheduled ?? 0)],
    ...templateLines(d.spec.template),
  ];
}

function jobLines(j: Job): Line[] {
  const st = j.status;
  const out: Line[] = [
    ['Parallelism', String(j.spec.parallelism ?? 1)],
    ['Completions', String(j.spec.completions ?? 1)],
    ['Backoff Limit', String(j.spec.backoffLimit ?? 6)],
    ['Start Time', st?.startTime ?? '<unset>'],
  ];
  if (st?.completionTime) out.push(['Completed At', st.completionTime]);
  if (st?.startTime)
    out.push([
      'Duration',
      duration((st.completionTime ? Date.parse(st.completionTime) : Date.now()) - Date.parse(st.startTime)),
    ]);
  out.push([
    'Pods Statuses',
    `${st?.active ?? 0} Active / ${st?.succeeded ?? 0} Succeeded / ${st?.failed ?? 0} Failed`,
  ]);
  return [...out, ...templateLines(j.spec.template), ...conditionLines(st?.conditions)];
}

function configMapLines(c: ConfigMap): Line[] {
  const out: Line[] = ['', 'Data', '===='];
  for (const [k, v] of Object.entries(c.data ?? {})) out.push(`${k}:`, '----', v, '');
  if (c.binaryData) {
    out.push('BinaryData', '====');
    for (const [k, v] of Object.entries(c.binaryData))
      out.push(`${k}: ${Buffer.from(v, 'base64').length} bytes`);
  }
  return out;
}

/** Values never shown: the head sends `<N bytes>` unless asked; a raw value is counted here. */
function secretLines(s: Secret): Line[] {
  const out: Line[] = [['Type', s.type ?? 'Opaque'], '', 'Data', '===='];
  for (const [k, v] of Object.entries(s.data ?? {}))
    out.push(
      `${k}:  ${/^<\d+ bytes>$/.test(v) ? v.slice(1, -1) : `${Buffer.from(v, 'base64').length} bytes`}`,
    );
  return out;
}

/** kubectl's Service description; per port its Endpoints: the ready addresses of the slices' port of
 * that name, `<ip>:<port>`. */
function serviceLines(s: Service, slices: EndpointSlice[]): Line[] {
  // An ExternalName Service has no address (nor families): its name says where it leads.
  const external = s.spec.type === 'ExternalName';
  const out: Line[] = [
    ['Selector', pairs(s.spec.selector) || '<none>'],
    ['Type', s.spec.type ?? 'ClusterIP'],
    ['IP Family Policy', external ? '<none>' : (s.spec.ipFamilyPolicy ?? 'SingleStack')],
    ['IP Families', external ? '<none>' : (s.spec.ipFamilies ?? ['IPv4']).join(',')],
    ['IP', s.spec.clusterIP ?? '<none>'],
    ['IPs', (s.spec.clusterIPs ?? []).join(',') || '<none>'],
    ...(external ? [['External Name', s.spec.externalName ?? '<none>'] as Line] : []),
  ];
  for (const p of s.spec.ports ?? []) {
    const name = p.name || '<unset>';
    const protocol = p.protocol ?? 'TCP';
    out.push(['Port', `${name}  ${p.port}/${protocol}`]);
    const target = p.targetPort ?? p.port;
    out.push(['TargetPort', `${target}/${protocol}`]);
    if (p.nodePort) out.push(['NodePort', `${name}  ${p.nodePort}/${protocol}`]);
    const endpoints = slices.flatMap((e) => {
      const port = e.ports.find(
        (q) => (q.name ?? '') === (p.name ?? '') && (q.protocol ?? 'TCP') === protocol,
      );
      if (!port?.port) return [];
      return e.endpoints
        .filter((ep) => ep.conditions.ready !== false)
        .flatMap((ep) => ep.addresses.map((a) => `${a}:${port.port}`));
    });
    out.push(['Endpoints', endpoints.join(',') || '<none>']);
  }
  const timeout = s.spec.sessionAffinityConfig?.clientIP?.timeoutSeconds;
  out.push(['Session Affinity', s.spec.sessionAffinity ?? 'None']);
  if (s.spec.sessionAffinity === 'ClientIP' && timeout !== undefined)
    out.push(['Session Affinity Timeout', `${timeout}s`]);
  return out;
}

function endpointSliceLines(e: EndpointSlice): Line[] {
  const out: Line[] = [['AddressType', e.addressType], 'Ports:'];
  const ports = e.ports.map((p) => [p.name || '<unset>', String(p.port ?? '<unset>'), p.protocol ?? 'TCP']);
  out.push(...indent(table(['Name', 'Port', 'Protocol'], [['----', '----', '--------'], ...ports])));
  out.push('Endpoints:');
  for (const ep of e.endpoints) {
    const c = ep.conditions;
    out.push(
      `  - Addresses:  ${ep.addresses.join(',')}`,
      '    Conditions:',
      `      Ready:    ${c.ready ?? '<unset>'}`,
      `      Serving:  ${c.serving ?? '<unset>'}`,
      `      Terminating:  ${c.terminating ?? '<unset>'}`,
      `    TargetRef:  ${ep.targetRef ? `${ep.targetRef.kind}/${ep.targetRef.name}` : '<unset>'}`,
      `    NodeName:   ${ep.nodeName ?? '<unset>'}`,
    );
  }
  return out;
}

export function multi(label: string, m: Record<string, string> | undefined): Line[] {
  const entries = Object.entries(m ?? {});
  if (entries.length === 0) return [[label, '<none>']];
  return entries.map(([k, v], i): Line => (i === 0 ? [label, `${k}=${v}`] : ['', `${k}=${v}`]));
}

export const indent = (text: string) =>
  text
    .trimEnd()
    .split('\n')
    .map((l) => `  ${l}`);

export function render(lines: Line[]): string {
  const width = Math.max(...lines.map((l) => (typeof l === 'string' ? 0 : l[0].length + 1))) + 2;
  return lines
    .map((l) => (typeof l === 'string' ? l : `${l[0] ? `${l[0]}:` : ''}`.padEnd(width) + l[1]))
    .join('\n')
    .concat('\n');
}

export function eventsText(events: KubeEvent[]): string {
  if (events.length === 0) return 'Events:  <none>\n';
  const rows = events.map((e) => [
    e.type,
    e.reason,
    e.count > 1
      ? `${age(e.lastTimestamp)} (x${e.count} over ${age(e.firstTimestamp)})`
      : age(e.lastTimestamp),
    e.source.host ? `${e.source.component}, ${e.source.host}` : e.source.component,
    e.message,
  ]);
  return `Events:\n${indent(table(['Type', 'Reason', 'Age', 'From', 'Message'], [['----', '------', '----', '----', '-------'], ...rows])).join('\n')}\n`;
}

/** kubectl's quota table: each hard limit with what the namespace uses of it. */
function quotaLines(q: ResourceQuota, usage: Usage | undefined): Line[] {
  const rows = Object.entries(q.spec.hard)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([k, v]) => [k, usage ? shownAmount(k, usedOf(usage, k)) : '<unknown>', v]);
  return table(['Resource', 'Used', 'Hard'], [['--------', '----', '----'], ...rows])
    .trimEnd()
    .split('\n');
}

function limitRangeLines(r: LimitRange): Line[] {
  const rows = r.spec.limits.flatMap((l) =>
    (['cpu', 'memory'] as const).map((res) => [
      l.type,
      res,
      l.min?.[res] ?? '-',
      l.max?.[res] ?? '-',
      l.defaultRequest?.[res] ?? '-',
      l.default?.[res] ?? '-',
    ]),
  );
  return table(
    ['Type', 'Resource', 'Min', 'Max', 'Default Request', 'Default Limit'],
    [['----', '--------', '---', '---', '---------------', '-------------'], ...rows],
  )
    .trimEnd()
    .split('\n');
}
