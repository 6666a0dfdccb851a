// Free TCP ports for tests, chosen below the kernel's ephemeral range: a port from that range (what
// `listen(0)` gives) can be taken by any process's outgoing connection between the test closing it and
// the program under test binding it (a CI run's second `nokube up` found its etcd port so taken). Below
// the range only a listener can hold a port, and each pick is bound (held) before it is given.
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';

/** The lowest port a test picks. */
const LOWEST = 10_000;

/** The first port of the kernel's ephemeral range (Linux default 32768). */
function ephemeralLow(): number {
  try {
    const low = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
    return Number.isInteger(low) && low > LOWEST + 1000 ? low : 32_768;
  } catch {
    return 32_768;
  }
}
const HIGHEST = ephemeralLow() - 2;

/** Listen on `port` (held until closed), or undefined if it is taken; other errors (no such address)
 * are thrown. */
function hold(port: number, host: string): Promise<Server | undefined> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', (err: NodeJS.ErrnoException) =>
      err.code === 'EADDRINUSE' || err.code === 'EACCES' ? resolve(undefined) : reject(err),
    );
    srv.listen(port, host, () => resolve(srv));
  });
}

const release = (servers: Server[]) => Promise.all(servers.map((s) => new Promise((r) => s.close(r))));

/** Random ports below the ephemeral range, each held while the rest are chosen; `pair`: each one's next
 * port is free too (held as well). */
async function pick(count: number, host: string, pair: boolean): Promise<number[]> {
  const held: Server[] = [];
  const ports: number[] = [];
  try {
    for (let tries = 0; ports.length < count; tries++) {
      if (tries > 1000) throw new Error(`no ${count} free ports in ${LOWEST}-${HIGHEST + 1} on ${host}`);
      const port = LOWEST + Math.floor(Math.random() * (HIGHEST - LOWEST));
      if (ports.includes(port) || (pair && ports.includes(port + 1))) continue;
      const first = await hold(port, host);
      if (!first) continue;
      held.push(first);
      if (pair) {
        const next = await hold(port + 1, host);
        if (!next) continue;
        held.push(next);
      }
      ports.push(port);
    }
    return ports;
  } finally {
    await release(held);
  }
}

export async function freePort(host = '127.0.0.1'): Promise<number> {
  return (await freePorts(1, host))[0]!;
}

/** A free port whose next one is free too (an etcd client port: `nokube up` puts the peer port at +1). */
export async function freePortPair(host = '127.0.0.1'): Promise<number> {
  return (await pick(1, host, true))[0]!;
}

/** `count` distinct free ports. */
export function freePorts(count: number, host = '127.0.0.1'): Promise<number[]> {
  return pick(count, host, false);
}

/** `nokube up`'s port flags: etcd's client port with its peer port (+1) free, and head, mesh and agent
 * ports distinct from both (picked one by one, one of them could be etcd's +1). */
export async function upPortFlags(): Promise<string[]> {
  const etcd = await freePortPair();
  const others: number[] = [];
  while (others.length < 3) {
    const p = await freePort();
    if (p !== etcd && p !== etcd + 1 && !others.includes(p)) others.push(p);
  }
  const [head, mesh, agent] = others.map(String);
  return ['--etcd-port', String(etcd), '--head-port', head!, '--mesh-port', mesh!, '--agent-port', agent!];
}

/** `nokube up` with its port flags, run again with new ones when it failed because one of them was taken
 * meanwhile (the ports are free when picked, and `up` binds them seconds later: another test's listener
 * on 0.0.0.0 can take one in between — a CI run's agent port was). `up` stops what it started on a
 * failure, so a second run starts clean. Any other failure is returned as it is; so are the flags of the last run. */
export async function upWithFreePorts<R extends { code: unknown; stdout: string; stderr: string }>(
  up: (portFlags: string[]) => Promise<R>,
): Promise<R & { ports: string[] }> {
  for (let attempt = 1; ; attempt++) {
    const ports = await upPortFlags();
    const r = await up(ports);
    if (r.code === 0 || attempt === 3 || !/ port \d+ on \S+ is in use /.test(r.stdout + r.stderr))
      return { ...r, ports };
  }
}
