// The agent's own health as Prometheus metrics, computed at scrape time from the live parts.
import { collectDefaultMetrics, Gauge, Registry } from 'prom-client';
import type { AgentContext } from '../agent.ts';
import { LOOP_LAG_RESOLUTION_MS } from '../loop/lag.ts';

export function createAgentMetrics(ctx: AgentContext): Registry {
  const registry = new Registry();
  registry.setDefaultLabels({ cluster_name: ctx.cluster, node: ctx.nodeName });
  // prom-client's nodejs_eventloop_lag_* run a second lag histogram, by default sampled every 10 ms (100
  // wake-ups a second: most of an idle head's CPU). Sampled like ours instead; its figures include the
  // sampling period, nokube_event_loop_lag_seconds is the lag beyond it.
  collectDefaultMetrics({
    register: registry,
    prefix: 'nokube_agent_',
    eventLoopMonitoringPrecision: LOOP_LAG_RESOLUTION_MS,
  });
  new Gauge({
    name: 'nokube_mesh_members',
    help: 'Members in this agent’s mesh view, by state.',
    labelNames: ['state'],
    registers: [registry],
    collect() {
      for (const [state, n] of Object.entries(ctx.mesh.table.counts())) this.set({ state }, n);
    },
  });
  new Gauge({
    name: 'nokube_mesh_connections',
    help: 'Open libp2p connections.',
    registers: [registry],
    collect() {
      this.set(ctx.mesh.connectedPeers());
    },
  });
  new Gauge({
    name: 'nokube_mesh_messages',
    help: 'Membership messages since start, by kind (received, dropped, published = topic announcements, publish_errors, direct_sent, direct_skipped = peer too slow, direct_failed).',
    labelNames: ['kind'],
    registers: [registry],
    collect() {
      const s = ctx.mesh.stats;
      this.set({ kind: 'received' }, s.received);
      this.set({ kind: 'dropped' }, s.dropped);
      this.set({ kind: 'published' }, s.published);
      this.set({ kind: 'publish_errors' }, s.publishErrors);
      const d = ctx.mesh.directStats();
      this.set({ kind: 'direct_sent' }, d.sent);
      this.set({ kind: 'direct_skipped' }, d.skipped);
      this.set({ kind: 'direct_failed' }, d.failed);
    },
  });
  new Gauge({
    name: 'nokube_event_loop_lag_seconds',
    help: 'Event-loop delay since the previous scrape, by quantile.',
    labelNames: ['quantile'],
    registers: [registry],
    collect() {
      const lag = ctx.loopLag.snapshot();
      this.set({ quantile: '0.5' }, lag.p50);
      this.set({ quantile: '0.99' }, lag.p99);
      this.set({ quantile: '1' }, lag.max);
    },
  });
  new Gauge({
    name: 'nokube_etcd_registered',
    help: '1 when the node record is kept alive in etcd, 0 when degraded.',
    registers: [registry],
    collect() {
      this.set(ctx.status().etcd.state === 'registered' ? 1 : 0);
    },
  });
  new Gauge({
    name: 'nokube_config_version',
    help: 'Version of the cluster config this agent runs on.',
    registers: [registry],
    collect() {
      this.set(ctx.configVersion() ?? 0);
    },
  });
  return registry;
}
