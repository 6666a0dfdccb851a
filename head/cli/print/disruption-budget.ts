// How `nokube get/describe` show PodDisruptionBudgets (kubectl's columns and lines).
import type { KubeObject, PodDisruptionBudget } from '../../../agent/objects/types.ts';
import { ageOf, type Columns, selectorText } from './columns.ts';
import type { Line } from './describe.ts';

const shown = (v: number | string | undefined) => (v === undefined ? 'N/A' : String(v));

export function disruptionBudgetColumns(): Columns {
  return {
    headers: ['NAME', 'MIN AVAILABLE', 'MAX UNAVAILABLE', 'ALLOWED DISRUPTIONS', 'AGE'],
    row: (o: KubeObject) => {
      const b = o as PodDisruptionBudget;
      return [
        b.metadata.name,
        shown(b.spec.minAvailable),
        shown(b.spec.maxUnavailable),
        String(b.status?.disruptionsAllowed ?? 0),
        ageOf(b),
      ];
    },
  };
}

export function disruptionBudgetLines(b: PodDisruptionBudget): Line[] {
  const out: Line[] = [];
  if (b.spec.minAvailable !== undefined) out.push(['Min available', String(b.spec.minAvailable)]);
  if (b.spec.maxUnavailable !== undefined) out.push(['Max unavailable', String(b.spec.maxUnavailable)]);
  out.push(['Selector', b.spec.selector ? selectorText(b.spec.selector) : '<unset>']);
  const st = b.status;
  if (!st) return [...out, ['Status', '<not computed yet>']];
  out.push(
    'Status:',
    `    Allowed disruptions:  ${st.disruptionsAllowed}`,
    `    Current:              ${st.currentHealthy}`,
    `    Desired:              ${st.desiredHealthy}`,
    `    Total:                ${st.expectedPods}`,
  );
  const failed = st.conditions.find((c) => c.type === 'DisruptionAllowed' && c.reason === 'SyncFailed');
  if (failed) out.push(['Message', failed.message ?? '']);
  return out;
}
