// The `nokube_actor` metric (README "Metrics"): one series per actor, read at collect time from the
// handles parts publish — this node's pod actors and their containers, and rows from elsewhere (the
// kubecontroller leader's cluster-level objects).
import { Gauge, type Registry } from 'prom-client';
import type { AgentHandles } from '../context.ts';

export function registerActorMetric(
  registry: Registry,
  handles: Pick<AgentHandles, 'podActors' | 'actorRows'>,
): void {
  new Gauge({
    name: 'nokube_actor',
    help: 'One series per actor (pod, container; cluster-level objects from the kubecontroller leader); value = restarts.',
    labelNames: ['kind', 'namespace', 'name', 'owner_kind', 'owner_name', 'owner_path', 'phase'],
    registers: [registry],
    collect() {
      this.reset();
      for (const rows of handles.actorRows.all())
        for (const { restarts, ...labels } of rows()) this.set(labels, restarts);
      for (const p of handles.podActors.get()?.views() ?? []) {
        const restarts = p.containers.reduce((n, c) => n + c.restarts, 0);
        const owner_kind = p.owner?.kind ?? '';
        const owner_name = p.owner?.name ?? '';
        this.set(
          {
            kind: 'pod',
            namespace: p.namespace,
            name: p.name,
            owner_kind,
            owner_name,
            owner_path: p.path,
            phase: p.phase,
          },
          restarts,
        );
        for (const c of p.containers) {
          this.set(
            {
              kind: 'container',
              namespace: p.namespace,
              name: c.name,
              owner_kind: 'Pod',
              owner_name: p.name,
              owner_path: `${p.path}/container-${c.name}`,
              phase: c.reason ? `${c.state}:${c.reason}` : c.state,
            },
            c.restarts,
          );
        }
      }
    },
  });
}
