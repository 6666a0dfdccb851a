// The agent's metrics: every interval the node and its pod containers are sampled (one NodeSample on the
// event bus for the mesh summary and the console), the agent's registry is updated, served at
// http://<address>:<agent.port>/metrics, and — when the cluster config has `monitoring` — written to
// GreptimeDB with Prometheus remote write through the Shipper. Samples never overlap: a slow one delays
// the next. Follows config changes live (interval, target, node labels).
import { totalmem } from 'node:os';
import { join } from 'node:path';
import { type AgentServer, startAgentServer } from '../api/agent-server.ts';
import type { ClusterConfig } from '../config/schema.ts';
import type { AgentContext, AgentPart } from '../context.ts';
import { shortReason, withTimeout } from '../store/etcd.ts';
import { registerActorMetric } from './actor-metrics.ts';
import { registerAgentMetrics } from './agent-metrics.ts';
import { ContainerStats } from './container-stats.ts';
import { BasicAuth, type GreptimeAuth } from './export/basic-auth.ts';
import type { DatabaseOptions } from './export/database.ts';
import { greptimeUrl } from './export/greptime.ts';
import { Shipper } from './export/shipper.ts';
import { NodeMetrics } from './node-metrics.ts';
import { NodeSampler } from './node-sampler.ts';
import {
  REMOTE_WRITE_CONTENT_TYPE,
  REMOTE_WRITE_HEADERS,
  remoteWriteBody,
  type Series,
} from './remote-write.ts';
import type { NodeSample } from './sample.ts';

/** Sampling interval when the cluster config has no `monitoring` (console and `nokube top` still need it). */
export const SAMPLE_SECONDS_WITHOUT_MONITORING = 10;

/** `label_<key>` with every character outside [a-zA-Z0-9_] replaced by `_` (kube-state-metrics style). */
export function nodeLabelName(key: string): string {
  return `label_${key.replace(/[^a-zA-Z0-9_]/g, '_')}`;
}

interface Target {
  key: string;
  url: string;
  database: DatabaseOptions;
  maxBytes: number;
  auth: GreptimeAuth | undefined;
}

function metricsTarget(config: ClusterConfig): Target | undefined {
  const m = config.monitoring;
  if (!m) return undefined;
  const g = m.greptimedb;
  const url = greptimeUrl(g, `/v1/prometheus/write?db=${encodeURIComponent(g.db)}`);
  const maxBytes = m.bufferMegabytes * 1024 * 1024;
  const database = { sqlUrl: greptimeUrl(g, '/v1/sql'), name: g.db };
  // The auth in the key: changed credentials (user or file) start a new Shipper on the same spool.
  return {
    key: `${url} ${maxBytes} ${JSON.stringify(g.auth ?? null)}`,
    url,
    database,
    maxBytes,
    auth: g.auth,
  };
}

export const metricsPart: AgentPart = {
  name: 'metrics',
  async start(ctx: AgentContext) {
    const registry = ctx.metrics;
    const setLabels = () => {
      const labels: Record<string, string> = { cluster: ctx.cluster, node: ctx.nodeName };
      for (const [k, v] of Object.entries(ctx.self().labels)) labels[nodeLabelName(k)] = v;
      registry.setDefaultLabels(labels);
    };
    setLabels();
    registerAgentMetrics(ctx, registry);

    let shipper: { target: Target; shipper: Shipper } | undefined;
    const metrics = new NodeMetrics(
      registry,
      [
        { pipeline: 'metrics', stats: () => shipper?.shipper.stats() },
        { pipeline: 'logs', stats: () => ctx.handles.logsExport.get()?.totals() },
      ],
      () => {
        const ms = ctx.status().etcd.latencyMs;
        return ms === undefined ? undefined : ms / 1000;
      },
    );
    registerActorMetric(registry, ctx.handles);
    // HTTPS with the node certificate when the agent has its TLS files (config `tls`).
    const server: AgentServer = await startAgentServer(
      registry,
      { host: ctx.self().address, port: ctx.config().agent.port },
      ctx.tls?.files,
    );

    const sampler = new NodeSampler();
    const containers = new ContainerStats(ctx.docker, ctx.cluster, ctx.nodeName, totalmem());
    let stopped = false;
    let timer: NodeJS.Timeout | undefined;
    let containersFailing = false;

    const retarget = async () => {
      const target = metricsTarget(ctx.config());
      if (shipper?.target.key === target?.key) return;
      const old = shipper;
      shipper = target
        ? {
            target,
            shipper: new Shipper({
              pipeline: 'metrics',
              url: target.url,
              database: target.database,
              ...(target.auth ? { auth: new BasicAuth(target.auth) } : {}),
              headers: { ...REMOTE_WRITE_HEADERS },
              contentType: REMOTE_WRITE_CONTENT_TYPE,
              maxBytes: target.maxBytes,
              spoolDir: join(ctx.self().workspace, 'agent', 'spool', 'metrics'),
              log: ctx.log.child({ part: 'metrics' }),
            }),
          }
        : undefined;
      if (old) await old.shipper.stop();
      if (target) ctx.log.info({ url: target.url }, 'writing metrics (Prometheus remote write)');
    };

    const sampleOnce = async (): Promise<NodeSample> => {
      const node = await sampler.sample(ctx.nodeName);
      let cts: NodeSample['containers'] = [];
      try {
        cts = await withTimeout(containers.sample(), 10_000, 'container stats timed out');
        containersFailing = false;
      } catch (err) {
        if (!containersFailing) ctx.log.warn({ err: shortReason(err) }, 'container stats unavailable');
        containersFailing = true;
      }
      return { ...node, containers: cts };
    };

    const write = async (at: number) => {
      const s = shipper;
      if (!s) return;
      const series: Series[] = [];
      for (const m of await registry.getMetricsAsJSON()) {
        for (const v of m.values) {
          if (!Number.isFinite(v.value)) continue;
          const labels: Record<string, string> = {
            __name__: (v as { metricName?: string }).metricName ?? m.name,
          };
          for (const [k, val] of Object.entries(v.labels)) labels[k] = String(val);
          series.push({ labels, value: v.value, timestamp: at });
        }
      }
      if (series.length > 0) s.shipper.enqueue(remoteWriteBody(series), series.length);
    };

    const intervalMs = () =>
      (ctx.config().monitoring?.metricsIntervalSeconds ?? SAMPLE_SECONDS_WITHOUT_MONITORING) * 1000;
    const tick = async () => {
      if (stopped) return;
      const started = Date.now();
      try {
        const sample = await sampleOnce();
        metrics.update(sample);
        ctx.events.emit('telemetry', sample);
        await write(sample.at);
      } catch (err) {
        ctx.log.warn({ err: String(err) }, 'metrics sample failed');
      }
      if (stopped) return;
      // The next sample one interval after this one started (or at once, if this one took longer).
      timer = setTimeout(() => void tick(), Math.max(0, intervalMs() - (Date.now() - started)));
      timer.unref();
    };

    const onConfig = () => {
      setLabels();
      retarget().catch((err) => ctx.log.warn({ err: String(err) }, 'metrics target change failed'));
    };
    ctx.events.on('config', onConfig);
    await retarget();
    // The first sample only primes the CPU and network counters; the first full one follows shortly.
    void sampler.sample(ctx.nodeName).catch(() => undefined);
    timer = setTimeout(() => void tick(), 1000);
    timer.unref();
    ctx.log.info({ url: server.url }, 'agent metrics listening');

    return {
      async stop() {
        stopped = true;
        clearTimeout(timer);
        ctx.events.off('config', onConfig);
        await server.stop();
        await shipper?.shipper.stop();
      },
    };
  },
};
