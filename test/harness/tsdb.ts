// A real PromQL time-series database that takes Prometheus remote write, standing in for GreptimeDB in
// tests: Debian's victoria-metrics on a free loopback port (temp storage), behind a small HTTP front that
// speaks GreptimeDB's paths — it accepts `POST /v1/prometheus/write?db=<db>` (checking the remote-write
// headers and the db) and forwards the body to VictoriaMetrics' write API, and it passes
// `/v1/prometheus/api/v1/...` (PromQL, label values: what Grafana's Prometheus datasource asks) through.
// Like GreptimeDB it has only the database `public` at first: a write into another is answered 400
// "Failed to find schema, schema info: <db>" until `POST /v1/sql` runs `CREATE DATABASE IF NOT EXISTS`.
//
//   const tsdb = await startTsdb({ db: 'public' });
//   config: monitoring.greptimedb = { address: '127.0.0.1', httpPort: tsdb.port, db: 'public' }
//   await tsdb.query('nokube_node_cpu_usage_ratio')   -> the instant vector's samples
//   tsdb.writes / tsdb.rejected                        -> what the front saw
//   tsdb.sql / tsdb.missingDatabase                    -> SQL statements; writes into a missing database
//   tsdb.setDown(true)                                 -> the front answers 503 (an outage)
//   await tsdb.stop()
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './ports.ts';

export interface PromSample {
  metric: Record<string, string>;
  value: [number, string];
}

export interface Tsdb {
  /** The GreptimeDB-like front's port (monitoring.greptimedb.httpPort). */
  port: number;
  /** Base URL of the Prometheus API as Grafana's datasource would use it. */
  promUrl: string;
  /** Remote-write requests accepted / refused by the front (with why). */
  writes: number;
  rejected: string[];
  /** Statements received at /v1/sql, and writes answered "database missing". */
  sql: string[];
  missingDatabase: number;
  query(promql: string): Promise<PromSample[]>;
  /** Label values as Grafana's `label_values()` variables ask them. */
  labelValues(label: string, match?: string): Promise<string[]>;
  setDown(down: boolean): void;
  stop(): Promise<void>;
}

export async function startTsdb(opts: { db: string }): Promise<Tsdb> {
  const dir = await mkdtemp(join(tmpdir(), 'nokube-tsdb-'));
  const vmPort = await freePort();
  const vm: ChildProcess = spawn(
    'victoria-metrics',
    [
      `-storageDataPath=${dir}`,
      `-httpListenAddr=127.0.0.1:${vmPort}`,
      '-http.pathPrefix=/v1/prometheus',
      '-retentionPeriod=1d',
      // Tests query what was just written: no 1 min "latency offset", no result cache.
      '-search.latencyOffset=0s',
      '-search.disableCache',
      '-loggerLevel=ERROR',
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  vm.stderr!.on('data', (d) => {
    stderr = (stderr + d).slice(-4000);
  });
  const vmBase = `http://127.0.0.1:${vmPort}/v1/prometheus`;
  const deadline = Date.now() + 20_000;
  for (;;) {
    if (vm.exitCode !== null) throw new Error(`victoria-metrics exited ${vm.exitCode}: ${stderr}`);
    const ok = await fetch(`${vmBase}/health`).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) break;
    if (Date.now() > deadline) throw new Error(`victoria-metrics did not start: ${stderr}`);
    await new Promise((r) => setTimeout(r, 100));
  }

  let down = false;
  const state = { writes: 0, rejected: [] as string[], sql: [] as string[], missingDatabase: 0 };
  const databases = new Set(['public']);
  const front: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://front');
      const reply = (status: number, text: string) => res.writeHead(status).end(text);
      if (down) return reply(503, 'down for the test');
      if (req.method === 'POST' && url.pathname === '/v1/sql') {
        const sql = new URLSearchParams(Buffer.concat(chunks).toString()).get('sql') ?? '';
        state.sql.push(sql);
        const m = /^CREATE DATABASE IF NOT EXISTS `([^`]+)`$/.exec(sql);
        if (!m) return reply(400, JSON.stringify({ code: 2000, error: `not supported here: ${sql}` }));
        databases.add(m[1]!);
        return reply(200, JSON.stringify({ output: [{ affectedrows: 1 }], execution_time_ms: 1 }));
      }
      if (req.method === 'POST' && url.pathname === '/v1/prometheus/write') {
        const h = req.headers;
        const problems = [
          url.searchParams.get('db') === opts.db ? '' : `db=${url.searchParams.get('db')}`,
          h['content-type'] === 'application/x-protobuf' ? '' : `content-type ${h['content-type']}`,
          h['content-encoding'] === 'snappy' ? '' : `content-encoding ${h['content-encoding']}`,
          h['x-prometheus-remote-write-version'] === '0.1.0' ? '' : 'no remote-write version',
        ].filter(Boolean);
        if (problems.length > 0) {
          state.rejected.push(problems.join(', '));
          return reply(400, problems.join(', '));
        }
        if (!databases.has(opts.db)) {
          state.missingDatabase++;
          return reply(400, JSON.stringify({ error: `Failed to find schema, schema info: ${opts.db}` }));
        }
        fetch(`${vmBase}/api/v1/write`, {
          method: 'POST',
          body: Buffer.concat(chunks),
          headers: { 'content-type': 'application/x-protobuf', 'content-encoding': 'snappy' },
        }).then(
          async (r) => {
            if (r.ok) state.writes++;
            else state.rejected.push(`victoria-metrics: ${r.status} ${await r.text()}`);
            reply(r.status, await r.text());
          },
          (err) => reply(502, String(err)),
        );
        return;
      }
      if (url.pathname.startsWith('/v1/prometheus/api/v1/')) {
        fetch(`http://127.0.0.1:${vmPort}${url.pathname}${url.search}`, {
          method: req.method ?? 'GET',
          ...(chunks.length > 0 ? { body: Buffer.concat(chunks) } : {}),
          headers: { 'content-type': req.headers['content-type'] ?? 'application/x-www-form-urlencoded' },
        }).then(
          async (r) => {
            res.writeHead(r.status, { 'content-type': r.headers.get('content-type') ?? 'application/json' });
            res.end(Buffer.from(await r.arrayBuffer()));
          },
          (err) => reply(502, String(err)),
        );
        return;
      }
      reply(404, `no route ${url.pathname}`);
    });
  });
  await new Promise<void>((resolve) => front.listen(0, '127.0.0.1', resolve));
  const port = (front.address() as AddressInfo).port;
  const promUrl = `http://127.0.0.1:${port}/v1/prometheus`;

  const api = async <T>(path: string, params: Record<string, string>): Promise<T> => {
    const r = await fetch(`${promUrl}/api/v1/${path}?${new URLSearchParams(params)}`);
    const body = (await r.json()) as { status: string; data: T; error?: string };
    if (body.status !== 'success') throw new Error(`PromQL ${JSON.stringify(params)}: ${body.error}`);
    return body.data;
  };

  return {
    port,
    promUrl,
    get writes() {
      return state.writes;
    },
    get rejected() {
      return state.rejected;
    },
    get sql() {
      return state.sql;
    },
    get missingDatabase() {
      return state.missingDatabase;
    },
    async query(promql) {
      const data = await api<{ resultType: string; result: PromSample[] }>('query', { query: promql });
      return data.result;
    },
    async labelValues(label, match) {
      return api<string[]>(`label/${encodeURIComponent(label)}/values`, match ? { 'match[]': match } : {});
    },
    setDown(d) {
      down = d;
    },
    async stop() {
      await new Promise<void>((resolve) => front.close(() => resolve()));
      front.closeAllConnections();
      vm.kill('SIGTERM');
      await new Promise((r) => (vm.exitCode !== null ? r(null) : vm.once('exit', r)));
      await rm(dir, { recursive: true, force: true });
    },
  } as Tsdb;
}
