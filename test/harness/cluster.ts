import assert from 'node:assert/strict';
// A test cluster on one machine: a real etcd, a config whose nodes sit on distinct loopback addresses
// (127.0.<net>.<i>, all routed to lo on Linux) or on the addresses given (the fault tests' netns hosts),
// and agents as separate processes of the real CLI (or of a given binary, started through a wrapper
// such as `ip netns exec <ns>`).
import { type ChildProcess, spawn } from 'node:child_process';
import { appendFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Etcd3 } from 'etcd3';
import { ensureKeyringFile } from '../../agent/secrets/keyring.ts';
import { storeConfig } from '../../agent/store/config-store.ts';
import { connectEtcd } from '../../agent/store/etcd.ts';
import { keys } from '../../agent/store/keys.ts';
import { pkiNodeFiles } from '../../agent/tls/layout.ts';
import { startTestEtcd, type TestEtcd } from './etcd.ts';
import { freePorts } from './ports.ts';

export const REPO = new URL('../../', import.meta.url).pathname;
export const ENTRY = join(REPO, 'head/cli/main.ts');

/** The command that runs the CLI: NOKUBE_BIN (the built binary) when set, else node + the entry. */
export function cliCommand(): [string, string[]] {
  const bin = process.env.NOKUBE_BIN;
  return bin ? [bin, []] : [process.execPath, [ENTRY]];
}

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export function runCli(
  args: string[],
  env: Record<string, string> = {},
  input?: string | Uint8Array,
): Promise<CliResult> {
  const [cmd, base] = cliCommand();
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, [...base, ...args], {
      env: { ...process.env, ...env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => {
      stdout += d;
    });
    child.stderr.on('data', (d) => {
      stderr += d;
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(input ?? '');
  });
}

/** `nokube` against a test cluster: `cli` gives the result, `ok` asserts exit 0 and gives stdout. The
 * cluster is asked for at each call (suites make it in `before`). */
export function clusterCli(cluster: () => TestCluster) {
  const cli = (args: string[], input?: string) => runCli(args, cluster().env, input);
  const ok = async (args: string[], input?: string) => {
    const r = await cli(args, input);
    assert.equal(r.code, 0, `nokube ${args.join(' ')}: ${r.stdout}${r.stderr}`);
    return r.stdout;
  };
  return { cli, ok };
}

export interface TestNode {
  name: string;
  address: string;
  roles: Array<'head' | 'worker'>;
  labels?: Record<string, string>;
  /** nodes[].dockerSocket: the node's own Docker engine (a netns test host's, test/harness/host-docker.ts). */
  dockerSocket?: string;
  /** More fields of the node's entry (reserved, maxPods, taints), each written as `key: <JSON>`. */
  fields?: Record<string, unknown>;
}

export interface AgentProcess {
  name: string;
  process: ChildProcess;
  output(): string;
  /** Resolves with the exit code. */
  exited: Promise<number | null>;
  kill(signal: NodeJS.Signals): Promise<number | null>;
}

export interface TestCluster {
  name: string;
  etcd: TestEtcd;
  dir: string;
  configFile: string;
  /** The secrets keyring every agent is started with. */
  secretsKeyFile: string;
  headPort: number;
  meshPort: number;
  nodes: TestNode[];
  agents: Map<string, AgentProcess>;
  env: Record<string, string>;
  configYaml(nodes?: TestNode[], extra?: string): string;
  startAgent(name: string, extraArgs?: string[]): Promise<AgentProcess>;
  headUrl(): string;
  /** A node's own agent HTTP server (agent.port: /metrics, /healthz). */
  agentUrl(node: string): string;
  /** Run `fn` with a client of the cluster's etcd, closed afterwards. */
  withEtcd<T>(fn: (etcd: Etcd3) => Promise<T>): Promise<T>;
  stop(): Promise<void>;
}

let clusterCount = 0;

/** `net` picks the second octet block (127.<net>.x.y) so parallel test files never share addresses.
 * `nodes` as a list: those names, addresses and roles (then `net` and `heads` are not used). */
export async function createTestCluster(opts: {
  nodes: number | TestNode[];
  heads?: number;
  net?: number;
  /** Where etcd listens (default 127.0.0.1). */
  etcdHost?: string;
  /** The binary agents run (default: cliCommand()). */
  bin?: string;
  /** A command prefix for a node's agent, e.g. `ip netns exec <ns>` to run it in its host's namespace. */
  wrap?: (node: string) => string[];
  heartbeatMs?: number;
  store?: boolean;
  /** Extra lines inside the `mesh:` section of the config. */
  meshExtra?: string;
  /** The cluster name is `<prefix><pid>-<n>` (default prefix `t`). */
  namePrefix?: string;
  /** Top-level sections of the config (e.g. a `network:` section), before `nodes:`. Without a `network:`
   * section of their own the agents share one kernel (loopback addresses), so pods are on the host
   * network (`network: {mode: host}` is written). */
  sections?: string;
}): Promise<TestCluster> {
  const etcd = await startTestEtcd(opts.etcdHost);
  const dir = await mkdtemp(join(tmpdir(), 'nokube-test-cluster-'));
  const name = `${opts.namePrefix ?? 't'}${process.pid}-${clusterCount++}`;
  const nodes =
    typeof opts.nodes === 'number' ? loopbackNodes(opts.nodes, opts.heads ?? 1, opts.net) : opts.nodes;
  // One port of each kind serves every node (each has its own address). Free on every address: a
  // wildcard bind fails where any address holds the port (another file's cluster on the same addresses).
  const [headPort, meshPort, agentPort] = (await freePorts(3, '0.0.0.0')) as [number, number, number];
  const configYaml = (list = nodes, sections = opts.sections ?? '') => {
    const extra = /^network:/m.test(sections) ? sections : `${sections}network:\n  mode: host\n`;
    const nodeLines = list
      .map(
        (n) =>
          `  - name: ${n.name}\n    address: ${n.address}\n    roles: [${n.roles.join(', ')}]\n    labels: ${JSON.stringify(n.labels ?? {})}\n    workspace: ${join(dir, 'ws', n.name)}\n${n.dockerSocket ? `    dockerSocket: ${n.dockerSocket}\n` : ''}${Object.entries(
            n.fields ?? {},
          )
            .map(([k, v]) => `    ${k}: ${JSON.stringify(v)}\n`)
            .join('')}`,
      )
      .join('');
    const hb = (opts.heartbeatMs ? `  heartbeatMs: ${opts.heartbeatMs}\n` : '') + (opts.meshExtra ?? '');
    return `cluster: ${name}\netcd:\n  endpoints: [${etcd.url}]\nagent:\n  port: ${agentPort}\nhead:\n  port: ${headPort}\nmesh:\n  port: ${meshPort}\n${hb}${extra}nodes:\n${nodeLines}`;
  };
  const configFile = join(dir, 'cluster.yaml');
  await writeFile(configFile, configYaml());
  if (opts.store !== false) {
    const client = await connectEtcd({ endpoints: [etcd.url], dialTimeoutMs: 5000 });
    await storeConfig(client, configYaml(), configFile, 'test', 'latest');
    client.close();
  }
  const env = { NOKUBE_HOME: join(dir, 'home'), NOKUBE_ETCD: etcd.url, NOKUBE_CLUSTER: name };
  // The secrets keyring where `up` makes it ($NOKUBE_HOME/keys/<cluster>.json), given to every agent as
  // `up` does: the CLI's `secrets` commands and the agents share it.
  const secretsKeyFile = join(env.NOKUBE_HOME, 'keys', `${name}.json`);
  await ensureKeyringFile(secretsKeyFile);
  const agents = new Map<string, AgentProcess>();
  const cluster: TestCluster = {
    name,
    etcd,
    dir,
    configFile,
    secretsKeyFile,
    headPort,
    meshPort,
    nodes,
    agents,
    env,
    configYaml,
    async startAgent(node, extraArgs = []) {
      const [bin, binArgs] = opts.bin ? [opts.bin, []] : cliCommand();
      const [cmd, ...base] = [...(opts.wrap?.(node) ?? []), bin, ...binArgs];
      const args = ['agent', '--config', configFile, '--node', node, '--secrets-key', secretsKeyFile];
      // NOKUBE_TEST_LOG_LEVEL: the agents' log level (info unless given; debug to follow a fault).
      const child = spawn(cmd!, [...base, ...args, ...extraArgs], {
        env: { ...process.env, ...env, NOKUBE_LOG_LEVEL: process.env.NOKUBE_TEST_LOG_LEVEL ?? 'info' },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let out = '';
      // NOKUBE_TEST_LOG_DIR: each agent's whole output is kept there too (one file per cluster and node).
      const logDir = process.env.NOKUBE_TEST_LOG_DIR;
      const logFile = logDir ? join(logDir, `${name}-${node}.log`) : undefined;
      const collect = (d: Buffer) => {
        out = (out + d).slice(-200_000);
        if (logFile) appendFileSync(logFile, d);
      };
      child.stdout!.on('data', collect);
      child.stderr!.on('data', collect);
      const exited = new Promise<number | null>((r) =>
        child.once('exit', (code, signal) => {
          // An agent that dies on its own is a finding: show its last words.
          if (signal === null && code !== 0 && !process.env.NOKUBE_TEST_QUIET) {
            process.stderr.write(`agent ${node} exited with code ${code}:\n${out.slice(-3000)}\n`);
          }
          r(code);
        }),
      );
      const agent: AgentProcess = {
        name: node,
        process: child,
        output: () => out,
        exited,
        async kill(signal) {
          if (child.exitCode === null && child.signalCode === null) child.kill(signal);
          return exited;
        },
      };
      agents.set(node, agent);
      return agent;
    },
    headUrl() {
      const head = nodes.find((n) => n.roles.includes('head'))!;
      return `http://${head.address}:${headPort}`;
    },
    agentUrl(node) {
      return `http://${nodes.find((n) => n.name === node)!.address}:${agentPort}`;
    },
    async withEtcd(fn) {
      const client = await connectEtcd({ endpoints: [etcd.url], dialTimeoutMs: 3000 });
      try {
        return await fn(client);
      } finally {
        client.close();
      }
    },
    async stop() {
      await Promise.all([...agents.values()].map((a) => a.kill('SIGKILL')));
      // Loaded here: docker.ts imports this file.
      const { removeClusterContainers } = await import('./docker.ts');
      await removeClusterContainers(name);
      // The pod network's bridge and table of each node (only clusters with a network section have any).
      const { removeNodeNetwork } = await import('../../agent/podnet/teardown.ts');
      for (const n of nodes) await removeNodeNetwork(name, n.name).catch(() => undefined);
      await etcd.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
  return cluster;
}

function loopbackNodes(count: number, heads: number, net: number | undefined): TestNode[] {
  if (net === undefined) throw new Error('createTestCluster: `net` is needed for loopback addresses');
  return Array.from({ length: count }, (_, i) => ({
    name: `n${i + 1}`,
    address: `127.${net}.${Math.floor((i + 1) / 250)}.${((i + 1) % 250) + 1}`,
    roles: i < heads ? ['head', 'worker'] : ['worker'],
  }));
}

/** Poll until `check` returns a truthy value, or fail with the last error/value after `timeoutMs`. */
export async function eventually<T>(
  check: () => Promise<T | undefined | false> | T | undefined | false,
  timeoutMs: number,
  what: string,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v) return v;
      last = v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline)
      throw new Error(
        `timed out after ${timeoutMs} ms waiting for ${what}; last: ${last instanceof Error ? last.message : JSON.stringify(last)}`,
      );
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Starts every node's agent and waits until the CLI lists them all Ready and the head's object API
 * answers (`get nodes` lists the config's nodes even before they register; object commands go through
 * the head). Generous by default: each CLI call is a Node start, seconds on a loaded machine. */
export async function startAgentsReady(c: TestCluster, timeoutMs = 90_000): Promise<void> {
  for (const n of c.nodes) await c.startAgent(n.name);
  await agentsReady(c, timeoutMs);
}

/** Until every node of `c` is Ready and the head API answers (the agents started already). */
export async function agentsReady(c: TestCluster, timeoutMs = 90_000): Promise<void> {
  await eventually(
    async () => {
      const r = await runCli(['get', 'nodes', '-o', 'json'], c.env);
      if (r.code !== 0) return false;
      const items = (JSON.parse(r.stdout) as { items: Array<{ status: { phase: string } }> }).items;
      return (
        items.filter((n) => n.status.phase === 'Ready').length === c.nodes.length &&
        (await runCli(['get', 'pods'], c.env)).code === 0
      );
    },
    timeoutMs,
    `${c.nodes.length} nodes Ready and the head API answering`,
  );
}

export async function getJson<T>(url: string): Promise<T> {
  const res = await fetch(url, { signal: AbortSignal.timeout(3000) });
  if (!res.ok) throw new Error(`${url}: HTTP ${res.status}`);
  return (await res.json()) as T;
}

/** An agent's `--tls-*` flags for `node`'s files in tls.dir `dir` (as `nokube up` passes them). */
export function tlsAgentFlags(dir: string, node: string): string[] {
  const f = pkiNodeFiles(dir, node);
  return ['--tls-ca', f.ca, '--tls-cert', f.cert, '--tls-key', f.key];
}

/** Every key of the cluster with its revision and value: a refused call leaves it exactly so. */
export function clusterKeyValues(c: TestCluster): Promise<Record<string, string>> {
  return c.withEtcd(async (etcd) => {
    const kvs = (await etcd.getAll().prefix(keys.cluster(c.name)).exec()).kvs;
    return Object.fromEntries(kvs.map((kv) => [kv.key.toString(), `${kv.mod_revision} ${kv.value}`]));
  });
}
