// A running log export to one target (part.ts starts and stops it): the agent's own log lines and this
// node's containers' logs, through the pipeline to the Shipper. Loaded only when `monitoring` is set.
import { hostname } from 'node:os';
import type { AgentContext } from '../../context.ts';
import { shortReason, withTimeout } from '../../store/etcd.ts';
import { VERSION } from '../../version.ts';
import { BasicAuth, type GreptimeAuth } from '../export/basic-auth.ts';
import type { DatabaseOptions } from '../export/database.ts';
import { Shipper } from '../export/shipper.ts';
import { AgentLogSource } from './agent-source.ts';
import { ContainerLogs } from './container-logs.ts';
import { agentResource } from './otlp.ts';
import { LogPipeline } from './pipeline.ts';
import type { BufferBounds } from './record-buffer.ts';

/** Per source (each container, the agent): records waiting to be batched (README "Logs"). */
export const SOURCE_BOUNDS: BufferBounds = { maxRecords: 10_000, maxBytes: 4 << 20 };

export interface Target {
  url: string;
  database: DatabaseOptions;
  /** In the target (so in its key): changed credentials restart the export on the same spool. */
  auth?: GreptimeAuth;
  headers: Record<string, string>;
  maxBytes: number;
  spoolDir: string;
}

export interface Running {
  key: string;
  shipper: Shipper;
  pipeline: LogPipeline;
  agent: AgentLogSource;
  containers: ContainerLogs | undefined;
  stop(): Promise<void>;
}

export async function startRunning(ctx: AgentContext, t: Target, key: string): Promise<Running> {
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
  const running: Running = { key, shipper, pipeline, agent, containers, stop: () => stopRunning(running) };
  return running;
}

async function stopRunning(r: Running): Promise<void> {
  r.agent.detach();
  await r.containers?.stop();
  r.pipeline.stop();
  await r.shipper.stop();
}
