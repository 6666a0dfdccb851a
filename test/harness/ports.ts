// Free TCP ports for tests: bind port 0 on loopback, read the port, close.
import { createServer } from 'node:net';

export async function freePort(host = '127.0.0.1'): Promise<number> {
  return (await freePorts(1, host))[0]!;
}

/** A free port whose next one is free too (an etcd client port: `nokube up` puts the peer port at +1). */
export async function freePortPair(host = '127.0.0.1'): Promise<number> {
  for (;;) {
    const port = await freePort(host);
    const next = createServer();
    const free = await new Promise<boolean>((resolve) => {
      next.once('error', () => resolve(false));
      next.listen(port + 1, host, () => next.close(() => resolve(true)));
    });
    if (free) return port;
  }
}

/** `count` distinct free ports, held together while chosen (one at a time, the same port may come twice). */
export async function freePorts(count: number, host = '127.0.0.1'): Promise<number[]> {
  const servers = await Promise.all(
    Array.from(
      { length: count },
      () =>
        new Promise<ReturnType<typeof createServer>>((resolve, reject) => {
          const srv = createServer();
          srv.once('error', reject);
          srv.listen(0, host, () => resolve(srv));
        }),
    ),
  );
  const ports = servers.map((s) => (s.address() as { port: number }).port);
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  return ports;
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
