// The Shipper against a real HTTP server on loopback that answers as GreptimeDB does (status codes and
// bodies read in its source, agent/telemetry/export/greptime.ts): order and headers, retry through an
// outage with the bodies on disk, overflow drops the oldest (counted), nothing is lost across a 401/403/429
// period, a missing database is created through the SQL API and the batch then delivered, only a body
// GreptimeDB calls malformed is dropped (counted by reason), failures are logged at a back-off, and a
// restart sends the spool.
import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import pino from 'pino';
import { Registry } from 'prom-client';
import { createLogger } from '../agent/log/logger.ts';
import { Shipper, type ShipperOptions } from '../agent/telemetry/export/shipper.ts';
import { NodeMetrics } from '../agent/telemetry/node-metrics.ts';
import { eventually } from './harness/cluster.ts';

const until = <T>(what: string, check: () => Promise<T | undefined> | T | undefined, ms = 5000) =>
  eventually(check, ms, what);

interface Received {
  body: string;
  headers: Record<string, string | string[] | undefined>;
}

/**
 * A stand-in for GreptimeDB's HTTP API. Writes (any path but /v1/sql) go to the database named by `?db=`
 * or `X-Greptime-DB-Name`: 204 when it exists, else 400 `Failed to find schema, schema info: <db>` (what
 * GreptimeDB answers); `answer.status` overrides that (an error status, or 'reset' for a dropped connection).
 * `POST /v1/sql` records the statement and runs `CREATE DATABASE IF NOT EXISTS \`<db>\`` (200, or
 * `sqlStatus` when set to fail). `open()`: requests it has not answered yet (a client that gave up on one
 * does not end it: it is answered with the status of when its body came).
 */
function greptime(): Promise<{
  server: Server;
  url: string;
  sqlUrl: string;
  got: Received[];
  answer: { status: number | 'reset' };
  databases: Set<string>;
  sql: string[];
  sqlStatus: { status: number };
  open(): number;
}> {
  const got: Received[] = [];
  const answer: { status: number | 'reset' } = { status: 204 };
  const databases = new Set<string>();
  const sql: string[] = [];
  const sqlStatus = { status: 200 };
  const json = (res: import('node:http').ServerResponse, status: number, body: unknown) =>
    res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
  let open = 0;
  const server = createServer((req, res) => {
    open++;
    res.on('close', () => open--);
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://greptime');
      const body = Buffer.concat(chunks).toString();
      if (url.pathname === '/v1/sql') {
        const statement = new URLSearchParams(body).get('sql') ?? '';
        sql.push(statement);
        if (sqlStatus.status !== 200)
          return json(res, sqlStatus.status, {
            code: 1003,
            error: 'Internal error: 1003',
            execution_time_ms: 0,
          });
        const m = /^CREATE DATABASE IF NOT EXISTS `([^`]+)`$/.exec(statement);
        if (!m)
          return json(res, 400, { code: 2000, error: `unexpected: ${statement}`, execution_time_ms: 0 });
        databases.add(m[1]!);
        return json(res, 200, { output: [{ affectedrows: 1 }], execution_time_ms: 3 });
      }
      if (answer.status === 'reset') {
        req.socket.destroy();
        return;
      }
      if (answer.status >= 300) return json(res, answer.status, { error: `status ${answer.status}` });
      const db =
        (req.headers['x-greptime-db-name'] as string | undefined) ?? url.searchParams.get('db') ?? '';
      if (!databases.has(db)) return json(res, 400, { error: `Failed to find schema, schema info: ${db}` });
      got.push({ body, headers: req.headers });
      res.writeHead(answer.status).end();
    });
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      const base = `http://127.0.0.1:${port}`;
      resolve({
        server,
        url: `${base}/v1/prometheus/write?db=x`,
        sqlUrl: `${base}/v1/sql`,
        got,
        answer,
        databases,
        sql,
        sqlStatus,
        open: () => open,
      });
    }),
  );
}

const log = createLogger({ node: 'test' }, 'silent');
const text = (s: string) => new TextEncoder().encode(s);

describe('shipper', () => {
  let dir: string;
  let rx: Awaited<ReturnType<typeof greptime>>;
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
    rx = await greptime();
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
    rx.databases.clear();
    rx.databases.add('x');
    rx.sql.length = 0;
    rx.sqlStatus.status = 200;
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

  test('only a body GreptimeDB calls malformed (400, 413) is dropped, counted by reason; the ones behind it go', async () => {
    await fresh();
    const s = make();
    rx.answer.status = 400;
    s.enqueue(text('bad'), 7);
    await until('dropped as malformed', () => (s.stats().dropped.malformed === 7 ? true : undefined));
    rx.answer.status = 413;
    s.enqueue(text('huge'), 2);
    await until('too large: dropped too', () => (s.stats().dropped.malformed === 9 ? true : undefined));
    rx.answer.status = 204;
    s.enqueue(text('good'), 1);
    await until('sent', () => (s.stats().sentBodies === 1 ? true : undefined));
    assert.deepEqual(
      rx.got.map((g) => g.body),
      ['good'],
    );
    assert.deepEqual(s.stats().dropped, { overflow: 0, malformed: 9, unreadable: 0 });
    assert.equal(s.stats().failures, 0, 'a malformed body is not retried');
    // The same counts at /metrics, by reason.
    const registry = new Registry();
    new NodeMetrics(registry, [{ pipeline: 'metrics', stats: () => s.stats() }], () => undefined);
    const metrics = await registry.metrics();
    assert.match(metrics, /^nokube_export_dropped_total\{pipeline="metrics",reason="malformed"\} 9$/m);
    assert.match(metrics, /^nokube_export_dropped_total\{pipeline="metrics",reason="overflow"\} 0$/m);
    assert.match(metrics, /^nokube_export_dropped_total\{pipeline="metrics",reason="unreadable"\} 0$/m);
  });

  test('nothing is lost across a period of 401, 403, 429 and 404 answers', async () => {
    await fresh();
    const s = make();
    s.enqueue(text('before'), 1);
    await until('first sent', () => (s.stats().sentBodies === 1 ? true : undefined));
    let failures = 0;
    let n = 0;
    for (const status of [401, 403, 429, 404]) {
      rx.answer.status = status;
      s.enqueue(text(`during${n++}`), 1);
      s.enqueue(text(`during${n++}`), 1);
      failures += 2;
      await until(`${status} retried`, () => (s.stats().failures >= failures ? true : undefined));
      assert.match(s.stats().lastError ?? '', new RegExp(`^HTTP ${status}`));
    }
    assert.equal(s.stats().droppedItems, 0);
    assert.equal(s.stats().queuedBodies, n);
    assert.equal((await readdir(join(dir, 'spool'))).length, n, 'kept on disk');
    rx.answer.status = 204;
    await until('all sent', () => (s.stats().sentBodies === 1 + n ? true : undefined));
    assert.deepEqual(
      rx.got.map((g) => g.body),
      ['before', ...Array.from({ length: n }, (_, i) => `during${i}`)],
    );
    assert.deepEqual(s.stats().dropped, { overflow: 0, malformed: 0, unreadable: 0 });
  });

  test('a missing database is created (CREATE DATABASE IF NOT EXISTS) and the batch then delivered', async () => {
    await fresh();
    rx.sqlStatus.status = 503; // the first creation, at start, fails: retried at a back-off
    const s = make({
      url: rx.url.replace('?db=x', ''),
      headers: { 'X-Greptime-DB-Name': 'nokube_Logs' },
      database: { sqlUrl: rx.sqlUrl, name: 'nokube_Logs' },
    });
    s.enqueue(text('first'), 3);
    await until('database missing: kept and retried', () => (s.stats().failures >= 2 ? true : undefined));
    assert.match(s.stats().lastError ?? '', /^HTTP 400: .*Failed to find schema, schema info: nokube_Logs/);
    assert.equal(s.stats().droppedItems, 0);
    assert.ok(rx.sql.length >= 1, 'a creation was tried at start');
    rx.sqlStatus.status = 200;
    await until('created, then delivered', () => (s.stats().sentBodies === 1 ? true : undefined));
    assert.deepEqual([...rx.databases].sort(), ['nokube_Logs', 'x']);
    assert.deepEqual(new Set(rx.sql), new Set(['CREATE DATABASE IF NOT EXISTS `nokube_Logs`']));
    assert.deepEqual(
      rx.got.map((g) => g.body),
      ['first'],
    );
    // The database disappears (dropped by an operator): the next write says so, it is created again.
    const creations = rx.sql.length;
    rx.databases.delete('nokube_Logs');
    s.enqueue(text('second'), 1);
    await until('re-created, then delivered', () => (s.stats().sentBodies === 2 ? true : undefined));
    assert.ok(rx.sql.length > creations, 'created again after a "database not found" answer');
    assert.deepEqual(
      rx.got.map((g) => g.body),
      ['first', 'second'],
    );
    assert.deepEqual(s.stats().dropped, { overflow: 0, malformed: 0, unreadable: 0 });
  });

  test('a failing endpoint and SQL API are logged at a back-off, not once per try', async () => {
    await fresh();
    const lines: Array<{ msg: string; failures?: number }> = [];
    const capture = pino({ level: 'info' }, { write: (l: string) => lines.push(JSON.parse(l)) });
    rx.sqlStatus.status = 500;
    rx.answer.status = 503;
    const s = make({
      log: capture,
      backoff: { initialMs: 10, maxMs: 20 },
      database: { sqlUrl: rx.sqlUrl, name: 'x' },
    });
    s.enqueue(text('kept'), 1);
    await until('many failures', () => (s.stats().failures >= 40 ? true : undefined), 10_000);
    await until('many creation tries', () => (rx.sql.length >= 40 ? true : undefined), 10_000);
    const writes = lines.filter((l) => /keeping the data on disk and retrying/.test(l.msg));
    const creates = lines.filter((l) => /cannot create the GreptimeDB database/.test(l.msg));
    // The 1st, 2nd, 4th, 8th, 16th, 32nd failure: 6 lines for 40+ failures.
    assert.ok(writes.length >= 5 && writes.length <= 7, `write failure lines: ${writes.length}`);
    assert.ok(creates.length >= 5 && creates.length <= 7, `creation failure lines: ${creates.length}`);
    assert.deepEqual(
      writes.slice(0, 4).map((l) => l.failures),
      [1, 2, 4, 8],
    );
    rx.answer.status = 204;
    await until('sent', () => (s.stats().sentBodies === 1 ? true : undefined));
    assert.ok(lines.some((l) => /takes the data again/.test(l.msg)));
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
    // A retry the stop aborted may still be on its way in this process's server: answered (503) before the
    // endpoint recovers, as GreptimeDB would have answered it then (else it counts as delivered while the
    // stopped shipper kept it, and it arrives twice).
    await until('the receiver answered all it got', () => (rx.open() === 0 ? true : undefined));
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
