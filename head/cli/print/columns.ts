// kubectl's columns per kind for `nokube get`.
import type {
  ConfigMap,
  DaemonSet,
  Deployment,
  EndpointSlice,
  Job,
  Kind,
  KubeObject,
  LabelSelector,
  Namespace,
  Pod,
  PodTemplateSpec,
  PriorityClass,
  ReplicaSet,
  ResourceQuota,
  Secret,
  Service,
} from '../../../agent/objects/types.ts';
import { age } from '../output.ts';
import { cronJobColumns } from './cronjob.ts';
import { disruptionBudgetColumns } from './disruption-budget.ts';
import { podReady, podRestarts, podStatusText } from './pod-status.ts';
import { prewarmColumns } from './prewarm.ts';

export interface Columns {
  headers: string[];
  row(obj: KubeObject): string[];
}

const n = (v: number | undefined) => String(v ?? 0);
const none = (v: string | undefined) => (v === undefined || v === '' ? '<none>' : v);
export const ageOf = (o: KubeObject) =>
  o.metadata.creationTimestamp ? age(o.metadata.creationTimestamp) : '<unknown>';
export const pairs = (m: Record<string, string> | undefined) =>
  Object.entries(m ?? {})
    .map(([k, v]) => `${k}=${v}`)
    .join(',');

export function selectorText(s: LabelSelector | undefined): string {
  const parts = [pairs(s?.matchLabels)].filter((p) => p !== '');
  for (const r of s?.matchExpressions ?? []) {
    if (r.operator === 'Exists') parts.push(r.key);
    else if (r.operator === 'DoesNotExist') parts.push(`!${r.key}`);
    else parts.push(`${r.key} ${r.operator.toLowerCase()} (${(r.values ?? []).join(',')})`);
  }
  return none(parts.join(','));
}

export const templateWide = (t: PodTemplateSpec, selector: LabelSelector | undefined) => [
  t.spec.containers.map((c) => c.name).join(','),
  t.spec.containers.map((c) => c.image).join(','),
  selectorText(selector),
];

/** Duration as kubectl prints it (`45s`, `3m12s`, `2h5m`). */
export function duration(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m${s % 60 ? `${s % 60}s` : ''}`;
  const h = Math.floor(m / 60);
  return `${h}h${m % 60 ? `${m % 60}m` : ''}`;
}

export function jobStatusText(j: Job): string {
  const conds = j.status?.conditions ?? [];
  const is = (t: string) => conds.some((c) => c.type === t && c.status === 'True');
  if (is('Complete')) return 'Complete';
  if (is('Failed')) return 'Failed';
  return 'Running';
}

/** kubectl's PORT(S): `80/TCP`, `80:30080/TCP` for a NodePort, comma-separated. */
export const servicePorts = (s: Service): string =>
  none(
    (s.spec.ports ?? [])
      .map((p) => `${p.port}${p.nodePort ? `:${p.nodePort}` : ''}/${p.protocol ?? 'TCP'}`)
      .join(','),
  );

/** kubectl's ENDPOINTS of a slice: the first three addresses, then how many more. */
function sliceEndpoints(e: EndpointSlice): string {
  const addresses = e.endpoints.flatMap((ep) => ep.addresses);
  if (addresses.length === 0) return '<none>';
  const more = addresses.length > 3 ? ` + ${addresses.length - 3} more...` : '';
  return addresses.slice(0, 3).join(',') + more;
}

export function columnsFor(kind: Kind, wide: boolean): Columns {
  switch (kind) {
    case 'Pod':
      return {
        headers: ['NAME', 'READY', 'STATUS', 'RESTARTS', 'AGE', ...(wide ? ['IP', 'NODE'] : [])],
        row: (o) => {
          const p = o as Pod;
          const row = [p.metadata.name, podReady(p), podStatusText(p), String(podRestarts(p)), ageOf(p)];
          if (wide) row.push(none(p.status?.podIP), none(p.spec.nodeName));
          return row;
        },
      };
    case 'Deployment':
      return {
        headers: [
          'NAME',
          'READY',
          'UP-TO-DATE',
          'AVAILABLE',
          'AGE',
          ...(wide ? ['CONTAINERS', 'IMAGES', 'SELECTOR'] : []),
        ],
        row: (o) => {
          const d = o as Deployment;
          const st = d.status;
          const row = [
            d.metadata.name,
            `${st?.readyReplicas ?? 0}/${d.spec.replicas ?? 1}`,
            n(st?.updatedReplicas),
            n(st?.availableReplicas),
            ageOf(d),
          ];
          if (wide) row.push(...templateWide(d.spec.template, d.spec.selector));
          return row;
        },
      };
    case 'ReplicaSet':
      return {
        headers: [
          'NAME',
          'DESIRED',
          'CURRENT',
          'READY',
          'AGE',
          ...(wide ? ['CONTAINERS', 'IMAGES', 'SELECTOR'] : []),
        ],
        row: (o) => {
          const r = o as ReplicaSet;
          const row = [
            r.metadata.name,
            n(r.spec.replicas),
            n(r.status?.replicas),
            n(r.status?.readyReplicas),
            ageOf(r),
          ];
          if (wide) row.push(...templateWide(r.spec.template, r.spec.selector));
          return row;
        },
      };
    case 'DaemonSet':
      return {
        headers: [
          'NAME',
          'DESIRED',
          'CURRENT',
          'READY',
          'UP-TO-DATE',
          'AVAILABLE',
          'NODE SELECTOR',
          'AGE',
          ...(wide ? ['CONTAINERS', 'IMAGES', 'SELECTOR'] : []),
        ],
        row: (o) => {
          const d = o as DaemonSet;
          const st = d.status;
          const row = [
            d.metadata.name,
            n(st?.desiredNumberScheduled),
            n(st?.currentNumberScheduled),
            n(st?.numberReady),
            n(st?.updatedNumberScheduled),
            n(st?.numberAvailable),
            none(pairs(d.spec.template.spec.nodeSelector)),
            ageOf(d),
          ];
          if (wide) row.push(...templateWide(d.spec.template, d.spec.selector));
          return row;
        },
      };
    case 'Job':
      return {
        headers: [
          'NAME',
          'STATUS',
          'COMPLETIONS',
          'DURATION',
          'AGE',
          ...(wide ? ['CONTAINERS', 'IMAGES', 'SELECTOR'] : []),
        ],
        row: (o) => {
          const j = o as Job;
          const st = j.status;
          const start = st?.startTime ? Date.parse(st.startTime) : undefined;
          const end = st?.completionTime ? Date.parse(st.completionTime) : Date.now();
          const row = [
            j.metadata.name,
            jobStatusText(j),
            `${st?.succeeded ?? 0}/${j.spec.completions ?? 1}`,
            start === undefined ? '' : duration(end - start),
            ageOf(j),
          ];
          if (wide) row.push(...templateWide(j.spec.template, j.spec.selector));
          return row;
        },
      };
    case 'ConfigMap':
      return {
        headers: ['NAME', 'DATA', 'AGE'],
        row: (o) => {
          const c = o as ConfigMap;
          return [
            c.metadata.name,
            String(Object.keys(c.data ?? {}).length + Object.keys(c.binaryData ?? {}).length),
            ageOf(c),
          ];
        },
      };
    case 'Secret':
      return {
        headers: ['NAME', 'TYPE', 'DATA', 'AGE'],
        row: (o) => {
          const s = o as Secret;
          return [s.metadata.name, s.type ?? 'Opaque', String(Object.keys(s.data ?? {}).length), ageOf(s)];
        },
      };
    case 'Service':
      return {
        headers: [
          'NAME',
          'TYPE',
          'CLUSTER-IP',
          'EXTERNAL-IP',
          'PORT(S)',
          'AGE',
          ...(wide ? ['SELECTOR'] : []),
        ],
        row: (o) => {
          const s = o as Service;
          const row = [
            s.metadata.name,
            s.spec.type ?? 'ClusterIP',
            s.spec.clusterIP ?? '<none>',
            // kubectl: an ExternalName Service's external address is its name.
            s.spec.type === 'ExternalName' ? (s.spec.externalName ?? '<none>') : '<none>',
            servicePorts(s),
            ageOf(s),
          ];
          if (wide) row.push(none(pairs(s.spec.selector)));
          return row;
        },
      };
    case 'EndpointSlice':
      return {
        headers: ['NAME', 'ADDRESSTYPE', 'PORTS', 'ENDPOINTS', 'AGE'],
        row: (o) => {
          const e = o as EndpointSlice;
          const ports = e.ports.map((p) => String(p.port ?? '')).join(',');
          return [e.metadata.name, e.addressType, ports || '<unset>', sliceEndpoints(e), ageOf(e)];
        },
      };
    case 'ResourceQuota':
      return {
        headers: ['NAME', 'AGE', 'HARD'],
        row: (o) => {
          const q = o as ResourceQuota;
          const hard = Object.entries(q.spec.hard).map(([k, v]) => `${k}: ${v}`);
          return [q.metadata.name, ageOf(q), hard.join(', ')];
        },
      };
    case 'LimitRange':
      return {
        headers: ['NAME', 'CREATED AT'],
        row: (o) => [o.metadata.name, o.metadata.creationTimestamp ?? ''],
      };
    case 'PriorityClass':
      return {
        headers: ['NAME', 'VALUE', 'GLOBAL-DEFAULT', 'AGE', ...(wide ? ['PREEMPTIONPOLICY'] : [])],
        row: (o) => {
          const c = o as PriorityClass;
          const row = [c.metadata.name, String(c.value), String(c.globalDefault ?? false), ageOf(c)];
          return wide ? [...row, c.preemptionPolicy ?? 'PreemptLowerPriority'] : row;
        },
      };
    case 'ImagePrewarm':
      return prewarmColumns(wide);
    case 'CronJob':
      return cronJobColumns(wide);
    case 'PodDisruptionBudget':
      return disruptionBudgetColumns();
    case 'Namespace':
      return {
        headers: ['NAME', 'STATUS', 'AGE'],
        row: (o) => [o.metadata.name, (o as Namespace).status?.phase ?? 'Active', ageOf(o)],
      };
  }
}
