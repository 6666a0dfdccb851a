// The agent, assembled from its parts: config (etcd + local cache), node registration, the mesh, and
// optional extra parts (the head adds its API). Every host runs one.
import { EventEmitter } from 'node:events';
import { join } from 'node:path';
import type { Etcd3, Watcher } from 'etcd3';
import type { ClusterConfig, NodeConfig, Role } from './config/schema.ts';
import { type ConfigSource, type EtcdTlsFiles, resolveConfigSource } from './config/source.ts';
import { ConfigError, loadConfigFile, validateConfigText } from './config/validate.ts';
import {
  type AgentContext,
  type AgentEventBus,
  type AgentEvents,
  type AgentPart,
  agentHandles,
} from './context.ts';
import { AgentStartError } from './errors.ts';
import type { Logger } from './log/logger.ts';
import { OutageLog } from './log/outage-log.ts';
import { startLoopLagMonitor } from './loop/lag.ts';
import { Mesh } from './mesh/mesh.ts';
import { loadOrCreatePeerKey, readNetworkKey } from './mesh/peer-key.ts';
import { headApiUrl } from './net/urls.ts';
import { type NodeFacts, readNodeFacts } from './node/facts.ts';
import { EventRecorder } from './objects/events.ts';
import { dockerClient } from './runtime/docker-client.ts';
import {
  type PeersCache,
  readConfigCache,
  readPeersCache,
  writeConfigCache,
  writePeersCache,
} from './state/config-cache.ts';
import { AliveRecords } from './store/alive.ts';
import { readConfig } from './store/config-store.ts';
import {
  connectEtcd,
  createEtcd,
  EtcdUnreachableError,
  logEtcdFailure,
  shortReason,
  withTimeout,
} from './store/etcd.ts';
import { keyLeaf, keys } from './store/keys.ts';
import { type NodeRecord, NodeRegistration, type RegistrationState } from './store/node-registry.ts';
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
  const source = await resolveConfigSource(opts.configSource, opts.etcdTls);
  const { cluster } = source;
  const events: AgentEventBus = new EventEmitter<AgentEvents>();
  events.setMaxListeners(100);

  // 1. Config: etcd is the truth; the local cache lets a restart survive an etcd outage. Every etcd call
  // that gets no answer is told to one outage log: one line, then a few at a back-off, not one per call.
  const etcdOutage = new OutageLog(log, { what: 'etcd' });
  const boot = await loadBootConfig(source, opts, etcdOutage);
  let config = boot.config;
  let configVersion = boot.version;
  let self = findSelf(config, nodeName, boot.from);
  if (opts.requireRole && !self.roles.includes(opts.requireRole)) {
    throw new AgentStartError(
      `node "${nodeName}" has no ${opts.requireRole} role in the cluster config (nodes[].roles)`,
    );
  }
  await writeConfigCache(self.workspace, boot.text);

  // 2. Identity and facts.
  const incarnation = Date.now();
  const privateKey = await loadOrCreatePeerKey(join(self.workspace, 'agent', 'peer.key'));
  // The one Docker client of this agent: every part is handed it (ctx.docker).
  const docker = dockerClient(self);
  const facts = await readNodeFacts(docker);
  const loopLag = startLoopLagMonitor();
  const headApi = headApiUrl;

  // 3. Mesh.
  const meshSelf = (n: NodeConfig) => ({
    name: n.name,
    address: n.address,
    roles: n.roles,
    labels: n.labels,
    api: headApi(config, n),
  });
  const networkKey = config.mesh.privateNetworkKeyFile
    ? await readNetworkKey(config.mesh.privateNetworkKeyFile)
    : undefined;
  const mesh = new Mesh({
    ...(networkKey ? { networkKey } : {}),
    cluster,
    self: meshSelf(self),
    port: config.mesh.port,
    bootstrap: config.mesh.bootstrap,
    heartbeatMs: config.mesh.heartbeatMs,
    timing: config.mesh,
    privateKey,
    incarnation,
    log: log.child({ part: 'mesh' }),
    onEvent: (e) => events.emit('member', e),
  });
  await mesh.start();
  // Peers last seen in etcd: dialled at once, so a start without etcd still finds the mesh.
  const peers: PeersCache = await readPeersCache(self.workspace);
  for (const addrs of Object.values(peers)) mesh.addKnownPeers(addrs);
  let peersDirty: NodeJS.Timeout | undefined;
  const rememberPeer = (name: string, addrs: string[]) => {
    if (peers[name]?.join() === addrs.join()) return;
    peers[name] = addrs;
    peersDirty ??= setTimeout(() => {
      peersDirty = undefined;
      writePeersCache(self.workspace, peers).catch((err) =>
        log.warn({ err: String(err) }, 'peers cache write failed'),
      );
    }, 1000);
  };

  // 4. Node record under the agent's lease.
  const etcd = boot.etcd;
  const record = (): NodeRecord => buildRecord(self, facts, mesh, incarnation, headApi(config, self));
  let regState: { state: RegistrationState; reason?: string } = { state: 'registering' };
  const alive = new AliveRecords(etcd, cluster, nodeName, log.child({ part: 'alive' }));
  const recorder = new EventRecorder(
    etcd,
    cluster,
    { component: 'nokube-agent', host: nodeName },
    log.child({ part: 'events' }),
  );
  const registration = new NodeRegistration(etcd, cluster, record(), {
    onLease: (lease) => alive.attach(lease),
    onRegistered: () => events.emit('registered'),
    onKeepalive: (failure) => (failure ? etcdOutage.failed(failure) : etcdOutage.ok()),
    onState(state, reason) {
      // Entering degraded is worth a line; each retry after it is the outage log's to report.
      const entering = regState.state !== state;
      regState = reason ? { state, reason } : { state };
      if (state === 'degraded')
        log[entering ? 'warn' : 'debug']({ reason }, 'etcd degraded: node record not kept alive; retrying');
      else if (state === 'registered') log.info('node registered in etcd');
    },
  });

  // 5. Watches: config changes apply live; node records feed the mesh's peer list.
  const applyConfig = (text: string, version: number) => {
    let next: ClusterConfig;
    try {
      next = validateConfigText(text, keys.config(cluster)).config;
    } catch (err) {
      log.error(
        { err: err instanceof ConfigError ? err.message : String(err) },
        'ignoring invalid config in etcd',
      );
      return;
    }
    const nextSelf = next.nodes.find((n) => n.name === nodeName);
    if (!nextSelf) {
      log.error(
        `node "${nodeName}" was removed from the cluster config; keeping the last config until stopped`,
      );
      return;
    }
    config = next;
    configVersion = version;
    self = nextSelf;
    mesh.updateSelf(meshSelf(self));
    mesh.setTiming(config.mesh.heartbeatMs, config.mesh);
    mesh.addKnownPeers(config.mesh.bootstrap);
    registration.update(record()).catch((err) => logEtcdFailure(log, err, {}, 'node record update failed'));
    writeConfigCache(self.workspace, text).catch((err) =>
      log.warn({ err: String(err) }, 'config cache write failed'),
    );
    log.info({ version }, 'config applied');
    events.emit('config', { config, version });
  };
  const resyncConfig = () => {
    readConfig(etcd, cluster).then(
      (stored) => {
        if (stored && stored.version !== configVersion) applyConfig(stored.text, stored.version);
      },
      (err) => logEtcdFailure(log, err, {}, 'config resync failed'),
    );
  };
  const onNodePut = (value: string) => {
    const node = JSON.parse(value) as NodeRecord;
    if (node.name !== nodeName) {
      mesh.addKnownPeers(node.multiaddrs);
      rememberPeer(node.name, node.multiaddrs);
    }
    events.emit('node', { type: 'put', node });
  };
  /** Our record is gone but our lease lives: a head judged us dead (we were paused, or cut off from the
   * mesh). We are not: put it back. */
  const reassert = () =>
    registration.reassert().then(
      () => log.warn('our node record was removed on a verdict that we were dead: put back'),
      (err) => log.warn({ err: shortReason(err) }, 'putting our node record back failed'),
    );
  const resyncNodes = () => {
    etcd
      .getAll()
      .prefix(keys.nodesPrefix(cluster))
      .strings()
      .then(
        (all) => {
          for (const v of Object.values(all)) onNodePut(v);
          if (!all[keys.node(cluster, nodeName)] && registration.state === 'registered') void reassert();
        },
        (err) => logEtcdFailure(log, err, {}, 'node resync failed'),
      );
  };
  const configWatcher = watchRange(etcd, { key: keys.config(cluster) }, log, {
    put: (kv) => applyConfig(kv.value.toString('utf8'), Number(kv.version)),
    resync: resyncConfig,
  });
  const nodeWatcher = watchRange(etcd, { prefix: keys.nodesPrefix(cluster) }, log, {
    put: (kv) => onNodePut(kv.value.toString('utf8')),
    delete: (key) => {
      if (keyLeaf(key) === nodeName && registration.state === 'registered') void reassert();
      events.emit('node', { type: 'delete', name: keyLeaf(key) });
    },
    resync: resyncNodes,
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
    config: () => config,
    configVersion: () => configVersion,
    self: () => self,
    status: () => ({
      node: nodeName,
      cluster,
      version: VERSION,
      incarnation,
      etcd:
        registration.keepaliveMs === undefined
          ? regState
          : { ...regState, latencyMs: registration.keepaliveMs },
      configVersion,
      mesh: {
        peerId: mesh.peerId,
        multiaddrs: mesh.multiaddrs,
        connections: mesh.connectedPeers(),
        members: mesh.table.counts(),
      },
    }),
  };

  // 6. Parts: the workloads of this node (pods on Docker), then extra parts (the head's).
  const started: Array<{ name: string; stop(): Promise<void> }> = [];
  try {
    for (const part of [...(await builtInParts()), ...(opts.parts ?? [])]) {
      const running = await part.start(ctx);
      if (running) started.push({ name: part.name, stop: () => running.stop() });
    }
    // Registered last: the record advertises the head API, so it must be listening by then.
    if (boot.from === 'etcd') await registration.start();
    else registration.startInBackground();
  } catch (err) {
    // Undo what started, without a leave: this agent never fully joined.
    for (const p of started.reverse()) await p.stop().catch(() => undefined);
    await mesh.stop(false);
    await Promise.all([configWatcher.cancel(), nodeWatcher.cancel()]).catch(() => undefined);
    await registration.stop();
    alive.stop();
    recorder.stop();
    loopLag.stop();
    etcd.close();
    throw err;
  }
  log.info(
    { peerId: mesh.peerId, addrs: mesh.multiaddrs, from: boot.from, version: VERSION },
    'agent started',
  );

  let stopped = false;
  return {
    ctx,
    async stop() {
      if (stopped) return;
      stopped = true;
      for (const p of started.reverse())
        await p.stop().catch((err) => log.warn({ err: String(err), part: p.name }, 'part stop failed'));
      clearTimeout(peersDirty);
      await mesh.stop(true);
      await Promise.all([configWatcher.cancel(), nodeWatcher.cancel()]).catch(() => undefined);
      await withTimeout(recorder.flush(), 2000, 'events flush timed out').catch(() => undefined);
      await registration.stop();
      alive.stop();
      recorder.stop();
      loopLag.stop();
      etcd.close();
      log.info('agent stopped');
    },
  };
}

/** Parts every agent runs. Loaded lazily so client commands do not pay for them. */
async function builtInParts(): Promise<AgentPart[]> {
  const [{ podStreamsPart }, { podsPart }, { logsPart }, { metricsPart }, { summaryPart }] =
    await Promise.all([
      import('./remote/stream-server.ts'),
      import('./pods/part.ts'),
      import('./telemetry/logs/part.ts'),
      import('./telemetry/metrics-part.ts'),
      import('./telemetry/summary.ts'),
    ]);
  // Logs first: it sees the other parts' start-up lines and is stopped last.
  return [logsPart, podsPart, podStreamsPart, summaryPart, metricsPart];
}

interface BootConfig {
  etcd: Etcd3;
  config: ClusterConfig;
  text: string;
  version: number | null;
  from: 'etcd' | 'cache';
}

async function loadBootConfig(
  source: ConfigSource,
  opts: AgentOptions,
  outage: OutageLog,
): Promise<BootConfig> {
  const where = keys.config(source.cluster);
  let etcd: Etcd3;
  try {
    etcd = await connectEtcd(source.etcd, { outage });
  } catch (err) {
    if (!(err instanceof EtcdUnreachableError)) throw err;
    // Only a first start with nothing cached fails fast; a restart runs on what it last knew.
    const workspace =
      opts.workspace ?? (source.file ? await workspaceFromFile(source, opts.nodeName) : undefined);
    const cached = workspace ? await readConfigCache(workspace) : null;
    if (!cached)
      throw new AgentStartError(`${err.message}; no cached config to start from (first start needs etcd)`);
    opts.log.warn({ reason: err.message }, 'etcd unreachable: starting from the cached config, degraded');
    const { config } = validateConfigText(cached, `${workspace}/agent/config-cache.yaml`);
    const etcd = await createEtcd(source.etcd, { outage });
    return { etcd, config, text: cached, version: null, from: 'cache' };
  }
  const stored = await readConfig(etcd, source.cluster);
  if (!stored) {
    etcd.close();
    throw new AgentStartError(
      `cluster "${source.cluster}" has no config in etcd (key ${where}); store one first: nokube new-or-update <cluster.yaml>`,
    );
  }
  const { config } = validateConfigText(stored.text, where);
  return { etcd, config, text: stored.text, version: stored.version, from: 'etcd' };
}

async function workspaceFromFile(source: ConfigSource, nodeName: string): Promise<string | undefined> {
  const { config } = await loadConfigFile(source.file!);
  return config.nodes.find((n) => n.name === nodeName)?.workspace;
}

function findSelf(config: ClusterConfig, nodeName: string, from: string): NodeConfig {
  const self = config.nodes.find((n) => n.name === nodeName);
  if (!self) {
    const names = config.nodes.map((n) => n.name).join(', ');
    throw new AgentStartError(
      `node "${nodeName}" is not in the cluster config (from ${from}); nodes are: ${names}`,
    );
  }
  return self;
}

function buildRecord(
  self: NodeConfig,
  facts: NodeFacts,
  mesh: Mesh,
  incarnation: number,
  api?: string,
): NodeRecord {
  const rec: NodeRecord = {
    name: self.name,
    address: self.address,
    roles: self.roles,
    labels: self.labels,
    peerId: mesh.peerId,
    multiaddrs: mesh.multiaddrs,
    capacity: facts,
    agentVersion: VERSION,
    startedAt: new Date(incarnation).toISOString(),
    incarnation,
  };
  if (api) rec.api = api;
  return rec;
}

/** A watch that never blocks start-up: it connects (and reconnects) in the background and calls
 * `resync` each time it is connected, so nothing that changed while it was away is missed. */
function watchRange(
  etcd: Etcd3,
  range: { key: string } | { prefix: string },
  log: Logger,
  on: {
    put(kv: { key: Buffer; value: Buffer; version: string }): void;
    delete?(key: string): void;
    resync(): void;
  },
): Watcher {
  const builder = 'key' in range ? etcd.watch().key(range.key) : etcd.watch().prefix(range.prefix);
  const watcher = builder.watcher();
  watcher.on('connected', () => on.resync());
  watcher.on('put', (kv) => on.put(kv));
  watcher.on('delete', (kv) => on.delete?.(kv.key.toString('utf8')));
  watcher.on('error', (err) => log.warn({ err: shortReason(err), range }, 'watch error'));
  return watcher;
}
