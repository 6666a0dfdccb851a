// bench/mesh: N agents as separate processes on this machine (real etcd, loopback addresses).
// Prints: convergence (start -> every agent sees N alive), SIGKILL detection (kill -> every survivor says
// dead), idle RSS and CPU per agent, event-loop lag. Every node is a head so each agent's own member table
// can be read over its API (the head part adds an HTTP server to each agent: RSS is a little pessimistic).
//   node bench/mesh.ts [--sizes 5,20,50] [--idle-seconds 15] [--victims 3]
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import type { Member } from '../agent/mesh/member-table.ts';
import { createTestCluster, type TestCluster } from '../test/harness/cluster.ts';

const { values } = parseArgs({
  options: {
    sizes: { type: 'string', default: '5,20,50' },
    'idle-seconds': { type: 'string', default: '15' },
    'heartbeat-ms': { type: 'string' },
    victims: { type: 'string', default: '3' },
  },
});
const sizes = values.sizes.split(',').map(Number);
const idleSeconds = Number(values['idle-seconds']);
const victims = Number(values.victims);
const TICKS = 100; // USER_HZ on Linux

interface Figures {
  n: number;
  /** null: not every agent saw all N alive within the time limit (then the other figures are absent). */
  convergenceMs: number | null;
  converged?: string;
  detectionMs: number[];
  rssMB: { median: number; max: number };
  anonMB: { median: number; max: number };
  cpuPercent: { median: number; max: number };
  loopLagP99Ms: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function view(c: TestCluster, node: string): Promise<Member[] | null> {
  const n = c.nodes.find((x) => x.name === node)!;
  try {
    const res = await fetch(`http://${n.address}:${c.headPort}/api/v1/members`, {
      signal: AbortSignal.timeout(2000),
    });
    return ((await res.json()) as { items: Member[] }).items;
  } catch {
    return null;
  }
}

async function until(
  what: string,
  timeoutMs: number,
  everyMs: number,
  check: () => Promise<boolean>,
): Promise<number> {
  const start = Date.now();
  while (!(await check())) {
    if (Date.now() - start > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms: ${what}`);
    await sleep(everyMs);
  }
  return Date.now() - start;
}

function procStat(pid: number): { cpuTicks: number; rssKB: number; anonKB: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const cpuTicks = Number(fields[11]) + Number(fields[12]);
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const rssKB = Number(/VmRSS:\s+(\d+)/.exec(status)![1]);
  // RssAnon: the process's own memory; the rest of RSS is the mapped executable, shared between processes.
  const anonKB = Number(/RssAnon:\s+(\d+)/.exec(status)![1]);
  return { cpuTicks, rssKB, anonKB };
}

async function measure(n: number, net: number): Promise<Figures> {
  const hb = values['heartbeat-ms'];
  const c = await createTestCluster({
    nodes: n,
    heads: n,
    net,
    ...(hb
      ? {
          meshExtra: `  heartbeatMs: ${hb}\n  suspectAfterMs: ${3 * Number(hb)}\n  deadAfterMs: ${6 * Number(hb)}\n`,
        }
      : {}),
  });
  try {
    const started = Date.now();
    await Promise.all(c.nodes.map((x) => c.startAgent(x.name)));
    const everyoneSeesAll = async () => {
      const views = await Promise.all(c.nodes.map((x) => view(c, x.name)));
      return views.every((v) => v !== null && v.length === n && v.every((m) => m.state === 'alive'));
    };
    try {
      await until(`all ${n} agents to see ${n} alive`, 180_000, 200, everyoneSeesAll);
    } catch {
      const views = await Promise.all(c.nodes.map((x) => view(c, x.name)));
      const full = views.filter((v) => v?.length === n && v.every((m) => m.state === 'alive')).length;
      const alive = views.map((v) => v?.filter((m) => m.state === 'alive').length ?? 0);
      return {
        n,
        convergenceMs: null,
        converged: `${full}/${n} agents saw all ${n} alive after 180 s; alive counts min/median ${Math.min(...alive)}/${median(alive)}`,
        detectionMs: [],
        rssMB: { median: Number.NaN, max: Number.NaN },
        anonMB: { median: Number.NaN, max: Number.NaN },
        cpuPercent: { median: Number.NaN, max: Number.NaN },
        loopLagP99Ms: Number.NaN,
      };
    }
    const convergenceMs = Date.now() - started;

    // Idle: let start-up settle, then sample CPU and RSS of every agent over the window.
    await sleep(5000);
    const pids = c.nodes.map((x) => c.agents.get(x.name)!.process.pid!);
    const before = pids.map(procStat);
    await sleep(idleSeconds * 1000);
    const afterStats = pids.map(procStat);
    const cpu = afterStats.map((s, i) => ((s.cpuTicks - before[i]!.cpuTicks) / TICKS / idleSeconds) * 100);
    const rss = afterStats.map((s) => s.rssKB / 1024);
    const anon = afterStats.map((s) => s.anonKB / 1024);
    const metrics = await (await fetch(`http://${c.nodes[0]!.address}:${c.headPort}/metrics`)).text();
    const lag = Number(
      /nokube_event_loop_lag_seconds\{quantile="0.99"[^}]*\} (\S+)/.exec(metrics)?.[1] ?? Number.NaN,
    );

    // Detection: SIGKILL one agent at a time; every survivor must call it dead.
    const detectionMs: number[] = [];
    const alive = [...c.nodes.map((x) => x.name)];
    for (let k = 0; k < Math.min(victims, n - 2); k++) {
      const victim = alive.pop()!;
      const t0 = Date.now();
      await c.agents.get(victim)!.kill('SIGKILL');
      await until(`survivors to mark ${victim} dead`, 30_000, 50, async () => {
        const views = await Promise.all(alive.map((x) => view(c, x)));
        return views.every((v) => v?.find((m) => m.name === victim)?.state === 'dead');
      });
      detectionMs.push(Date.now() - t0);
    }
    return {
      n,
      convergenceMs,
      detectionMs,
      rssMB: { median: median(rss), max: Math.max(...rss) },
      anonMB: { median: median(anon), max: Math.max(...anon) },
      cpuPercent: { median: median(cpu), max: Math.max(...cpu) },
      loopLagP99Ms: lag * 1000,
    };
  } finally {
    await c.stop();
  }
}

const results: Figures[] = [];
for (const [i, n] of sizes.entries()) {
  process.stderr.write(`mesh bench: N=${n}…\n`);
  const r = await measure(n, 60 + i);
  results.push(r);
  process.stderr.write(`  ${JSON.stringify(r)}\n`);
}

const f1 = (x: number) => x.toFixed(1);
const verdict = (ok: boolean) => (ok ? 'PASS' : 'MISS');
console.log(
  '\nbench/mesh (agents: %s; every node a head; heartbeat %s ms; idle window %d s; %d cores)',
  process.env.NOKUBE_BIN ?? 'node + sources',
  values['heartbeat-ms'] ?? 'default',
  idleSeconds,
  (await import('node:os')).cpus().length,
);
console.log(
  'N    converge(s)  detect min/med/max (ms)   RSS med/max (MB)   anon med (MB)   CPU med/max (% core)   loop lag p99 (ms)',
);
for (const r of results) {
  if (r.convergenceMs === null) {
    console.log(`${String(r.n).padEnd(4)} did not converge: ${r.converged}`);
    continue;
  }
  const d = r.detectionMs;
  console.log(
    `${String(r.n).padEnd(4)} ${f1((r.convergenceMs ?? 0) / 1000).padStart(11)}  ${`${Math.min(...d)}/${median(d)}/${Math.max(...d)}`.padStart(24)}   ${`${f1(r.rssMB.median)}/${f1(r.rssMB.max)}`.padStart(16)}   ${f1(r.anonMB.median).padStart(13)}   ${`${f1(r.cpuPercent.median)}/${f1(r.cpuPercent.max)}`.padStart(20)}   ${f1(r.loopLagP99Ms).padStart(17)}`,
  );
}
const at20 = results.find((r) => r.n === 20);
if (at20)
  console.log(
    `target detection <= 2 s at N=20: ${verdict(Math.max(...at20.detectionMs) <= 2000)} (max ${Math.max(...at20.detectionMs)} ms)`,
  );
const measured = results.filter((r) => r.convergenceMs !== null);
const rssMax = Math.max(...measured.map((r) => r.rssMB.median));
const cpuMax = Math.max(...measured.map((r) => r.cpuPercent.median));
const anonMax = Math.max(...measured.map((r) => r.anonMB.median));
console.log(
  `target idle RSS <= 80 MB (median per agent, worst N): ${verdict(rssMax <= 80)} (${f1(rssMax)} MB; of it private/anon ${f1(anonMax)} MB, the rest the mapped executable)`,
);
console.log(
  `target idle CPU <= 1 % of a core (median per agent, worst N): ${verdict(cpuMax <= 1)} (${f1(cpuMax)} %)`,
);
console.log(`JSON ${JSON.stringify(results)}`);
process.exit(0);
