// How `nokube get/describe` and `nokube prewarm` show ImagePrewarm tasks.
import type { ImagePrewarm, KubeObject } from '../../../agent/objects/types.ts';
import { settingsOf } from '../../prewarm/defaults.ts';
import { ageOf, type Columns, duration, pairs } from './columns.ts';
import type { Line } from './describe.ts';

const progressText = (t: ImagePrewarm) => {
  const p = t.status?.progress;
  return p ? `${p.completedNodes + p.failedNodes}/${p.totalNodes}` : '-';
};
const batchText = (t: ImagePrewarm) => {
  const p = t.status?.progress;
  return p ? `${p.currentBatch}/${p.totalBatches}` : '-';
};
const durationOf = (t: ImagePrewarm) => {
  const st = t.status;
  if (!st?.startTime) return '';
  return duration(
    (st.completionTime ? Date.parse(st.completionTime) : Date.now()) - Date.parse(st.startTime),
  );
};

export function prewarmColumns(wide: boolean): Columns {
  return {
    headers: [
      'NAME',
      'STATUS',
      'NODES',
      'FAILED',
      'BATCH',
      'DURATION',
      'AGE',
      ...(wide ? ['IMAGES', 'SELECTOR'] : []),
    ],
    row: (o: KubeObject) => {
      const t = o as ImagePrewarm;
      const row = [
        t.metadata.name,
        t.status?.phase ?? 'Pending',
        progressText(t),
        String(t.status?.progress?.failedNodes ?? 0),
        batchText(t),
        durationOf(t),
        ageOf(t),
      ];
      if (wide) row.push(t.spec.images.join(','), pairs(t.spec.nodeSelector) || '<none>');
      return row;
    },
  };
}

export function prewarmLines(t: ImagePrewarm): Line[] {
  const s = settingsOf(t.spec);
  const st = t.status;
  const p = st?.progress;
  const out: Line[] = [
    ['Images', t.spec.images.join(', ')],
    ['Node-Selector', pairs(t.spec.nodeSelector) || '<none>'],
    ['Batch Size', String(t.spec.batchSize)],
    ['Max Failure Ratio', String(s.maxFailureRatio)],
    ['Retries', String(s.retries)],
    ['Pull Timeout', `${s.pullTimeoutMs / 1000}s`],
    ['Priority', String(s.priority)],
    ['Status', st?.phase ?? 'Pending'],
  ];
  if (st?.message) out.push(['Message', st.message]);
  if (p) {
    out.push(['Progress', `${bar(p.percentage)} ${p.percentage}%`]);
    out.push(['Nodes', `${p.completedNodes} Completed / ${p.failedNodes} Failed / ${p.totalNodes} Total`]);
    out.push(['Batch', `${p.currentBatch} of ${p.totalBatches}`]);
  }
  if (st?.startTime) out.push(['Start Time', st.startTime]);
  if (st?.completionTime) out.push(['Completed At', st.completionTime]);
  else if (st?.estimatedCompletion) out.push(['Estimated Completion', st.estimatedCompletion]);
  if (st?.startTime) out.push(['Duration', durationOf(t)]);
  const pulling = Object.entries(st?.batch ?? {}).filter(([, n]) => n.state === 'Pulling');
  if (pulling.length > 0)
    out.push([
      'Pulling',
      pulling.map(([node, n]) => (n.attempts > 0 ? `${node} (attempt ${n.attempts + 1})` : node)).join(', '),
    ]);
  if (st?.failedNodeDetails?.length) {
    out.push('Failed Nodes:');
    for (const f of st.failedNodeDetails)
      out.push(`  ${f.node}\t${f.image}\t${f.reason}\t${f.time}\t${f.message}`);
  }
  return out;
}

/** `[#########-----------]`: 20 cells. */
export function bar(percentage: number): string {
  const full = Math.round(Math.min(100, Math.max(0, percentage)) / 5);
  return `[${'#'.repeat(full)}${'-'.repeat(20 - full)}]`;
}
