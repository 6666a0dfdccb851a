// `nokube describe node NAME`: kubectl's node page: roles, labels, taints, whether it is cordoned,
// capacity and allocatable, the pods on it with their requests and limits (share of allocatable), and the
// allocated totals.
import type { Pod } from '../../../agent/objects/types.ts';
import {
  type Allocatable,
  addResources,
  formatCpu,
  formatMemory,
  podResources,
  type Resources,
  ZERO,
} from '../../../agent/scheduler/resources.ts';
import type { NodeView } from '../../../agent/store/node-views.ts';
import { age, table } from '../output.ts';
import { indent, type Line, multi, render } from './describe.ts';
import { podStatusText } from './pod-status.ts';

const share = (n: number, of: number | undefined) => (of ? `${Math.round((n * 100) / of)}%` : '-');
const cpuCell = (m: number, a: Allocatable | null) => `${formatCpu(m)} (${share(m, a?.cpuMilli)})`;
const memCell = (b: number, a: Allocatable | null) => `${formatMemory(b)} (${share(b, a?.memoryBytes)})`;

/** The pods that hold resources on a node: bound there and not finished (as kubectl's list). */
export const podsOnNode = (pods: readonly Pod[], node: string) =>
  pods.filter((p) => p.spec.nodeName === node && !['Succeeded', 'Failed'].includes(p.status?.phase ?? ''));

export function describeNodeText(v: NodeView, pods: readonly Pod[]): string {
  const lines: Line[] = [
    ['Name', v.name],
    ['Roles', v.roles.join(',')],
    ...multi('Labels', v.labels),
    ['CreationTimestamp', v.startedAt ?? '<unknown>'],
  ];
  const taints = v.taints.map((t) => `${t.key}${t.value ? `=${t.value}` : ''}:${t.effect}`);
  if (v.unschedulable) taints.unshift('node.kubernetes.io/unschedulable:NoSchedule');
  lines.push(
    ...(taints.length === 0
      ? [['Taints', '<none>'] as Line]
      : taints.map((t, i): Line => [i === 0 ? 'Taints' : '', t])),
  );
  lines.push(['Unschedulable', String(v.unschedulable)], ['Status', v.status], ['Addresses', v.address]);
  const c = v.capacity;
  const a = v.allocatable;
  if (c)
    lines.push(
      'Capacity:',
      `  cpu:     ${c.cpus}`,
      `  memory:  ${formatMemory(c.memoryBytes)}`,
      `  pods:    ${a?.pods ?? '<unknown>'}`,
    );
  if (a)
    lines.push(
      'Allocatable:',
      `  cpu:     ${formatCpu(a.cpuMilli)}`,
      `  memory:  ${formatMemory(a.memoryBytes)}`,
      `  pods:    ${a.pods}`,
    );
  if (c)
    lines.push(
      'System Info:',
      `  Kernel Version:             ${c.os.kernel}`,
      `  OS Image:                   ${`${c.os.distro} ${c.os.release}`.trim()}`,
      `  Operating System:           ${c.os.platform}`,
      `  Architecture:               ${c.os.arch}`,
      `  Container Runtime Version:  ${c.containerRuntime ? `${c.containerRuntime.name}://${c.containerRuntime.version}` : '<none>'}`,
      `  Agent Version:              ${v.version ?? '<none>'}`,
    );
  const here = podsOnNode(pods, v.name);
  let requests: Resources = ZERO;
  let limits: Resources = ZERO;
  const rows = here.map((p) => {
    const r = podResources(p.spec);
    requests = addResources(requests, r.requests);
    limits = addResources(limits, r.limits);
    return [
      p.metadata.namespace ?? 'default',
      p.metadata.name,
      cpuCell(r.requests.cpuMilli, a),
      cpuCell(r.limits.cpuMilli, a),
      memCell(r.requests.memoryBytes, a),
      memCell(r.limits.memoryBytes, a),
      podStatusText(p),
      age(p.metadata.creationTimestamp ?? null),
    ];
  });
  let out = render(lines);
  out += `Non-terminated Pods:  (${here.length} in total)\n`;
  if (rows.length > 0)
    out += `${indent(
      table(
        [
          'Namespace',
          'Name',
          'CPU Requests',
          'CPU Limits',
          'Memory Requests',
          'Memory Limits',
          'Status',
          'Age',
        ],
        [
          [
            '---------',
            '----',
            '------------',
            '----------',
            '---------------',
            '-------------',
            '------',
            '---',
          ],
          ...rows,
        ],
      ),
    ).join('\n')}\n`;
  out += 'Allocated resources:\n  (Total limits may be over 100 percent, i.e., overcommitted.)\n';
  out += `${indent(
    table(
      ['Resource', 'Requests', 'Limits'],
      [
        ['--------', '--------', '------'],
        ['cpu', cpuCell(requests.cpuMilli, a), cpuCell(limits.cpuMilli, a)],
        ['memory', memCell(requests.memoryBytes, a), memCell(limits.memoryBytes, a)],
        ['pods', `${here.length} (${share(here.length, a?.pods)})`, ''],
      ],
    ),
  ).join('\n')}\n`;
  return out;
}
