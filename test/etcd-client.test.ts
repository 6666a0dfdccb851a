// Our etcd client against a real etcd: what we changed in etcd3's handling of failures (agent/store/etcd.ts,
// etcd-faults.ts keepConnections): a failure closes none of the host's connections, so the client's other
// streams (watches, lease keepalives) go on.
import assert from 'node:assert/strict';
import { createConnection, createServer, type Socket } from 'node:net';
import { after, before, describe, test } from 'node:test';
import type { Etcd3, Watcher } from 'etcd3';
import { connectEtcd, EtcdUnreachableError } from '../agent/store/etcd.ts';
import { faultOptions, isCancel } from '../agent/store/etcd-faults.ts';
import { eventually } from './harness/cluster.ts';
import { startTestEtcd, type TestEtcd } from './harness/etcd.ts';
import { freezeProcess } from './harness/frozen.ts';

/** etcd3's private parts: a host's service clients (replaced by a new object when they are all closed),
 * and where a failed stream is reported. */
interface Pool {
  hosts: Array<{ cachedServices: object }>;
  markFailed(resource: unknown, error: Error): void;
}

test("a broken watch stream is opened again at least every 2 s (etcd3's own backoff doubled to 30 s)", () => {
  let backoff = faultOptions({ endpoints: ['http://127.0.0.1:1'], callTimeoutMs: 1000 }).faultHandling!
    .watchBackoff!;
  const delays: number[] = [];
  for (let i = 0; i < 40; i++) {
    backoff = backoff.next(undefined);
    delays.push(backoff.duration);
  }
  assert.ok(Math.max(...delays) <= 2000, delays.join(' '));
});

describe('etcd client', () => {
  let etcd: TestEtcd;
  let client: Etcd3;
  let pool: Pool;
  const services = () => pool.hosts.map((h) => h.cachedServices);
  /** A put on `key` reaches the client's watch of it that was created before the failure. */
  const watchedPut = async (watched: Awaited<ReturnType<typeof watchOf>>) => {
    const put = new Promise((resolve) => watched.once('put', resolve));
    await client.put('main').value(String(Date.now()));
    await put;
  };
  const watchOf = (key: string) => client.watch().key(key).create();
  const assertSame = (now: object[], was: object[]) => {
    for (const [i, s] of now.entries()) assert.equal(s, was[i], 'the service clients were closed');
  };

  before(async () => {
    etcd = await startTestEtcd();
    client = await connectEtcd({ endpoints: [etcd.url], dialTimeoutMs: 1000 });
    pool = (client as unknown as { pool: Pool }).pool;
  });
  after(async () => {
    client?.close();
    await etcd?.stop();
  });

  test('cancelling the last watcher of a namespace (as an election does) keeps the connections', async () => {
    const told: Error[] = [];
    const markFailed = pool.markFailed.bind(pool);
    pool.markFailed = (resource, error) => {
      told.push(error);
      markFailed(resource, error);
    };
    const watched = await watchOf('main');
    try {
      const was = services();
      const w = await client.namespace('ns/').watch().key('k').create();
      await w.cancel();
      // The namespace's watch stream, cancelled by the client itself, reports CANCELLED to the pool...
      await eventually(() => told.length > 0, 5000, 'the cancelled stream to reach the pool');
      assert.ok(isCancel(told[0]), String(told[0]));
      // ...which is no reason to close the host's service clients.
      assertSame(services(), was);
      await watchedPut(watched);
    } finally {
      pool.markFailed = markFailed;
      await watched.cancel();
    }
  });

  test('a connection reset with etcd up fails every stream on it at once: they start again, and calls are not refused', async () => {
    const proxy = await tcpProxy(etcd.url);
    const via = await connectEtcd({ endpoints: [proxy.url], dialTimeoutMs: 1000 });
    // Streams of the kinds an agent keeps: a lease's keepalive (TTL 3 s: one a second), watches of two
    // watch managers.
    const lease = via.lease(3);
    lease.on('lost', () => undefined);
    let watched: Watcher | undefined;
    let other: Watcher | undefined;
    try {
      await lease.grant();
      await new Promise((resolve) => lease.once('keepaliveSucceeded', resolve));
      const main = await via.watch().key('main').create();
      watched = main;
      other = await via.namespace('ns/').watch().key('k').create();
      const dropped = Promise.all([
        new Promise((resolve) => main.once('disconnected', resolve)),
        new Promise((resolve) => lease.once('keepaliveFailed', resolve)),
      ]);
      proxy.reset();
      await dropped;
      // Counted as the host's failures, the three streams' would have opened its circuit breaker: calls
      // refused for a second ("its last 3 calls failed") with etcd answering.
      for (let i = 0; i < 3; i++) await via.get('main').string();
      const put = new Promise((resolve) => main.once('put', resolve));
      await via.put('main').value(String(Date.now()));
      await put;
      await new Promise((resolve) => lease.once('keepaliveSucceeded', resolve));
    } finally {
      // Their loops would go on trying the closed client and keep this process alive.
      await watched?.cancel();
      await other?.cancel();
      lease.release();
      via.close();
      proxy.close();
    }
  });

  test('a call past its deadline (etcd frozen) keeps the connections', async () => {
    const watched = await watchOf('main');
    try {
      const was = services();
      try {
        await freezeProcess(etcd.process.pid!);
        await assert.rejects(client.get('main').string(), EtcdUnreachableError);
      } finally {
        etcd.process.kill('SIGCONT');
      }
      assertSame(services(), was);
      await watchedPut(watched);
    } finally {
      await watched.cancel();
    }
  });
});

/** A TCP proxy to etcd whose connections can be reset (as a NAT or firewall on the way does). */
async function tcpProxy(target: string): Promise<{ url: string; reset(): void; close(): void }> {
  const { hostname, port } = new URL(target);
  const sockets = new Set<Socket>();
  const server = createServer((inbound) => {
    const outbound = createConnection({ host: hostname, port: Number(port) });
    for (const [a, b] of [
      [inbound, outbound],
      [outbound, inbound],
    ] as const) {
      sockets.add(a);
      a.pipe(b);
      a.on('error', () => b.destroy());
      a.on('close', () => {
        sockets.delete(a);
        b.destroy();
      });
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port: local } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${local}`,
    reset: () => {
      for (const s of sockets) s.resetAndDestroy();
    },
    close: () => {
      server.close();
      for (const s of sockets) s.destroy();
    },
  };
}
