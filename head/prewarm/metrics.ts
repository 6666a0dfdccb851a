// Prewarm tasks on the leading head's /metrics (seed 001's metrics, from the tasks' status in the leader's
// caches at each scrape, so a failover loses nothing; a head that does not lead shows none):
//   nokube_prewarm_tasks{phase}                                   tasks by phase (every phase, 0 included)
//   nokube_prewarm_task_nodes{namespace, task, result}            completed / failed / total nodes per task
//   nokube_prewarm_task_duration_seconds{namespace, task, phase}  start to finish (to now while running)
// The images each node pulled, by image and result, are the agents' nokube_image_pulls_total.
import { Gauge, type Registry } from 'prom-client';
import type { ImagePrewarm, ImagePrewarmPhase } from '../../agent/objects/types.ts';

const PHASES: readonly ImagePrewarmPhase[] = ['Pending', 'Running', 'Completed', 'Failed', 'Cancelled'];
export const PREWARM_METRICS = [
  'nokube_prewarm_tasks',
  'nokube_prewarm_task_nodes',
  'nokube_prewarm_task_duration_seconds',
] as const;

/** Register the gauges over `tasks()`; returns their removal. */
export function prewarmMetrics(registry: Registry, tasks: () => ImagePrewarm[]): () => void {
  const [byPhase, nodes, duration] = PREWARM_METRICS;
  const remove = () => {
    for (const name of PREWARM_METRICS) registry.removeSingleMetric(name);
  };
  remove();
  new Gauge({
    name: byPhase,
    help: 'Image prewarm tasks by phase (the leading head only).',
    labelNames: ['phase'],
    registers: [registry],
    collect() {
      const count = new Map(PHASES.map((p) => [p, 0]));
      for (const t of tasks()) {
        const phase = t.status?.phase ?? 'Pending';
        count.set(phase, (count.get(phase) ?? 0) + 1);
      }
      for (const [phase, n] of count) this.set({ phase }, n);
    },
  });
  new Gauge({
    name: nodes,
    help: 'Nodes of each image prewarm task by result: completed, failed, total (the leading head only).',
    labelNames: ['namespace', 'task', 'result'],
    registers: [registry],
    collect() {
      this.reset();
      for (const t of tasks()) {
        const p = t.status?.progress;
        if (!p) continue;
        const at = { namespace: t.metadata.namespace ?? 'default', task: t.metadata.name };
        this.set({ ...at, result: 'completed' }, p.completedNodes);
        this.set({ ...at, result: 'failed' }, p.failedNodes);
        this.set({ ...at, result: 'total' }, p.totalNodes);
      }
    },
  });
  new Gauge({
    name: duration,
    help: 'How long each image prewarm task ran: start to finish, to now while it runs (the leading head only).',
    labelNames: ['namespace', 'task', 'phase'],
    registers: [registry],
    collect() {
      this.reset();
      const now = Date.now();
      for (const t of tasks()) {
        const st = t.status;
        if (!st?.startTime) continue;
        const end = st.completionTime ? Date.parse(st.completionTime) : now;
        this.set(
          { namespace: t.metadata.namespace ?? 'default', task: t.metadata.name, phase: st.phase },
          (end - Date.parse(st.startTime)) / 1000,
        );
      }
    },
  });
  return remove;
}
