// `nokube up` / `nokube down`: a cluster on this machine. etcd (started here when the config's etcd is
// on loopback and not running), the config stored, and one agent per node whose address is local.
// Everything started is recorded in <dir>/pids.json; Ctrl-C or `nokube down` stops all of it.
import { existsSync } from 'node:fs';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { networkInterfaces } from 'node:os';
import { join, resolve } from 'node:path';
import type { ClusterConfig } from '../../../agent/config/schema.ts';
import { loadConfigFile } from '../../../agent/config/validate.ts';
import { headApiUrl } from '../../../agent/net/urls.ts';
import {
  alive,
  type Child,
  exitedError,
  isEtcdUp,
  selfCommand,
  spawnLogged,
  startEtcd,
  waitForEtcd,
} from '../../../agent/op/processes.ts';
import { LABEL } from '../../../agent/runtime/labels.ts';
import { ensureKeyringFile } from '../../../agent/secrets/keyring.ts';
import { storeConfig } from '../../../agent/store/config-store.ts';
import { connectEtcd } from '../../../agent/store/etcd.ts';
import { listNodes, recordServing } from '../../../agent/store/node-registry.ts';
import { pkiNodeFiles } from '../../../agent/tls/layout.ts';
import { clientContextOf, saveContext } from '../context.ts';
import { secretsKeyFile } from '../secrets/key-file.ts';

export interface UpOptions {
  dir: string;
  clusterFile?: string;
  etcdPort: number;
  headPort: number;
  meshPort: number;
  agentPort: number;
  detach: boolean;
  readyTimeoutMs: number;
  say(line: string): void;
  /** Aborted (Ctrl-C during start-up): what was started so far is stopped and up() rejects with the
   * signal's reason. */
  signal?: AbortSignal;
}

/** With config tls, a local agent reads its files straight from tls.dir (nothing to upload here). */
function tlsArgs(config: ClusterConfig, node: string): string[] {
  if (!config.tls) return [];
  const f = pkiNodeFiles(config.tls.dir, node);
  return ['--tls-ca', f.ca, '--tls-cert', f.cert, '--tls-key', f.key];
}

interface PidFile {
  etcd?: number;
  agents: Record<string, number>;
  /** The cluster whose containers on this machine `down` removes (agents leave pods running on stop). */
  cluster?: string;
}

export const localClusterYaml = (
  workspace: string,
  p: Pick<UpOptions, 'etcdPort' | 'headPort' | 'meshPort' | 'agentPort'>,
) => `# Written by \`nokube up\`: a one-host cluster. Edit and re-run \`nokube up -f\` on it, or use \`nokube config\`.
cluster: local
etcd:
  endpoints: [http://127.0.0.1:${p.etcdPort}]
agent:
  port: ${p.agentPort}
head:
  port: ${p.headPort}
mesh:
  port: ${p.meshPort}
network:                        # each pod its own IP (README "Pod network"); mode: host puts pods on the host network
  podCidr: 10.42.0.0/16
nodes:
  - name: local
    address: 127.0.0.1
    roles: [head, worker]
    labels: {}
    workspace: ${workspace}
`;

export async function up(opts: UpOptions): Promise<{ stop(): Promise<void>; done: Promise<void> }> {
  // Once interrupted, steps still in flight do not report: the last lines say what was stopped.
  const say = (line: string) => {
    if (!opts.signal?.aborted) opts.say(line);
  };
  const dir = resolve(opts.dir);
  await mkdir(dir, { recursive: true });
  const pidPath = join(dir, 'pids.json');
  const running = await readPids(pidPath);
  if (running && anyAlive(running)) {
    throw new Error(
      `a local cluster is already running from ${dir}; stop it first: nokube down --dir ${opts.dir}`,
    );
  }
  let file = opts.clusterFile;
  if (!file) {
    file = join(dir, 'cluster.yaml');
    await writeFile(file, localClusterYaml(join(dir, 'workspace'), opts));
    say(`wrote ${file}`);
  }
  const { config, text } = await loadConfigFile(file);
  const locals = config.nodes.filter((n) => isLocalAddress(n.address));
  if (locals.length === 0)
    throw new Error(`${file}: no node has an address of this machine; nothing to start here`);

  // The secrets keyring: made at the first bring-up; the agents here read (and watch) this very file.
  const keyFile = secretsKeyFile(config);
  if ((await ensureKeyringFile(keyFile)).created)
    say(`wrote the secrets key ${keyFile} (keep it: it decrypts the Secrets)`);

  const children: Child[] = [];
  const pids: PidFile = { agents: {}, cluster: config.cluster };
  const stopAll = async () => {
    await stopPids(pids);
    await rm(pidPath, { force: true });
  };
  const checkpoint = () => opts.signal?.throwIfAborted();
  try {
    checkpoint();
    const endpoint = config.etcd.endpoints[0]!;
    if (!(await isEtcdUp(endpoint))) {
      const host = new URL(endpoint).hostname;
      if (!isLocalAddress(host))
        throw new Error(`etcd at ${endpoint} is unreachable and not on this machine (etcd.endpoints)`);
      const etcd = await startEtcd(endpoint, dir, opts.detach);
      children.push(etcd);
      pids.etcd = etcd.process.pid!;
      await writePids(pidPath, pids);
      await waitForEtcd(endpoint, etcd, 15_000, opts.signal);
      say(`etcd started at ${endpoint} (data ${join(dir, 'etcd')}, log ${etcd.log})`);
    } else say(`etcd already running at ${endpoint}`);

    const etcd = await connectEtcd(config.etcd);
    try {
      const res = await storeConfig(etcd, text, file, 'nokube up', 'latest');
      say(`config of cluster "${config.cluster}" ${res.outcome} (version ${res.version})`);
    } finally {
      etcd.close();
    }
    await saveContext(clientContextOf(config));
    checkpoint();

    const [cmd, baseArgs] = selfCommand();
    // The agents' incarnation is their start time: a record from before this is a previous run's, which
    // etcd restored with its lease after a restart (no process serves it).
    const since = Date.now();
    for (const node of locals) {
      const child = await spawnLogged(
        `agent-${node.name}`,
        cmd,
        [
          ...baseArgs,
          'agent',
          '--config',
          resolve(file),
          '--node',
          node.name,
          ...tlsArgs(config, node.name),
          '--secrets-key',
          keyFile,
        ],
        join(dir, 'logs'),
        opts.detach,
      );
      children.push(child);
      pids.agents[node.name] = child.process.pid!;
      await writePids(pidPath, pids);
      checkpoint();
    }
    await waitForNodes(
      config,
      locals.map((n) => n.name),
      since,
      children,
      opts.readyTimeoutMs,
      opts.signal,
    );
    say(`agents ready: ${locals.map((n) => n.name).join(', ')} (logs in ${join(dir, 'logs')})`);
    const heads = locals.filter((n) => n.roles.includes('head'));
    for (const h of heads) say(`head API: ${headApiUrl(config, h)}`);
  } catch (err) {
    await stopAll();
    throw opts.signal?.aborted ? opts.signal.reason : err;
  }

  let resolveDone: () => void;
  const done = new Promise<void>((r) => {
    resolveDone = r;
  });
  if (!opts.detach) {
    for (const c of children) {
      c.process.on('exit', (code, signal) => {
        if (code !== 0 && signal === null) say(`${c.name} exited with code ${code}; see ${c.log}`);
      });
    }
  }
  return {
    async stop() {
      await stopAll();
      resolveDone();
    },
    done,
  };
}

export async function down(dirOpt: string, say: (l: string) => void): Promise<void> {
  const dir = resolve(dirOpt);
  const pidPath = join(dir, 'pids.json');
  const pids = await readPids(pidPath);
  if (!pids) {
    say(`nothing to stop: no ${pidPath}`);
    return;
  }
  await stopPids(pids);
  await rm(pidPath, { force: true });
  say(`stopped the local cluster in ${dir}`);
}

/** Until each of `names` is registered by an agent started at or after `since` (as new-or-update's
 * waitReady), a head's record naming its API (it listens then). */
async function waitForNodes(
  config: ClusterConfig,
  names: string[],
  since: number,
  children: Child[],
  timeoutMs: number,
  signal: AbortSignal | undefined,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const etcd = await connectEtcd(config.etcd);
  try {
    while (Date.now() < deadline) {
      signal?.throwIfAborted();
      const dead = children.find((c) => c.process.exitCode !== null);
      if (dead) throw await exitedError(dead);
      const registered = new Set(
        (await listNodes(etcd, config.cluster))
          .filter((n) => n.incarnation >= since && recordServing(n))
          .map((n) => n.name),
      );
      if (names.every((n) => registered.has(n))) return;
      await new Promise((r) => setTimeout(r, 200));
    }
    throw new Error(
      `agents not registered within ${timeoutMs} ms; see ${children.map((c) => c.log).join(', ')}`,
    );
  } finally {
    etcd.close();
  }
}

export function isLocalAddress(address: string): boolean {
  if (address === 'localhost' || address === '::1' || address.startsWith('127.')) return true;
  return Object.values(networkInterfaces()).some((list) => list?.some((i) => i.address === address));
}

async function readPids(file: string): Promise<PidFile | null> {
  if (!existsSync(file)) return null;
  return JSON.parse(await readFile(file, 'utf8')) as PidFile;
}

/** Written whole or not at all (temp file, then rename): `down`, or a test, reading it meanwhile never
 * sees half a file. */
async function writePids(file: string, pids: PidFile): Promise<void> {
  await writeFile(`${file}.tmp`, JSON.stringify(pids, null, 2) + '\n');
  await rename(`${file}.tmp`, file);
}

function anyAlive(p: PidFile): boolean {
  return [p.etcd, ...Object.values(p.agents)].some((pid) => pid !== undefined && alive(pid));
}

/** SIGTERM agents (they leave the mesh), remove the pods' containers they leave running (an agent
 * stop alone keeps workloads up: edge autonomy), then etcd; SIGKILL what lingers. */
async function stopPids(p: PidFile): Promise<void> {
  await terminate(Object.values(p.agents), 10_000);
  if (p.cluster && Object.keys(p.agents).length > 0) {
    await removeContainers(p.cluster, Object.keys(p.agents));
    // The pod network's gateway device and nftables table of each node (none with network.mode host).
    const { removeNodeNetwork } = await import('../../../agent/podnet/teardown.ts');
    for (const node of Object.keys(p.agents)) await removeNodeNetwork(p.cluster, node).catch(() => undefined);
  }
  if (p.etcd !== undefined) await terminate([p.etcd], 10_000);
}

async function removeContainers(cluster: string, nodes: string[]): Promise<void> {
  const { default: Docker } = await import('dockerode');
  const docker = new Docker();
  const found = await docker
    .listContainers({ all: true, filters: { label: [`${LABEL.cluster}=${cluster}`] } })
    .catch(() => []); // no engine: no containers of ours either
  const ours = found.filter((c) => nodes.includes(c.Labels[LABEL.node] ?? ''));
  await Promise.all(
    ours.map((c) =>
      docker
        .getContainer(c.Id)
        .remove({ force: true })
        .catch(() => undefined),
    ),
  );
}

async function terminate(pids: number[], graceMs: number): Promise<void> {
  const live = pids.filter(alive);
  for (const pid of live) process.kill(pid, 'SIGTERM');
  const deadline = Date.now() + graceMs;
  while (live.some(alive) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  for (const pid of live.filter(alive)) process.kill(pid, 'SIGKILL');
}
