// The agent, assembled from its start steps (agent/start/) and its parts: config (etcd + local cache),
// identity, the mesh, the node record, the cluster watches, then the parts every agent runs and the extra
// parts it is given (the head's). Every host runs one.
import { EventEmitter } from 'node:events';
import { join } from 'node:path';
import type { Role } from './config/schema.ts';
import { type EtcdTlsFiles, resolveConfigSource } from './config/source.ts';
import {
  type AgentContext,
  type AgentEventBus,
  type AgentEvents,
  type AgentPart,
  type AgentStatus,
  agentHandles,
} from './context.ts';
import { AgentStartError } from './errors.ts';
import type { Logger } from './log/logger.ts';
import { OutageLog } from './log/outage-log.ts';
import { startLoopLagMonitor } from './loop/lag.ts';
import { startMemoryReducer } from './loop/memory-reducer.ts';
import { loadOrCreatePeerKey } from './mesh/peer-key.ts';
import { readContainerRuntime, readNodeFacts } from './node/facts.ts';
import { EventRecorder } from './objects/events.ts';
import { dockerClient } from './runtime/docker-client.ts';
import type { StepBasics } from './start/basics.ts';
import { loadBootConfig } from './start/boot-config.ts';
import { watchCluster } from './start/cluster-watches.ts';
import { joinMesh } from './start/join-mesh.ts';
import { LiveConfig } from './start/live-config.ts';
import { NodeRecordKeeper } from './start/node-record.ts';
import { type StartedParts, startParts } from './start/parts.ts';
import { writeConfigCache } from './state/config-cache.ts';
import { incarnationPath, nextIncarnation } from './state/incarnation.ts';
import { AliveRecords } from './store/alive.ts';
import { withTimeout } from './store/etcd.ts';
import type { NodeTlsFiles } from './tls/layout.ts';
import type { NodeTls } from './tls/node-check.ts';
import { VERSION } from './version.ts';

export interface AgentOptions {
  /** cluster.yaml path or etcd://host:port/<cluster>. */
  configSource: string;
  nodeName: string;
  log: Logger;
  /** Where the local cache lives when the config cannot be read (etcd:// sources only). */
  workspace?: string;
  /** Client TLS files for an etcds:// config source. */
  etcdTls?: EtcdTlsFiles;
  /** This node's files of the cluster's TLS (--tls-ca/--tls-cert/--tls-key): needed when the config has
   * `tls`, checked at start. */
  nodeTls?: NodeTlsFiles;
  /** The cluster's secrets keyring (agent/secrets), watched for a new key. Without it this agent can
   * neither read nor write Secrets (pods using them wait, naming the missing key). */
  secretsKeyFile?: string;
  /** Refuse to start unless the node has this role (`nokube head`). */
  requireRole?: Role;
  parts?: AgentPart[];
}

export interface RunningAgent {
  ctx: AgentContext;
  stop(): Promise<void>;
}

export async function startAgent(opts: AgentOptions): Promise<RunningAgent> {
  const { log, nodeName } = opts;
  // When each step was done, in ms since the process started (the "agent started" line says).
  const took: Record<string, number> = {};
  const mark = (step: string) => {
    took[step] = Math.round(performance.now());
  };
  // 0. The secrets keyring first: a named file that cannot be read stops the start, before anything runs.
  const keyring = await loadKeyring(opts.secretsKeyFile, log);
  const source = await resolveConfigSource(opts.configSource, opts.etcdTls);
  const { cluster } = source;
  const events: AgentEventBus = new EventEmitter<AgentEvents>();
  events.setMaxListeners(100);

  // 1. Config: etcd is the truth; the local cache lets a restart survive an etcd outage. Every etcd call
  // that gets no answer is told to one outage log: one line, then a few at a back-off, not one per call.
  const etcdOutage = new OutageLog(log, { what: 'etcd' });
  const boot = await loadBootConfig(source, opts, etcdOutage);
  mark('config');
  const { etcd } = boot;
  const live = new LiveConfig({ cluster, nodeName, log, requireRole: opts.requireRole }, boot);
  await writeConfigCache(live.self().workspace, boot.text);
  const tls = await loadNodeTls(live, opts.nodeTls).catch((err) => {
    etcd.close();
    throw err;
  });

  // 2. Identity and facts; the one Docker client of this agent, handed to every part (ctx.docker).
  // The process start, never lower than the last start's (a clock set back at boot): see the file.
  const incarnation = await nextIncarnation(incarnationPath(live.self().workspace), log).catch((err) => {
    etcd.close();
    throw err;
  });
  const privateKey = await loadOrCreatePeerKey(join(live.self().workspace, 'agent', 'peer.key'));
  const docker = dockerClient(live.self());
  // Read while the mesh starts (the OS and disk facts take tens of ms, spawned commands among them).
  const factsRead = readNodeFacts(docker);
  factsRead.catch(() => undefined);
  const loopLag = startLoopLagMonitor();

  // 3. Mesh.
  const basics: StepBasics = { cluster, nodeName, etcd, live, events, log };
  // Dials held until the node record is written (Mesh.releaseDials); not on a start from the cache: with
  // etcd away the peers it last knew are all it has.
  const joined = await joinMesh({ ...basics, privateKey, incarnation, holdDials: boot.from === 'etcd' });
  mark('mesh');
  const { mesh } = joined;
  const facts = await factsRead.catch(async (err: unknown) => {
    loopLag.stop();
    await joined.stop(false);
    throw err;
  });
  mark('facts');
  const memoryReducer = startMemoryReducer(log);

  // 4. Node record under the agent's lease (registered before the parts, below).
  const alive = new AliveRecords(etcd, cluster, nodeName, log.child({ part: 'alive' }));
  const recorder = new EventRecorder(
    etcd,
    cluster,
    { component: 'nokube-agent', host: nodeName },
    log.child({ part: 'events' }),
  );
  const node = new NodeRecordKeeper({ ...basics, facts, mesh, incarnation, alive, etcdOutage });

  // 5. Watches: config changes apply live; node records feed the mesh's peer list.
  const applyConfig = (text: string, version: number) => {
    if (!live.take(text, version)) return;
    joined.follow();
    node.update();
    writeConfigCache(live.self().workspace, text).catch((err) =>
      log.warn({ err: String(err) }, 'config cache write failed'),
    );
    log.info({ version }, 'config applied');
    events.emit('config', { config: live.config(), version });
  };
  const watches = watchCluster({ ...basics, mesh: joined, node, onConfig: applyConfig });
  // An engine slow to answer at start (a busy host) is asked again: a node registered without a container
  // runtime gets no pods, so the record says so only until the engine answers.
  let runtimeRetry: NodeJS.Timeout | undefined;
  const askRuntime = (delayMs: number) => {
    runtimeRetry = setTimeout(async () => {
      const runtime = await readContainerRuntime(docker);
      if (!runtime) return askRuntime(Math.min(delayMs * 2, 60_000));
      facts.containerRuntime = runtime;
      log.info({ version: runtime.version }, 'container engine answered: node record updated');
      node.update();
    }, delayMs);
    runtimeRetry.unref();
  };
  if (!facts.containerRuntime) askRuntime(2000);

  const status = (): AgentStatus => ({
    node: nodeName,
    cluster,
    version: VERSION,
    incarnation,
    etcd: node.etcdStatus(),
    configVersion: live.version(),
    mesh: {
      peerId: mesh.peerId,
      multiaddrs: mesh.multiaddrs,
      connections: mesh.connectedPeers(),
      members: mesh.table.counts(),
    },
  });
  const ctx: AgentContext = {
    cluster,
    nodeName,
    etcd,
    mesh,
    docker,
    log,
    loopLag,
    metrics: new (await import('prom-client')).Registry(),
    events,
    alive,
    recorder,
    handles: agentHandles(),
    ...(tls ? { tls } : {}),
    config: () => live.config(),
    configVersion: () => live.version(),
    self: () => live.self(),
    status,
  };

  /** Everything but the parts, undone. A clean stop leaves the mesh (the others learn it at once),
   * flushes the events and hands the node record to its grace lease (its containers run on); an aborted
   * start does none of it: this agent never fully joined, and its record (if written) is withdrawn. */
  const stopSteps = async (clean: boolean) => {
    clearTimeout(runtimeRetry);
    keyring.stop();
    await joined.stop(clean);
    await watches.cancel();
    if (clean) await withTimeout(recorder.flush(), 2000, 'events flush timed out').catch(() => undefined);
    await node.stop(clean ? 'clean' : 'withdraw');
    alive.stop();
    recorder.stop();
    loopLag.stop();
    memoryReducer.stop();
    etcd.close();
  };

  // 6. Registered, then the parts: the workloads of this node (pods on Docker), then extra parts (the
  // head's). The record first: peers admit this agent, and list it alive, from its record, so a restarted
  // agent is a member one etcd write after its mesh listens, not after every part has started (bench/mesh's
  // join). Pods bound here meanwhile wait for the pods part's first list, as any change does. The record
  // names the head API only once it listens (node.serving()).
  let parts: StartedParts | undefined;
  try {
    await node.start(boot.from).finally(() => mesh.releaseDials());
    mark('registered');
    parts = await startParts(ctx, [...(await builtInParts(tls)), ...(opts.parts ?? [])]);
    mark('parts');
    node.serving();
  } catch (err) {
    await parts?.stop(() => undefined);
    await stopSteps(false);
    throw err;
  }
  log.info(
    { peerId: mesh.peerId, addrs: mesh.multiaddrs, from: boot.from, version: VERSION, startMs: took },
    'agent started',
  );

  let stopped = false;
  return {
    ctx,
    async stop() {
      if (stopped) return;
      stopped = true;
      await parts.stop((err, part) => log.warn({ err: String(err), part }, 'part stop failed'));
      await stopSteps(true);
      log.info('agent stopped');
    },
  };
}

/** The config's `tls` asks every agent for its files (checked now: a host without its certificate does
 * not join); without it, files given anyway are checked too. Loaded lazily: the X.509 library only then. */
async function loadNodeTls(live: LiveConfig, files: NodeTlsFiles | undefined): Promise<NodeTls | undefined> {
  if (!files) {
    if (live.config().tls)
      throw new AgentStartError(
        'the cluster config has tls (tls.dir) but this agent was started without --tls-ca, --tls-cert and --tls-key (new-or-update passes them)',
      );
    return undefined;
  }
  const { checkNodeTls } = await import('./tls/node-check.ts');
  return checkNodeTls(
    files,
    live.self(),
    { ca: '--tls-ca', cert: '--tls-cert', key: '--tls-key' },
    new Date(),
    'make or renew it: nokube tls rotate <cluster.yaml>, then nokube new-or-update <cluster.yaml>',
  );
}

async function loadKeyring(file: string | undefined, log: Logger): Promise<{ stop(): void }> {
  if (!file) {
    log.warn('no --secrets-key: this agent can neither read nor write Secrets');
    return { stop() {} };
  }
  const { loadSecretsKeyFile } = await import('./secrets/process-keyring.ts');
  try {
    return await loadSecretsKeyFile(file, log);
  } catch (err) {
    throw new AgentStartError(`--secrets-key: ${(err as Error).message}`);
  }
}

/** Parts every agent runs. Loaded lazily so client commands do not pay for them. */
async function builtInParts(tls: NodeTls | undefined): Promise<AgentPart[]> {
  const [
    { podStreamsPart },
    { podsPart },
    { logsPart },
    { metricsPart },
    { summaryPart },
    { imagePullPart },
    { serviceProxyPart },
    { routesPart },
  ] = await Promise.all([
    import('./remote/stream-server.ts'),
    import('./pods/part.ts'),
    import('./telemetry/logs/part.ts'),
    import('./telemetry/metrics-part.ts'),
    import('./telemetry/summary.ts'),
    import('./images/part.ts'),
    import('./services/proxy/part.ts'),
    import('./routes/part.ts'),
  ]);
  const tlsParts = tls ? [(await import('./tls/expiry-part.ts')).tlsExpiryPart(tls)] : [];
  // Logs first: it sees the other parts' start-up lines and is stopped last.
  return [
    logsPart,
    podsPart,
    serviceProxyPart,
    routesPart,
    imagePullPart,
    podStreamsPart,
    summaryPart,
    metricsPart,
    ...tlsParts,
  ];
}
