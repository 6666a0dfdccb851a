// The agent's own health as Prometheus metrics, computed at scrape (or export) time from the live parts.
import { Gauge, type Registry } from 'prom-client';
import type { AgentContext } from '../context.ts';

/**
 * Register the agent's health gauges in the agent's registry. No collectors with timers of their own:
 * prom-client's default metrics run a second event-loop histogram (wake-ups an idle agent cannot afford),
 * so the process figures are read here at collect time and the loop lag comes from ctx.loopLag.
 */
export function registerAgentMetrics(ctx: AgentContext, registry: Registry): void {
  new Gauge({
    name: 'nokube_agent_resident_memory_bytes',
    help: 'Resident memory of the agent process.',
    registers: [registry],
    collect() {
      this.set(process.memoryUsage.rss());
    },
  });
  new Gauge({
    name: 'nokube_agent_heap_used_bytes',
    help: 'V8 heap in use by the agent.',
    registers: [registry],
    collect() {
      this.set(process.memoryUsage().heapUsed);
    },
  });
  new Gauge({
    name: 'nokube_agent_cpu_seconds',
    help: 'CPU time the agent process has used since it started (user + system); rate() gives cores.',
    registers: [registry],
    collect() {
      const u = process.cpuUsage();
      this.set((u.user + u.system) / 1e6);
    },
  });
  new Gauge({
    name: 'nokube_agent_start_time_seconds',
    help: 'When the agent process started (Unix seconds).',
    registers: [registry],
    collect() {
      this.set(Math.round(Date.now() / 1000 - process.uptime()));
    },
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
    name: 'nokube_mesh_refused_total',
    help: 'Mesh traffic refused since start because no registered node record names the peer (mesh admission), by reason (connection, stream, message; name = a heartbeat speaking for another node than its record).',
    labelNames: ['reason'],
    registers: [registry],
    collect() {
      for (const [reason, n] of Object.entries(ctx.mesh.refusals())) this.set({ reason }, n);
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
}
