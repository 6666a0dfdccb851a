// The Shipper against a real HTTP server on loopback: order and headers, retry through an outage with the
// bodies on disk, overflow drops the oldest (counted), refused bodies are dropped, and a restart sends the
// spool.
import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { createLogger } from '../agent/log/logger.ts';
import { Shipper, type ShipperOptions } from '../agent/telemetry/export/shipper.ts';
import { eventually } from './harness/cluster.ts';

const until = <T>(what: string, check: () => Promise<T | undefined> | T | undefined, ms = 5000) =>
  eventually(check, ms, what);

interface Received {
  body: string;
  headers: Record<string, string | string[] | undefined>;
}

/** A receiver whose answer can be changed: 204, or a given status, or a dropped connection. */
function receiver(): Promise<{
  server: Server;
  url: string;
  got: Received[];
  answer: { status: number | 'reset' };
}> {
  const got: Received[] = [];
  const answer: { status: number | 'reset' } = { status: 204 };
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (answer.status === 'reset') {
        req.socket.destroy();
        return;
      }
      if (answer.status < 300) got.push({ body: Buffer.concat(chunks).toString(), headers: req.headers });
      res.writeHead(answer.status).end(answer.status < 300 ? '' : 'no');
    });
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      resolve({ server, url: `http://127.0.0.1:${port}/v1/prometheus/write?db=x`, got, answer });
    }),
  );
}

const log = createLogger({ node: 'test' }, 'silent');
const text = (s: string) => new TextEncoder().encode(s);

describe('shipper', () => {
  let dir: string;
  let rx: Awaited<ReturnType<typeof receiver>>;
  const shippers: Shipper[] = [];
  const make = (o: Partial<ShipperOptions> = {}) => {
    const s = new Shipper({
      pipeline: 'metrics',
      url: rx.url,
      headers: { 'Content-Encoding': 'snappy' },
      contentType: 'application/x-protobuf',
      maxBytes: 1 << 20,
      spoolDir: join(dir, 'spool'),
      log,
      backoff: { initialMs: 30, maxMs: 120 },
      ...o,
    });
    shippers.push(s);
    return s;
  };

  before(async () => {
    rx = await receiver();
  });
  after(async () => {
    for (const s of shippers) await s.stop();
    rx.server.close();
  });

  const fresh = async () => {
    for (const s of shippers.splice(0)) await s.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
    dir = await mkdtemp(join(tmpdir(), 'nokube-shipper-'));
    rx.got.length = 0;
    rx.answer.status = 204;
  };

  test('bodies arrive in order with the content type and headers', async () => {
    await fresh();
    const s = make();
    for (let i = 0; i < 20; i++) s.enqueue(text(`b${i}`), 2);
    await until('all sent', () => (s.stats().sentBodies === 20 ? true : undefined));
    assert.deepEqual(
      rx.got.map((g) => g.body),
      Array.from({ length: 20 }, (_, i) => `b${i}`),
    );
    assert.equal(rx.got[0]!.headers['content-type'], 'application/x-protobuf');
    assert.equal(rx.got[0]!.headers['content-encoding'], 'snappy');
    assert.equal(s.stats().sentItems, 40);
  });

  test('through an outage the bodies wait on disk, then all arrive in order', async () => {
    await fresh();
    const s = make();
    rx.answer.status = 503;
    for (let i = 0; i < 5; i++) s.enqueue(text(`x${i}`), 1);
    await until('spooled', () => (s.stats().spooledBodies === 5 ? true : undefined));
    await until('on disk', async () => ((await readdir(join(dir, 'spool'))).length === 5 ? true : undefined));
    rx.answer.status = 'reset';
    s.enqueue(text('x5'), 1);
    await until('failures counted', () => (s.stats().failures >= 3 ? true : undefined));
    rx.answer.status = 200;
    await until('all sent', () => (s.stats().sentBodies === 6 ? true : undefined));
    assert.deepEqual(
      rx.got.map((g) => g.body),
      ['x0', 'x1', 'x2', 'x3', 'x4', 'x5'],
    );
    await until('spool emptied', async () =>
      (await readdir(join(dir, 'spool'))).length === 0 ? true : undefined,
    );
    assert.equal(s.stats().queuedBytes, 0);
    assert.match(s.stats().lastError ?? '', /503|socket|closed|ECONNRESET|other side/i);
  });

  test('beyond maxBytes the oldest bodies are dropped and counted; the newest stay', async () => {
    await fresh();
    const s = make({ maxBytes: 100 });
    rx.answer.status = 503;
    for (let i = 0; i < 10; i++) s.enqueue(text(`${i}`.padStart(30, '-')), 3);
    const st = s.stats();
    assert.ok(st.queuedBytes <= 100, `queued ${st.queuedBytes}`);
    assert.ok(st.droppedItems >= 18, `dropped ${st.droppedItems}`);
    assert.equal(st.dropped.overflow, st.droppedItems);
    rx.answer.status = 204;
    await until('rest sent', () => (s.stats().queuedBodies === 0 ? true : undefined));
    const bodies = rx.got.map((g) => g.body.replace(/^-+/, ''));
    assert.equal(bodies.at(-1), '9');
    assert.equal(bodies.length * 3 + s.stats().droppedItems, 30);
  });

  test('a body the endpoint refuses (4xx) is dropped, and the ones behind it still go', async () => {
    await fresh();
    const s = make();
    rx.answer.status = 400;
    s.enqueue(text('bad'), 7);
    await until('rejected', () => (s.stats().dropped.rejected === 7 ? true : undefined));
    rx.answer.status = 204;
    s.enqueue(text('good'), 1);
    await until('sent', () => (s.stats().sentBodies === 1 ? true : undefined));
    assert.deepEqual(
      rx.got.map((g) => g.body),
      ['good'],
    );
  });

  test('a clean stop lets what is queued go out first while the endpoint answers (nothing left to resend)', async () => {
    await fresh();
    const s = make();
    for (let i = 0; i < 5; i++) s.enqueue(text(`last${i}`), 1);
    await s.stop();
    assert.deepEqual(
      rx.got.map((g) => g.body),
      ['last0', 'last1', 'last2', 'last3', 'last4'],
    );
    assert.deepEqual(await readdir(join(dir, 'spool')).catch(() => []), []);
  });

  test('stop() keeps what is unsent on disk; a new shipper on the same spool sends it first', async () => {
    await fresh();
    const first = make();
    rx.answer.status = 503;
    first.enqueue(text('old1'), 1);
    await until('failing', () => (first.stats().failures >= 1 ? true : undefined));
    first.enqueue(text('old2'), 1);
    await first.stop();
    assert.equal((await readdir(join(dir, 'spool'))).length, 2);
    rx.answer.status = 204;
    const second = make();
    second.enqueue(text('new'), 1);
    await until('all sent', () => (second.stats().sentBodies === 3 ? true : undefined));
    assert.deepEqual(
      rx.got.map((g) => g.body),
      ['old1', 'old2', 'new'],
    );
    await until('spool emptied', async () =>
      (await readdir(join(dir, 'spool'))).length === 0 ? true : undefined,
    );
  });
});
