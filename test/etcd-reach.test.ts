// A client whose connection attempt to etcd was made while its link was down reaches etcd soon after the
// link comes back (agent/store/etcd-reach.ts), not at the kernel's next SYN retry. Real etcd on the gateway
// of a netns host, the client in the host's namespace. The cut is beyond the first hop: the host's veth
// stays up but leaves the bridge, and the gateway's MAC address is pinned in the host's neighbour table, so
// packets leave the host and vanish (a link set down, as in the fault suite, fails each send locally and
// the kernel tries again every 0.5 s; unanswered ARP fails a connect after 3 s).
import assert from 'node:assert/strict';
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { startTestEtcd, type TestEtcd } from './harness/etcd.ts';
import { startTestHosts, type TestHosts } from './harness/hosts.ts';

const IP = '/usr/sbin/ip';
const CHILD = fileURLToPath(new URL('./harness/etcd-reach-child.ts', import.meta.url));

interface Line {
  t: number;
  ok: boolean;
  states: number[];
  breaker: number;
  restarts: number;
}

const READY = 2;
const BREAKER_OPEN = 1;

let hosts: TestHosts;
let etcd: TestEtcd;
let child: ChildProcess | undefined;
let lines: Line[] = [];
const waiters = new Set<() => void>();

/** The client's states as they changed (time from the first line, ms: gRPC states, answered). */
function transitions(): string {
  const out: string[] = [];
  let last = '';
  for (const l of lines) {
    const now = `${l.states.join('')}${l.ok ? '+' : '-'}b${l.breaker}`;
    if (now !== last) out.push(`${l.t - lines[0]!.t}:${now}`);
    last = now;
  }
  return out.join(' ');
}

/** Resolves with the first line (from now on) that `match` accepts. */
function nextLine(match: (l: Line) => boolean, timeoutMs: number, what: string): Promise<Line> {
  return new Promise((resolve, reject) => {
    const from = lines.length;
    const timer = setTimeout(() => {
      waiters.delete(check);
      reject(new Error(`${what}: not within ${timeoutMs} ms; states seen: ${transitions()}`));
    }, timeoutMs);
    const check = () => {
      const l = lines.slice(from).find(match);
      if (!l) return;
      waiters.delete(check);
      clearTimeout(timer);
      resolve(l);
    };
    waiters.add(check);
  });
}

before(async () => {
  hosts = await startTestHosts(1, { sshd: false });
  etcd = await startTestEtcd(hosts.gateway);
});
after(async () => {
  child?.kill('SIGKILL');
  await etcd?.stop();
  await hosts?.stop();
});

/** The client in the host's namespace, its lines from now on in `lines`. */
function startChild(...args: string[]): Promise<Line> {
  child?.kill('SIGKILL');
  lines = [];
  const host = hosts.hosts[0]!;
  child = spawn(IP, ['netns', 'exec', host.netns, process.execPath, CHILD, etcd.url, ...args], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  createInterface({ input: child.stdout! }).on('line', (text) => {
    lines.push(JSON.parse(text) as Line);
    for (const w of [...waiters]) w();
  });
  return nextLine((l) => l.ok, 10_000, 'the client answered at first');
}

test('a connect made while the link was down is replaced when the link is back: etcd answers within 2 s, not at the next SYN retry', async (t) => {
  const host = hosts.hosts[0]!;
  await startChild();
  const bridge = (
    JSON.parse(execFileSync(IP, ['-j', 'link', 'show', host.veth]).toString()) as [{ master: string }]
  )[0].master;
  const mac = readFileSync(`/sys/class/net/${bridge}/address`, 'utf8').trim();
  execFileSync(IP, [
    '-n',
    host.netns,
    'neigh',
    'replace',
    hosts.gateway,
    'lladdr',
    mac,
    'dev',
    'eth0',
    'nud',
    'permanent',
  ]);

  // etcd killed: the client's connection is reset and its reconnects are refused (a quick failure each);
  // then the link is cut and etcd started again: the next attempt's SYNs are dropped and it hangs.
  await etcd.pause();
  await nextLine((l) => !l.ok, 5000, 'gets fail with etcd down');
  execFileSync(IP, ['link', 'set', host.veth, 'nomaster']);
  const cut = Date.now();
  await etcd.resume();
  // gRPC's next attempt starts within its back-off (2.4 s at most) and hangs; 10 s after the cut it is past
  // the kernel's SYN retries at 1, 3 and 7 s: without a replacement the next one is 15 s after it began.
  await nextLine((l) => l.t - cut >= 10_000, 15_000, 'the link cut for 10 s');
  const healed = Date.now();
  execFileSync(IP, ['link', 'set', host.veth, 'master', bridge]);
  const answered = await nextLine((l) => l.ok, 10_000, 'etcd answers after the link is back');
  t.diagnostic(
    `answered ${answered.t - healed} ms after the link came back (attempts replaced: ${answered.restarts}); ${transitions()}`,
  );
  // Without the replacement gRPC's attempt would get through at its next SYN retry, 15 s after it began
  // (~5 s after the heal). gRPC itself sometimes starts a fresh attempt just as the link comes back (a
  // call let through by the half-open breaker), and then no replacement is needed: so the bound, not the
  // count of replacements, is what is asserted (a CI run saw 0 replacements, answered in 503 ms).
  assert.ok(answered.t - healed < 2000, `etcd answered ${answered.t - healed} ms after the link came back`);
});

test('the breaker opened by the calls that failed while etcd was away is closed once the connection is back', async (t) => {
  // A client that makes no call while its host's breaker is open: nothing but the reach watch closes it.
  await startChild('respect-breaker');
  await etcd.pause();
  await nextLine((l) => l.breaker === BREAKER_OPEN, 5000, 'the breaker opens with etcd down');
  await etcd.resume();
  const back = await nextLine((l) => l.states.includes(READY), 10_000, 'connected again');
  const answered = await nextLine((l) => l.ok, 2000, 'a get answered after the connection is back');
  t.diagnostic(`answered ${answered.t - back.t} ms after the connection was seen ready; ${transitions()}`);
  assert.notEqual(answered.breaker, BREAKER_OPEN);
});
