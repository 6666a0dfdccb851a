// bench/security: what TLS + ACL cost, on two one-host clusters side by side (real etcd, no Docker needed):
// "open" (plain HTTP, ACL off: the quick start) and "secure" (config `tls`: the head API over HTTPS with
// the node's certificate, the CLI verifying it against the cluster CA; `acl.enabled`, a management token
// on every request, read from etcd each time). Prints, in turns (open, secure, open, ...) so the machine's
// other load falls on both alike:
//   - `GET /api/v1/objects/pods` (what `nokube get pods` asks) one at a time over one kept-alive
//     connection, p50/p95, and an apply of N ConfigMaps in one request (changed each round, so each writes);
//   - the CLI itself: `nokube get pods` and `nokube apply -f` of the same N objects, p50/p95 of whole
//     runs (process start, context, TLS handshake, token);
// and each head agent's idle CPU over the same window, before and after that load (utime + stime from
// /proc/<pid>/stat).
//   node bench/security.ts [--requests 300] [--objects 50] [--cli-runs 10] [--turns 3] [--idle-seconds 45] [--bin dist/nokube]
// No assertions: figures for the README (bench/security). Not in these figures: etcd over TLS (the
// harness's etcd is plain) and client certificates (the CLI sends none yet).
import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { storeConfig } from '../agent/store/config-store.ts';
import { pkiNodeFiles } from '../agent/tls/layout.ts';
import { bootstrapAcl } from '../head/acl/store.ts';
import { headTls } from '../head/cli/head-tls.ts';
import { createTestCluster, eventually, runCli, type TestCluster } from '../test/harness/cluster.ts';
import { cleanupOnSignals } from './cleanup.ts';

const { values } = parseArgs({
  options: {
    requests: { type: 'string', default: '300' },
    objects: { type: 'string', default: '50' },
    'cli-runs': { type: 'string', default: '10' },
    turns: { type: 'string', default: '3' },
    'idle-seconds': { type: 'string', default: '45' },
    bin: { type: 'string' },
  },
});
const REQUESTS = Number(values.requests);
const OBJECTS = Number(values.objects);
const CLI_RUNS = Number(values['cli-runs']);
const TURNS = Number(values.turns);
const IDLE_MS = Number(values['idle-seconds']) * 1000;
// The CLI runs as the agents do: the binary when given.
if (values.bin) process.env.NOKUBE_BIN = values.bin;
const CLK_TCK = 100;

const percentile = (xs: number[], p: number) =>
  [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) * p)]!;

interface Side {
  label: string;
  c: TestCluster;
  url: string;
  fetch: typeof fetch;
  headers: Record<string, string>;
  /** The CLI's environment (CA and token for the secure side). */
  env: Record<string, string>;
}

const clusters: TestCluster[] = [];
cleanupOnSignals(async () => {
  await Promise.all(clusters.map((c) => c.stop()));
});

async function open(): Promise<Side> {
  const c = await createTestCluster({ nodes: 1, net: 142, ...(values.bin ? { bin: values.bin } : {}) });
  clusters.push(c);
  await c.startAgent('n1');
  await eventually(async () => (await fetch(`${c.headUrl()}/readyz`)).ok, 60_000, 'open head ready');
  return { label: 'open', c, url: c.headUrl(), fetch, headers: {}, env: c.env };
}

async function secure(): Promise<Side> {
  const c = await createTestCluster({
    nodes: 1,
    net: 143,
    store: false,
    ...(values.bin ? { bin: values.bin } : {}),
  });
  clusters.push(c);
  const pki = join(c.dir, 'pki');
  const text = c.configYaml(undefined, `tls:\n  dir: ${pki}\nacl:\n  enabled: true\n`);
  await writeFile(c.configFile, text);
  await c.withEtcd((etcd) => storeConfig(etcd, text, c.configFile, 'bench', 'latest'));
  const init = await runCli(['tls', 'init', c.configFile], c.env);
  if (init.code !== 0) throw new Error(`nokube tls init: ${init.stderr}`);
  const token = await c.withEtcd(async (etcd) => (await bootstrapAcl(etcd, c.name)).secret);
  const ca = join(pki, 'ca.pem');
  const files = pkiNodeFiles(pki, 'n1');
  await c.startAgent('n1', ['--tls-ca', files.ca, '--tls-cert', files.cert, '--tls-key', files.key]);
  const url = c.headUrl().replace(/^http:/, 'https:');
  const tls = await headTls(ca);
  await eventually(async () => (await tls.fetch(`${url}/readyz`)).ok, 60_000, 'secure head ready');
  return {
    label: 'secure',
    c,
    url,
    fetch: tls.fetch,
    headers: { authorization: `Bearer ${token}` },
    env: { ...c.env, NOKUBE_CA: ca, NOKUBE_TOKEN: token },
  };
}

async function timed(n: number, once: (i: number) => Promise<void>): Promise<number[]> {
  const ms: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    await once(i);
    ms.push(performance.now() - t);
  }
  return ms;
}

const configMaps = (round: string) =>
  Array.from({ length: OBJECTS }, (_, j) => ({
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name: `bench-${j}` },
    data: { round },
  }));

async function request(s: Side, path: string, init: RequestInit = {}): Promise<void> {
  const res = await s.fetch(`${s.url}${path}`, {
    ...init,
    headers: { ...s.headers, ...(init.headers as Record<string, string>) },
  });
  await res.arrayBuffer();
  if (!res.ok) throw new Error(`${s.label} ${path}: HTTP ${res.status}`);
}

async function cli(s: Side, args: string[], input?: string): Promise<void> {
  const r = await runCli(args, s.env, input);
  if (r.code !== 0) throw new Error(`${s.label} nokube ${args.join(' ')}: ${r.stderr}`);
}

interface Figures {
  get: number[];
  apply: number[];
  cliGet: number[];
  cliApply: number[];
}

async function turn(s: Side, n: number): Promise<Figures> {
  const pods = '/api/v1/objects/pods?namespace=default';
  await timed(30, () => request(s, pods));
  const get = await timed(REQUESTS, () => request(s, pods));
  const apply = await timed(10, (i) =>
    request(s, '/api/v1/apply', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ documents: configMaps(`${s.label}-${n}-${i}`) }),
    }),
  );
  const cliGet = await timed(CLI_RUNS, () => cli(s, ['get', 'pods']));
  const cliApply = await timed(CLI_RUNS, (i) =>
    cli(
      s,
      ['apply', '-f', '-'],
      configMaps(`cli-${s.label}-${n}-${i}`)
        .map((o) => JSON.stringify(o))
        .join('\n---\n'),
    ),
  );
  const f = (xs: number[]) =>
    `p50 ${percentile(xs, 0.5).toFixed(1)} p95 ${percentile(xs, 0.95).toFixed(1)} ms`;
  console.log(
    `${s.label.padEnd(6)} turn ${n}: API get pods ${f(get)} | API apply ${OBJECTS} ${f(apply)} | CLI get pods ${f(cliGet)} | CLI apply ${OBJECTS} ${f(cliApply)}`,
  );
  return { get, apply, cliGet, cliApply };
}

function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) / CLK_TCK;
}

/** Each side's head agent's CPU (% of one core) over the same window of IDLE_MS, after `settleMs`. */
async function idleCpu(sides: Side[], settleMs: number, when: string): Promise<void> {
  await new Promise((r) => setTimeout(r, settleMs));
  const pids = sides.map((s) => s.c.agents.get('n1')!.process.pid!);
  const before = pids.map(cpuSeconds);
  const t0 = performance.now();
  await new Promise((r) => setTimeout(r, IDLE_MS));
  const seconds = (performance.now() - t0) / 1000;
  const idle = pids.map((pid, i) => ((cpuSeconds(pid) - before[i]!) / seconds) * 100);
  console.log(
    `idle agent CPU ${when}, over ${seconds.toFixed(0)} s: open ${idle[0]!.toFixed(2)} %, secure ${idle[1]!.toFixed(2)} % of a core (one tick = ${(100 / CLK_TCK / seconds).toFixed(2)} %)`,
  );
}

try {
  const sides = [await open(), await secure()];
  // Fresh (after the start-up settles) and again after the load below (GC of what the load left).
  await idleCpu(sides, 20_000, 'before the load');
  const all = new Map<string, Figures[]>(sides.map((s) => [s.label, []]));
  for (let n = 1; n <= TURNS; n++) for (const s of sides) all.get(s.label)!.push(await turn(s, n));

  const median = (xs: number[]) => percentile(xs, 0.5);
  const summary = (label: string, key: keyof Figures) => median(all.get(label)!.map((f) => median(f[key])));
  const pct = (a: number, b: number) => `${b >= a ? '+' : ''}${(((b - a) / a) * 100).toFixed(0)} %`;
  for (const [key, what] of [
    ['get', 'API get pods p50'],
    ['apply', `API apply ${OBJECTS} p50`],
    ['cliGet', 'CLI get pods p50'],
    ['cliApply', `CLI apply ${OBJECTS} p50`],
  ] as const) {
    const [a, b] = [summary('open', key), summary('secure', key)];
    console.log(
      `median of the turns: ${what.padEnd(20)} open ${a.toFixed(1)} ms, secure ${b.toFixed(1)} ms (${pct(a, b)})`,
    );
  }

  await idleCpu(sides, 10_000, 'after the load');
} finally {
  await Promise.all(clusters.map((c) => c.stop()));
}
