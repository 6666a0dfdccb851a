// The plan as text, like `terraform plan`: one block per node, a summary line.
import type { NodePlan } from './plan.ts';

const MARK: Record<NodePlan['change'], string> = {
  install: '+',
  upgrade: '~',
  'config change': '~',
  start: '>',
  remove: '-',
  'nothing to do': '=',
};

export function formatPlan(plans: NodePlan[]): string {
  const lines: string[] = [];
  for (const p of plans) {
    lines.push(
      `  ${MARK[p.change]} ${p.node}: ${p.change}${p.steps.length ? ` (${p.steps.join(', ')})` : ''}`,
    );
    for (const r of p.reasons) lines.push(`      ${r}`);
  }
  const changing = plans.filter((p) => p.change !== 'nothing to do').length;
  lines.push('');
  lines.push(
    changing === 0
      ? `Plan: no change on any of ${plans.length} hosts.`
      : `Plan: ${changing} of ${plans.length} hosts to change.`,
  );
  return `${lines.join('\n')}\n`;
}
