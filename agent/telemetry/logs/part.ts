// The agent's log export: when the cluster config has `monitoring`, the agent's own logs and every
// container of this node's pods go as OTLP/HTTP protobuf to GreptimeDB
// (http://<greptimedb.address>:<httpPort>/v1/otlp/v1/logs, table <logsDb>.<logsTable>), through the shared
// Shipper (bounded queue, retries, disk spool). Follows config changes live: a new target restarts the
// export, no `monitoring` stops it.
import { hostname } from 'node:os';
import { join } from 'node:path';
import type { ClusterConfig } from '../../config/schema.ts';
import type { AgentContext, AgentPart, ExportTotals } from '../../context.ts';
import { shortReason, withTimeout } from '../../store/etcd.ts';
import { VERSION } from '../../version.ts';
import { BasicAuth, type GreptimeAuth } from '../export/basic-auth.ts';
import type { DatabaseOptions } from '../export/database.ts';
import { greptimeUrl } from '../export/greptime.ts';
import { Shipper } from '../export/shipper.ts';
import { AgentLogSource } from './agent-source.ts';
import { ContainerLogs } from './container-logs.ts';
import { agentResource } from './otlp.ts';
import { LogPipeline, type PipelineStats } from './pipeline.ts';
import type { BufferBounds } from './record-buffer.ts';

/** Per source (each container, the agent): records waiting to be batched (README "Logs"). */
export const SOURCE_BOUNDS: BufferBounds = { maxRecords: 10_000, maxBytes: 4 << 20 };

export interface LogsExportStats {
  pipeline: PipelineStats;
  shipper: ReturnType<Shipper['stats']>;
  containers: number;
}

interface Target {
  url: string;
  database: DatabaseOptions;
  /** In the target (so in its key): changed credentials restart the export on the same spool. */
  auth?: GreptimeAuth;
  headers: Record<string, string>;
  maxBytes: number;
  spoolDir: string;
}

interface Running {
  key: string;
  shipper: Shipper;
  pipeline: LogPipeline;
  agent: AgentLogSource;
  containers: ContainerLogs | undefined;
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
      await stopRunning(was);
      ctx.log.info('log export stopped');
    }
    if (target) {
      this.current = await startRunning(ctx, target, key);
      ctx.log.info(
        { url: target.url, containers: this.current.containers !== undefined },
        'log export started',
      );
    }
  }
}

async function startRunning(ctx: AgentContext, t: Target, key: string): Promise<Running> {
  const { docker } = ctx;
  const log = ctx.log.child({ part: 'logs' });
  const shipper = new Shipper({
    pipeline: 'logs',
    url: t.url,
    database: t.database,
    ...(t.auth ? { auth: new BasicAuth(t.auth) } : {}),
    headers: t.headers,
    contentType: 'application/x-protobuf',
    maxBytes: t.maxBytes,
    spoolDir: t.spoolDir,
    log,
  });
  const pipeline = new LogPipeline({ sink: shipper, log });
  const resource = agentResource({
    cluster: ctx.cluster,
    node: ctx.nodeName,
    host: hostname(),
    version: VERSION,
  });
  const agent = new AgentLogSource({
    cluster: ctx.cluster,
    node: ctx.nodeName,
    resource,
    bounds: SOURCE_BOUNDS,
    notify: (s) => pipeline.notify(s),
  });
  pipeline.add(agent);
  agent.attach();
  let containers: ContainerLogs | undefined;
  let trying: ContainerLogs | undefined;
  try {
    await withTimeout(docker.ping(), 3000, 'no answer within 3 s');
    trying = new ContainerLogs({
      docker,
      cluster: ctx.cluster,
      node: ctx.nodeName,
      workspace: ctx.self().workspace,
      resource,
      pipeline,
      bounds: SOURCE_BOUNDS,
      log,
    });
    await trying.start();
    containers = trying;
  } catch (err) {
    await trying?.stop().catch(() => undefined);
    log.warn({ err: shortReason(err) }, 'container logs are not exported (Docker)');
  }
  return { key, shipper, pipeline, agent, containers };
}

async function stopRunning(r: Running): Promise<void> {
  r.agent.detach();
  await r.containers?.stop();
  r.pipeline.stop();
  await r.shipper.stop();
}
