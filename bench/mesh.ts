// bench/mesh: N agents as separate processes on this machine (real etcd, each agent on its own loopback
// address 127.<net>.x.y). For each N it measures and prints:
//   convergence  start of all N agents -> EVERY agent's member table has all N alive
//   idle         RSS (total and private/anonymous), CPU % of one core, event-loop lag p99, message rate,
//                sampled every second per agent process over an idle window after convergence
//   detection    SIGKILL one agent -> EVERY survivor's table says dead (a few victims, one after another)
//   join         the first victim started again -> its node record in etcd, -> in EVERY other table alive
// Every node is a head, so each agent's own member table is read over its own API
// (GET http://<address>:<headPort>/api/v1/members). The head part adds an HTTP server to each agent, so the
// RSS figures are a little pessimistic for a worker-only agent.
//
// Times are taken two ways: "table" uses the `since` timestamps in the agents' own tables (the moment the
// agent changed the member's state; same machine, same clock), "polled" is when this process saw it
// (table + poll interval + HTTP under load). The table figure is the headline; polled is an upper bound.
//
//   node bench/mesh.ts [--sizes 5,20,50] [--idle-seconds 30] [--settle-seconds 80] [--victims 3] [--heartbeat-ms MS]
//                      [--bin dist/nokube] [--converge-timeout 300] [--detect-timeout 30] [--no-worker-idle]
//                      [--metrics-seconds 5] [--agent-node-options=--max-semi-space-size=1]
// After the all-heads cluster, a second cluster (one head, N-1 workers) measures the idle cost of a
// worker-only agent, which runs no head API (skip it: --no-worker-idle). Agents send their metrics every
// --metrics-seconds (0: no monitoring section) to a stand-in for GreptimeDB in this process.
// Every phase is bounded; agents and etcd are stopped at the end, on error and on Ctrl-C / SIGTERM.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import type { Member } from '../agent/mesh/member-table.ts';
import { keys } from '../agent/store/keys.ts';
import { createTestCluster, REPO, type TestCluster } from '../test/harness/cluster.ts';
import { freePort } from '../test/harness/ports.ts';
import { type StandIn, startGreptimeStandIn } from './greptime-stand-in.ts';
import { median } from './stats.ts';

const { values } = parseArgs({
  options: {
    sizes: { type: 'string', default: '5,20,50' },
    'idle-seconds': { type: 'string', default: '30' },
    // Idle means steady state: start-up work is over by then — the mesh's faster announcements for 30 s
    // after a membership change, the memory reducer's first collection (30 s), V8's optimising compiles on
    // its own threads (measured on 19 workers started together: 0.6-0.8 % of a core until ~60 s after the
    // start, 0.03-0.3 % from ~75 s on).
    'settle-seconds': { type: 'string', default: '80' },
    victims: { type: 'string', default: '3' },
    'heartbeat-ms': { type: 'string' },
    bin: { type: 'string' },
    'converge-timeout': { type: 'string', default: '300' },
    'detect-timeout': { type: 'string', default: '30' },
    'poll-ms': { type: 'string', default: '50' },
    'no-worker-idle': { type: 'boolean', default: false },
    'agent-node-options': { type: 'string' },
    // The target is for agents sending metrics every 5 s: to a stand-in for GreptimeDB on loopback.
    'metrics-seconds': { type: 'string', default: '5' },
  },
});
const sizes = values.sizes.split(',').map(Number);
if (sizes.some((n) => !Number.isInteger(n) || n < 3)) throw new Error('--sizes: integers >= 3');
const idleSeconds = Number(values['idle-seconds']);
const settleSeconds = Number(values['settle-seconds']);
const victims = Number(values.victims);
const convergeTimeoutMs = Number(values['converge-timeout']) * 1000;
const detectTimeoutMs = Number(values['detect-timeout']) * 1000;
const pollMs = Number(values['poll-ms']);
const heartbeatMs = values['heartbeat-ms'] ? Number(values['heartbeat-ms']) : undefined;
// The harness runs agents as NOKUBE_BIN (the single binary) when set, else node + the .ts sources.
if (values.bin) process.env.NOKUBE_BIN = resolve(values.bin);
// For experiments (e.g. --max-semi-space-size=1): NODE_OPTIONS of the agents only (this process has started).
if (values['agent-node-options']) process.env.NODE_OPTIONS = values['agent-node-options'];
const mode = process.env.NOKUBE_BIN ? `binary ${process.env.NOKUBE_BIN}` : 'node + .ts sources';
const TICKS_PER_SECOND = 100; // USER_HZ on Linux
const TARGETS = { detectMsAt20: 2000, rssMB: 80, cpuPercent: 1, joinMs: 1000 };
/** The join's tables are read this often (each read is N - 1 HTTP requests to agents on the machine the
 * joiner starts on; the `since` read is exact however late it is read). */
const JOIN_POLL_MS = 250;

interface Spread {
  min: number;
  median: number;
  max: number;
}

interface Figures {
  n: number;
  error?: string;
  /** Start of all agents -> every table all alive; null when not reached within the time limit. */
  convergence: { tableMs: number; polledMs: number } | null;
  convergenceNote?: string;
  /** Every agent a head (head API + Prometheus registry in each). */
  idle?: ProcessFigures & {
    heapUsedMB: Spread;
    loopLagP99Ms: Spread;
    /** p99 over the start-up/convergence phase (agents' histograms up to the first scrape). */
    startupLoopLagP99Ms: Spread;
    receivedPerSecond: Spread;
    sentPerSecond: Spread;
    connections: Spread;
    /** Agents whose table was no longer all-alive at the end of the window (flapping). */
    unstableAgents: number;
  };
  /** Worker-only agents (cluster with one head), --worker-idle. */
  workerIdle?: ProcessFigures & { note?: string };
  /** A killed agent started again: start -> its node record in etcd, -> in every other table alive. */
  join?: { node: string; registeredMs: number | null; tableMs: number | null; polledMs: number | null };
  detection: Array<{
    victim: string;
    tableMs: number | null;
    polledMs: number | null;
    /** How survivors decided: refused redial (first-hand), heartbeat silence, or not at all. */
    byRefusedRedial: number;
    bySilence: number;
    undecided: number;
  }>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const spread = (xs: number[]): Spread =>
  xs.length === 0
    ? { min: Number.NaN, median: Number.NaN, max: Number.NaN }
    : { min: Math.min(...xs), median: median(xs), max: Math.max(...xs) };

// ---- cleanup: whatever happens, the cluster of the moment is stopped ----
let active: TestCluster | undefined;
async function stopActive(): Promise<void> {
  const c = active;
  active = undefined;
  if (c) await c.stop().catch((err) => process.stderr.write(`cleanup: ${String(err)}\n`));
}
let interrupted = false;
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.on(sig, () => {
    if (interrupted) return;
    interrupted = true;
    process.stderr.write(`\n${sig}: stopping agents and etcd…\n`);
    const hard = setTimeout(() => process.exit(130), 15_000);
    stopActive().finally(() => {
      clearTimeout(hard);
      process.exit(130);
    });
  });
}
process.on('uncaughtException', (err) => {
  process.stderr.write(`uncaught: ${err.stack ?? String(err)}\n`);
  stopActive().finally(() => process.exit(1));
});

// ---- reading the agents ----
function urlOf(c: TestCluster, node: string, path: string): string {
  const n = c.nodes.find((x) => x.name === node)!;
  return `http://${n.address}:${c.headPort}${path}`;
}

async function view(c: TestCluster, node: string): Promise<Member[] | null> {
  try {
    const res = await fetch(urlOf(c, node, '/api/v1/members'), { signal: AbortSignal.timeout(3000) });
    return ((await res.json()) as { items: Member[] }).items;
  } catch {
    return null;
  }
}

async function scrape(c: TestCluster, node: string): Promise<string> {
  try {
    const res = await fetch(urlOf(c, node, '/metrics'), { signal: AbortSignal.timeout(5000) });
    return await res.text();
  } catch {
    return '';
  }
}

/** One sample from Prometheus text: `name{...label="value"...} number`. */
function metric(text: string, name: string, label?: string): number {
  for (const line of text.split('\n')) {
    if (!line.startsWith(name) || (line[name.length] !== '{' && line[name.length] !== ' ')) continue;
    if (label && !line.includes(label)) continue;
    return Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return Number.NaN;
}

interface ProcSample {
  cpuTicks: number;
  sysTicks: number;
  /** Context switches of the main (event-loop) thread: a count of its wake-ups. */
  switches: number;
  rssKB: number;
  anonKB: number;
}

function procStat(pid: number): ProcSample | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const sysTicks = Number(fields[12]);
    const cpuTicks = Number(fields[11]) + sysTicks; // utime + stime
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const rssKB = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1]);
    // RssAnon: the process's own memory; the rest of RSS is file-backed (the mapped executable), which
    // the page cache shares between processes.
    const anonKB = Number(/RssAnon:\s+(\d+)/.exec(status)?.[1]);
    const switches =
      Number(/\nvoluntary_ctxt_switches:\s+(\d+)/.exec(status)?.[1]) +
      Number(/nonvoluntary_ctxt_switches:\s+(\d+)/.exec(status)?.[1]);
    return { cpuTicks, sysTicks, switches, rssKB, anonKB };
  } catch {
    return null;
  }
}

/** Busy and total jiffies of the whole machine (first line of /proc/stat). */
function machineTicks(): { busy: number; total: number } {
  const f = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  const idle = (f[3] ?? 0) + (f[4] ?? 0);
  const total = f.reduce((a, b) => a + b, 0);
  return { busy: total - idle, total };
}

const allAlive = (v: Member[] | null, n: number) =>
  v !== null && v.length === n && v.every((m) => m.state === 'alive');

function liveAgents(c: TestCluster): string[] {
  return [...c.agents.values()]
    .filter((a) => a.process.exitCode === null && a.process.signalCode === null)
    .map((a) => a.name);
}

interface ProcessFigures {
  seconds: number;
  rssMB: Spread;
  anonMB: Spread;
  cpuPercent: Spread;
  /** Of the CPU, the part in the kernel (system time), % of one core. */
  sysPercent: Spread;
  wakeupsPerSecond: Spread;
  /** Sum of the sampled agents' CPU over the window, % of one core; and the whole machine's busy %. */
  agentsTotalCpuPercent: number;
  machineBusyPercent: number;
  etcdCpuPercent: number;
}

/** Sample the agents' processes once a second over the idle window: mean RSS per agent, CPU over it. */
async function sampleIdle(
  c: TestCluster,
  names: string[],
): Promise<{ seconds: number; figures: ProcessFigures }> {
  const pids = names.map((x) => c.agents.get(x)!.process.pid!);
  const t0 = Date.now();
  const m0 = machineTicks();
  const etcd0 = procStat(c.etcd.process.pid!);
  const s0 = pids.map(procStat);
  const rss: number[][] = pids.map(() => []);
  const anon: number[][] = pids.map(() => []);
  let last = s0;
  while (Date.now() - t0 < idleSeconds * 1000) {
    await sleep(1000);
    last = pids.map(procStat);
    last.forEach((x, i) => {
      if (!x) return;
      rss[i]!.push(x.rssKB / 1024);
      anon[i]!.push(x.anonKB / 1024);
    });
  }
  const seconds = (Date.now() - t0) / 1000;
  const m1 = machineTicks();
  const etcd1 = procStat(c.etcd.process.pid!);
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  const rate = (pick: (x: ProcSample) => number, scale: number) =>
    last.map((x, i) => (x && s0[i] ? ((pick(x) - pick(s0[i]!)) / seconds) * scale : Number.NaN));
  const cpu = rate((x) => x.cpuTicks, 100 / TICKS_PER_SECOND);
  return {
    seconds,
    figures: {
      seconds: Math.round(seconds),
      rssMB: spread(rss.map(mean)),
      anonMB: spread(anon.map(mean)),
      cpuPercent: spread(cpu),
      sysPercent: spread(rate((x) => x.sysTicks, 100 / TICKS_PER_SECOND)),
      wakeupsPerSecond: spread(rate((x) => x.switches, 1)),
      agentsTotalCpuPercent: cpu.reduce((a, b) => a + b, 0),
      machineBusyPercent: ((m1.busy - m0.busy) / (m1.total - m0.total)) * 100 * cpus().length,
      etcdCpuPercent:
        etcd0 && etcd1 ? ((etcd1.cpuTicks - etcd0.cpuTicks) / TICKS_PER_SECOND / seconds) * 100 : Number.NaN,
    },
  };
}

const meshExtra = heartbeatMs
  ? {
      meshExtra: `  heartbeatMs: ${heartbeatMs}\n  suspectAfterMs: ${3 * heartbeatMs}\n  deadAfterMs: ${6 * heartbeatMs}\n`,
    }
  : {};
const metricsSeconds = Number(values['metrics-seconds']);
let standIn: StandIn | undefined;
/** The agents' `monitoring:` section (metrics every --metrics-seconds to the stand-in), none for 0. */
async function monitoring(): Promise<{ sections?: string }> {
  if (!(metricsSeconds > 0)) return {};
  standIn ??= await startGreptimeStandIn(await freePort());
  return { sections: standIn.monitoring(metricsSeconds) };
}

/**
 * Idle cost of a worker-only agent (no head API): a second cluster with one head
 * (n1) and N-1 workers. Only n1's table can be read, so it waits for n1 to see all N alive, then settles.
 */
async function measureWorkers(n: number, net: number): Promise<ProcessFigures & { note?: string }> {
  const c = await createTestCluster({ nodes: n, heads: 1, net, ...meshExtra, ...(await monitoring()) });
  active = c;
  const names = c.nodes.map((x) => x.name);
  const started = Date.now();
  await Promise.all(names.map((x) => c.startAgent(x)));
  let note: string | undefined;
  while (!allAlive(await view(c, 'n1'), n)) {
    if (Date.now() - started > convergeTimeoutMs || liveAgents(c).length < n) {
      note = `n1 did not see all ${n} alive within ${convergeTimeoutMs / 1000} s`;
      break;
    }
    await sleep(500);
  }
  // The workers' own tables cannot be read: give them the head's convergence time again, at least the settle.
  await sleep(Math.max(settleSeconds * 1000, Date.now() - started));
  const workers = names.slice(1).filter((x) => liveAgents(c).includes(x));
  const { figures } = await sampleIdle(c, workers);
  return note ? { ...figures, note } : figures;
}

// ---- one size ----
async function measure(n: number, net: number): Promise<Figures> {
  const c = await createTestCluster({ nodes: n, heads: n, net, ...meshExtra, ...(await monitoring()) });
  active = c;
  const fig: Figures = { n, convergence: null, detection: [] };
  const names = c.nodes.map((x) => x.name);

  // 1. Convergence.
  const started = Date.now();
  await Promise.all(names.map((x) => c.startAgent(x)));
  let views: Array<Member[] | null> = [];
  for (;;) {
    views = await Promise.all(names.map((x) => view(c, x)));
    if (views.every((v) => allAlive(v, n))) break;
    if (liveAgents(c).length < n) {
      fig.convergenceNote = `agent(s) exited during start-up: ${names.filter((x) => !liveAgents(c).includes(x)).join(', ')}`;
      break;
    }
    if (Date.now() - started > convergeTimeoutMs) {
      const full = views.filter((v) => allAlive(v, n)).length;
      const alive = views.map((v) => v?.filter((m) => m.state === 'alive').length ?? 0);
      fig.convergenceNote = `${full}/${n} agents saw all ${n} alive after ${convergeTimeoutMs / 1000} s; alive counts min/median ${Math.min(...alive)}/${median(alive)}`;
      break;
    }
    await sleep(n >= 30 ? 500 : 200);
  }
  if (!fig.convergenceNote) {
    const polledMs = Date.now() - started;
    // The moment each table became all-alive: the latest `since` of its members (self: the agent's start).
    const tableMs =
      Math.max(...views.map((v) => Math.max(...v!.filter((m) => !m.self).map((m) => m.since)))) - started;
    fig.convergence = { tableMs, polledMs };
  }
  progress(
    `  convergence: ${fig.convergence ? `${fig.convergence.tableMs} ms (polled ${fig.convergence.polledMs} ms)` : fig.convergenceNote}`,
  );
  if (liveAgents(c).length < n) return fig;

  // 2. Idle: let start-up settle, then sample every agent's process once a second over the window.
  await sleep(settleSeconds * 1000);
  const first = await Promise.all(names.map((x) => scrape(c, x))); // also resets the loop-lag histograms
  const w = await sampleIdle(c, names);
  const end = await Promise.all(names.map((x) => scrape(c, x)));
  const endViews = await Promise.all(names.map((x) => view(c, x)));
  const perSecond = (kind: string) =>
    end.map((t, i) => {
      const a = metric(first[i]!, 'nokube_mesh_messages', `kind="${kind}"`);
      const b = metric(t, 'nokube_mesh_messages', `kind="${kind}"`);
      return (b - a) / w.seconds;
    });
  fig.idle = {
    ...w.figures,
    heapUsedMB: spread(end.map((t) => metric(t, 'nokube_agent_heap_used_bytes') / 2 ** 20)),
    loopLagP99Ms: spread(
      end.map((t) => metric(t, 'nokube_event_loop_lag_seconds', 'quantile="0.99"') * 1000),
    ),
    startupLoopLagP99Ms: spread(
      first.map((t) => metric(t, 'nokube_event_loop_lag_seconds', 'quantile="0.99"') * 1000),
    ),
    receivedPerSecond: spread(perSecond('received')),
    sentPerSecond: spread(perSecond('direct_sent')),
    connections: spread(end.map((t) => metric(t, 'nokube_mesh_connections'))),
    unstableAgents: endViews.filter((v) => !allAlive(v, n)).length,
  };
  progress(
    `  idle: CPU median ${fig.idle.cpuPercent.median.toFixed(1)} %, RSS median ${fig.idle.rssMB.median.toFixed(0)} MB, machine busy ${fig.idle.machineBusyPercent.toFixed(0)} % of one core`,
  );

  // 3. Detection: SIGKILL one agent at a time (never n1); every survivor must call it dead.
  if (!fig.convergence) return fig;
  const survivors = [...names];
  for (let k = 0; k < Math.min(victims, n - 2); k++) {
    const victim = survivors.pop()!;
    const pending = new Set(survivors);
    const seen = new Map<string, Member>();
    const killedAt = Date.now();
    c.agents.get(victim)!.process.kill('SIGKILL');
    let polledMs: number | null = null;
    while (pending.size > 0 && Date.now() - killedAt < detectTimeoutMs) {
      await sleep(pollMs);
      await Promise.all(
        [...pending].map(async (x) => {
          const m = (await view(c, x))?.find((e) => e.name === victim);
          if (m?.state === 'dead') {
            seen.set(x, m);
            pending.delete(x);
          }
        }),
      );
      if (pending.size === 0) polledMs = Date.now() - killedAt;
    }
    await c.agents.get(victim)!.exited;
    const verdicts = [...seen.values()];
    const d = {
      victim,
      tableMs: polledMs === null ? null : Math.max(...verdicts.map((m) => m.since)) - killedAt,
      polledMs,
      byRefusedRedial: verdicts.filter((m) => m.reason.startsWith('connection lost')).length,
      bySilence: verdicts.filter((m) => m.reason.startsWith('no heartbeat')).length,
      undecided: pending.size,
    };
    fig.detection.push(d);
    progress(
      `  detection ${victim}: ${d.tableMs ?? 'timeout'} ms (polled ${d.polledMs ?? '-'}; refused redial ${d.byRefusedRedial}, silence ${d.bySilence}, undecided ${d.undecided})`,
    );
    await sleep(2000); // let redials of the victim die down before the next kill
  }

  // 4. Join: the first victim started again, as an edge host's agent restarts. From its start (the
  // process spawned) to its node record of the new incarnation in etcd, and to every other live agent's
  // table having it alive (the tables' timestamps; polled as an upper bound).
  // The instrument stays light: the record is awaited on an etcd watch (polling etcd every 20 ms was load
  // on the two cores the agent starts on), and the tables, whose `since` is exact, are read every JOIN_POLL_MS.
  const joiner = fig.detection[0]?.victim;
  if (joiner) {
    let startedAt = Number.POSITIVE_INFINITY;
    let watching: () => void = () => undefined;
    const ready = new Promise<void>((r) => {
      watching = r;
    });
    const registered = c.withEtcd(async (etcd) => {
      const watcher = await etcd.watch().key(keys.node(c.name, joiner)).create();
      try {
        return await new Promise<number | null>((resolve) => {
          const timer = setTimeout(() => resolve(null), convergeTimeoutMs);
          watcher.on('put', (kv) => {
            const t = Date.now();
            const record = JSON.parse(kv.value.toString('utf8')) as { startedAt: string };
            if (Date.parse(record.startedAt) < startedAt - 1000) return;
            clearTimeout(timer);
            resolve(t);
          });
          watching();
        });
      } finally {
        await watcher.cancel();
      }
    });
    await ready;
    startedAt = Date.now();
    await c.startAgent(joiner);
    let polledMs: number | null = null;
    let tableMs: number | null = null;
    const pending = new Set(survivors);
    const since: number[] = [];
    while (pending.size > 0 && Date.now() - startedAt < convergeTimeoutMs) {
      await Promise.all(
        [...pending].map(async (x) => {
          const m = (await view(c, x))?.find((e) => e.name === joiner);
          if (m?.state === 'alive' && m.since >= startedAt) {
            since.push(m.since);
            pending.delete(x);
          }
        }),
      );
      if (pending.size === 0) {
        polledMs = Date.now() - startedAt;
        tableMs = Math.max(...since) - startedAt;
      } else await sleep(JOIN_POLL_MS);
    }
    const reg = await registered;
    fig.join = { node: joiner, registeredMs: reg === null ? null : reg - startedAt, tableMs, polledMs };
    if (since.length > 0) {
      const after = since.map((t) => t - startedAt).sort((a, b) => a - b);
      progress(
        `  join ${joiner}: in the first table at ${after[0]} ms, half of them by ${median(after)} ms, the last at ${after.at(-1)} ms`,
      );
    }
    progress(
      `  join ${joiner} (restarted): registered ${fig.join.registeredMs ?? 'timeout'} ms, in every table ${tableMs ?? 'timeout'} ms (polled ${polledMs ?? '-'})`,
    );
  }
  return fig;
}

function progress(line: string): void {
  process.stderr.write(`${line}\n`);
}

// ---- run ----
const commit = (() => {
  try {
    const head = execFileSync('git', ['-C', REPO, 'rev-parse', '--short', 'HEAD'], {
      encoding: 'utf8',
    }).trim();
    const dirty = execFileSync('git', ['-C', REPO, 'status', '--porcelain', 'agent', 'head'], {
      encoding: 'utf8',
    }).trim();
    return dirty ? `${head}+dirty` : head;
  } catch {
    return 'unknown';
  }
})();
const results: Figures[] = [];
const benchStart = Date.now();
for (const [i, n] of sizes.entries()) {
  progress(`mesh bench: N=${n} (${mode})…`);
  try {
    const r = await measure(n, 60 + i);
    results.push(r);
    await stopActive();
    if (!values['no-worker-idle'] && !interrupted) {
      progress(`  worker-only agents: 1 head + ${n - 1} workers…`);
      r.workerIdle = await measureWorkers(n, 80 + i);
      progress(
        `  worker idle: CPU median ${r.workerIdle.cpuPercent.median.toFixed(1)} %, RSS median ${r.workerIdle.rssMB.median.toFixed(0)} MB`,
      );
    }
  } catch (err) {
    const existing = results.find((x) => x.n === n);
    if (existing) existing.error = String(err);
    else results.push({ n, error: String(err), convergence: null, detection: [] });
    progress(`  error: ${String(err)}`);
  } finally {
    await stopActive();
  }
  if (interrupted) break;
}

await standIn?.close();

// ---- report ----
const f0 = (x: number) => (Number.isFinite(x) ? x.toFixed(0) : '-');
const f1 = (x: number) => (Number.isFinite(x) ? x.toFixed(1) : '-');
const s = (x: Spread | undefined, f = f1) => (x ? `${f(x.median)}/${f(x.max)}` : '-');
const verdict = (ok: boolean) => (ok ? 'PASS' : 'MISS');
const detected = (r: Figures) => r.detection.map((d) => d.tableMs).filter((x): x is number => x !== null);

const row = (cells: Array<[string, number]>) =>
  cells.map(([v, w], k) => (k === 0 ? v.padEnd(w) : v.padStart(w))).join('  ');
console.log(
  `\nbench/mesh — agents: ${mode}; commit ${commit}; heartbeat ${heartbeatMs ?? 'default (1000)'} ms; ${cpus().length} cores, all agents on this one machine, loopback only.` +
    (values['agent-node-options'] ? `\nagents' NODE_OPTIONS: ${values['agent-node-options']}` : '') +
    (standIn
      ? `\nmetrics every ${metricsSeconds} s by remote write to a stand-in for GreptimeDB (${standIn.received.metricBodies} bodies received, ${standIn.received.logBodies} of OTLP logs)`
      : '\nno monitoring section (node samples every 10 s for the console only)') +
    `\nEVERY node is a head in the main cluster: each agent's own member table is read from its own /api/v1/members.`,
);
console.log('\nmembership (all-heads cluster)');
console.log(
  row([
    ['N', 3],
    ['converge s', 10],
    ['polled s', 8],
    ['detect min/med/max ms', 21],
    ['dead by redial/silence', 22],
    ['msgs in/s', 9],
    ['conns', 5],
    ['lag p99 med/max ms', 18],
    ['start-up lag p99 max ms', 23],
  ]),
);
for (const r of results) {
  const d = detected(r);
  const i = r.idle;
  console.log(
    row([
      [String(r.n), 3],
      [r.convergence ? f1(r.convergence.tableMs / 1000) : 'NO', 10],
      [r.convergence ? f1(r.convergence.polledMs / 1000) : '-', 8],
      [d.length ? `${f0(Math.min(...d))}/${f0(median(d))}/${f0(Math.max(...d))}` : '-', 21],
      [
        `${r.detection.reduce((a, x) => a + x.byRefusedRedial, 0)}/${r.detection.reduce((a, x) => a + x.bySilence, 0)}`,
        22,
      ],
      [f0(i?.receivedPerSecond.median ?? Number.NaN), 9],
      [f0(i?.connections.median ?? Number.NaN), 5],
      [s(i?.loopLagP99Ms, f0), 18],
      [f0(i?.startupLoopLagP99Ms.max ?? Number.NaN), 23],
    ]),
  );
  if (r.error) console.log(`     error: ${r.error}`);
  if (r.convergenceNote) console.log(`     not converged: ${r.convergenceNote}`);
  const timedOut = r.detection.filter((x) => x.tableMs === null).map((x) => x.victim);
  if (timedOut.length)
    console.log(`     detection timed out (> ${detectTimeoutMs / 1000} s) for: ${timedOut.join(', ')}`);
  if (i?.unstableAgents)
    console.log(`     ${i.unstableAgents} agent(s) no longer saw all alive at the end of the idle window`);
}
console.log(
  "  converge: start of all N -> every agent's table all alive, from the tables' own timestamps (polled: as seen by the bench)." +
    "\n  detect: SIGKILL -> every survivor says dead (tables' timestamps), victims killed one after another; dead by: survivors' reasons summed." +
    '\n  msgs in/s, conns, lag: per agent over the idle window; start-up lag: p99 from start to the idle window.',
);
console.log(
  `\nidle resources per agent (${idleSeconds} s window after ${settleSeconds} s settle; CPU in % of ONE core)`,
);
console.log(
  row([
    ['N', 3],
    ['kind', 6],
    ['RSS med/max MB', 14],
    ['anon med MB', 11],
    ['heap med MB', 11],
    ['CPU med/max %', 13],
    ['sys med %', 9],
    ['wakeups/s', 9],
    ['all agents %', 12],
    ['machine %', 9],
    ['etcd %', 6],
  ]),
);
for (const r of results) {
  for (const [kind, i] of [
    ['head', r.idle],
    ['worker', r.workerIdle],
  ] as const) {
    if (!i) continue;
    console.log(
      row([
        [String(r.n), 3],
        [kind, 6],
        [s(i.rssMB, f0), 14],
        [f0(i.anonMB.median), 11],
        [f0('heapUsedMB' in i ? i.heapUsedMB.median : Number.NaN), 11],
        [s(i.cpuPercent), 13],
        [f1(i.sysPercent.median), 9],
        [f0(i.wakeupsPerSecond.median), 9],
        [f0(i.agentsTotalCpuPercent), 12],
        [f0(i.machineBusyPercent), 9],
        [f1(i.etcdCpuPercent), 6],
      ]),
    );
    if ('note' in i && i.note) console.log(`     ${i.note}`);
  }
}
console.log(
  '  head: every agent of the all-heads cluster (agent + head API + Prometheus registry); worker: the N-1 workers of a 1-head cluster.' +
    '\n  sys: the kernel part of CPU; wakeups/s: context switches of the main thread.' +
    '\n  anon: private (anonymous) RSS; the rest of RSS is the file-backed executable, shared in the page cache.' +
    '\n  all agents: sum over the agents measured; machine: the whole machine busy over the window, in % of one core.',
);
console.log('targets:');
const at20 = results.find((r) => r.n === 20);
if (at20) {
  const d = detected(at20);
  const ok = d.length > 0 && d.length === at20.detection.length && Math.max(...d) <= TARGETS.detectMsAt20;
  console.log(
    `  detection <= 2 s at N=20 (every victim, every survivor): ${verdict(ok)} (max ${d.length ? Math.max(...d) : '-'} ms)`,
  );
} else console.log('  detection <= 2 s at N=20: not measured (no N=20 in --sizes)');
for (const r of results) {
  if (r.join) {
    const { registeredMs: reg, tableMs: table } = r.join;
    const ok = reg !== null && table !== null && Math.max(reg, table) <= TARGETS.joinMs;
    console.log(
      `  N=${r.n} agent start -> registered and in every peer's table <= ${TARGETS.joinMs} ms (${r.join.node} restarted): ${verdict(ok)} (registered ${reg ?? 'timeout'} ms, tables ${table ?? 'timeout'} ms)`,
    );
  }
  for (const [kind, i] of [
    ['head', r.idle],
    ['worker', r.workerIdle],
  ] as const) {
    if (!i) continue;
    console.log(
      `  N=${r.n} ${kind}: idle RSS <= ${TARGETS.rssMB} MB (median agent): ${verdict(i.rssMB.median <= TARGETS.rssMB)} (${f0(i.rssMB.median)} MB, private ${f0(i.anonMB.median)} MB)` +
        `; idle CPU <= ${TARGETS.cpuPercent} % of a core (median agent): ${verdict(i.cpuPercent.median <= TARGETS.cpuPercent)} (${f1(i.cpuPercent.median)} %)`,
    );
  }
}
console.log(
  `JSON ${JSON.stringify({
    bench: 'mesh',
    date: new Date(benchStart).toISOString(),
    commit,
    agents: mode,
    allHeads: true,
    cores: cpus().length,
    heartbeatMs: heartbeatMs ?? null,
    agentNodeOptions: values['agent-node-options'] ?? null,
    metricsSeconds: standIn ? metricsSeconds : null,
    idleSeconds,
    settleSeconds,
    targets: TARGETS,
    results,
  })}`,
);
process.exit(interrupted ? 130 : 0);
