// The agent's log export: when the cluster config has `monitoring`, the agent's own logs and every
// container of this node's pods go as OTLP/HTTP protobuf to GreptimeDB
// (http://<greptimedb.address>:<httpPort>/v1/otlp/v1/logs, table <logsDb>.<logsTable>), through the shared
// Shipper (bounded queue, retries, disk spool). Follows config changes live: a new target restarts the
// export, no `monitoring` stops it. What runs the export is in running.ts, loaded only when it starts.
import { join } from 'node:path';
import type { ClusterConfig } from '../../config/schema.ts';
import type { AgentContext, AgentPart, ExportTotals } from '../../context.ts';
import { greptimeUrl } from '../export/greptime.ts';
import type { Shipper } from '../export/shipper.ts';
import type { PipelineStats } from './pipeline.ts';
import type { Running, Target } from './running.ts';

export interface LogsExportStats {
  pipeline: PipelineStats;
  shipper: ReturnType<Shipper['stats']>;
  containers: number;
}

export function logsTarget(config: ClusterConfig, workspace: string): Target | undefined {
  const m = config.monitoring;
  if (!m) return undefined;
  const g = m.greptimedb;
  return {
    url: greptimeUrl(g, '/v1/otlp/v1/logs'),
    database: { sqlUrl: greptimeUrl(g, '/v1/sql'), name: g.logsDb },
    ...(g.auth ? { auth: g.auth } : {}),
    headers: {
      'X-Greptime-DB-Name': g.logsDb,
      'X-Greptime-Log-Table-Name': g.logsTable,
      'X-Greptime-Log-Extract-Keys': 'cluster_name,node_name,source,source_id',
    },
    maxBytes: m.bufferMegabytes * 1024 * 1024,
    spoolDir: join(workspace, 'agent', 'spool', 'logs'),
  };
}

export const logsPart: AgentPart = {
  name: 'logs',
  async start(ctx: AgentContext) {
    const logs = new LogsExport(ctx);
    let chain = Promise.resolve();
    const apply = (config: ClusterConfig) => {
      chain = chain
        .then(() => logs.reconcile(logsTarget(config, ctx.self().workspace)))
        .catch((err) => ctx.log.error({ err: String(err) }, 'log export (re)start failed'));
      return chain;
    };
    const onConfig = ({ config }: { config: ClusterConfig }) => void apply(config);
    ctx.events.on('config', onConfig);
    await apply(ctx.config());
    const withdraw = ctx.handles.logsExport.publish(logs);
    return {
      async stop() {
        withdraw();
        ctx.events.off('config', onConfig);
        chain = chain.then(() => logs.reconcile(undefined));
        await chain;
      },
    };
  },
};

/** The log export to one target at a time (none without `monitoring`). */
class LogsExport {
  private readonly ctx: AgentContext;
  private current: Running | undefined;

  constructor(ctx: AgentContext) {
    this.ctx = ctx;
  }

  /** What the log export has done so far; undefined while it does not run. */
  stats(): LogsExportStats | undefined {
    const { current } = this;
    if (!current) return undefined;
    return {
      pipeline: current.pipeline.stats(),
      shipper: current.shipper.stats(),
      containers: current.containers?.count() ?? 0,
    };
  }

  /**
   * The log export as /metrics counts it (nokube_export_*{pipeline="logs"}): queued = source queues + the
   * Shipper's; dropped "overflow" = over a bound, a source's queue or the Shipper's; the other reasons are
   * the Shipper's (DropReason).
   */
  totals(): ExportTotals | undefined {
    const s = this.stats();
    if (!s) return undefined;
    return {
      queuedBytes: s.pipeline.bufferedBytes + s.shipper.queuedBytes,
      sentItems: s.shipper.sentItems,
      dropped: { ...s.shipper.dropped, overflow: s.pipeline.droppedRecords + s.shipper.dropped.overflow },
    };
  }

  async reconcile(target: Target | undefined): Promise<void> {
    const { ctx } = this;
    const key = target ? JSON.stringify(target) : '';
    if ((this.current?.key ?? '') === key) return;
    if (this.current) {
      const was = this.current;
      this.current = undefined;
      await was.stop();
      ctx.log.info('log export stopped');
    }
    if (target) {
      // The export's modules (OpenTelemetry's serializer among them) load only where it runs.
      const { startRunning } = await import('./running.ts');
      this.current = await startRunning(ctx, target, key);
      ctx.log.info(
        { url: target.url, containers: this.current.containers !== undefined },
        'log export started',
      );
    }
  }
}
