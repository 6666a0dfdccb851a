// Logs end to end: a real agent (real etcd, real Docker) exports its own logs and its pods' stdout/stderr
// as OTLP/HTTP protobuf to a receiver in this test, which decodes every body with the official
// opentelemetry-proto definitions (test/otlp-proto) and checks path, headers, resource, attributes,
// timestamps and severities; a 10k-line burst arrives whole; a receiver outage and an agent restart lose
// and repeat nothing.
import assert from 'node:assert/strict';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import protobuf from 'protobufjs';
import { createLogger } from '../agent/log/logger.ts';
import { storeConfig } from '../agent/store/config-store.ts';
import { DockerLogParser } from '../agent/telemetry/logs/docker-log-parser.ts';
import { agentResource, type LogRecord, SCOPE } from '../agent/telemetry/logs/otlp.ts';
import { LogPipeline } from '../agent/telemetry/logs/pipeline.ts';
import { RecordBuffer } from '../agent/telemetry/logs/record-buffer.ts';
import { detectSeverity } from '../agent/telemetry/logs/severity.ts';
import { createTestCluster, eventually, REPO, runCli, type TestCluster } from './harness/cluster.ts';
import { type Docker, ensureBusyboxImage, requireDocker } from './harness/docker.ts';
import { podManifest } from './harness/manifests.ts';
import { freePort } from './harness/ports.ts';

const PROTO_DIR = join(REPO, 'test/otlp-proto');
const root = new protobuf.Root();
root.resolvePath = (_origin, target) => join(PROTO_DIR, target);
root.loadSync('opentelemetry/proto/collector/logs/v1/logs_service.proto');
const ExportLogsServiceRequest = root.lookupType(
  'opentelemetry.proto.collector.logs.v1.ExportLogsServiceRequest',
);

interface KeyValue {
  key: string;
  value: { stringValue?: string };
}
interface Received {
  resource: Record<string, string>;
  time: bigint;
  observed: bigint;
  severityNumber: number;
  severityText: string;
  body: string;
  attrs: Record<string, string>;
}

const kv = (list: KeyValue[] | undefined) =>
  Object.fromEntries((list ?? []).map((a) => [a.key, a.value.stringValue ?? JSON.stringify(a.value)]));

/** An OTLP/HTTP logs endpoint shaped like GreptimeDB's; other paths (metrics) get 204 and are ignored. */
class Receiver {
  records: Received[] = [];
  requests: Array<{ path: string; headers: IncomingHttpHeaders }> = [];
  failures: string[] = [];
  private server: Server | undefined;
  port = 0;

  async start(port: number): Promise<void> {
    this.port = port;
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        if (!req.url?.startsWith('/v1/otlp/v1/logs')) {
          res.writeHead(204).end();
          return;
        }
        this.requests.push({ path: req.url, headers: req.headers });
        try {
          const msg = ExportLogsServiceRequest.toObject(
            ExportLogsServiceRequest.decode(Buffer.concat(chunks)),
            {
              longs: String,
              enums: Number,
            },
          ) as {
            resourceLogs?: Array<{
              resource?: { attributes?: KeyValue[] };
              scopeLogs?: Array<{
                logRecords?: Array<{
                  timeUnixNano: string;
                  observedTimeUnixNano: string;
                  severityNumber?: number;
                  severityText?: string;
                  body?: { stringValue?: string };
                  attributes?: KeyValue[];
                }>;
              }>;
            }>;
          };
          for (const rl of msg.resourceLogs ?? []) {
            const resource = kv(rl.resource?.attributes);
            for (const sl of rl.scopeLogs ?? [])
              for (const r of sl.logRecords ?? [])
                this.records.push({
                  resource,
                  time: BigInt(r.timeUnixNano),
                  observed: BigInt(r.observedTimeUnixNano),
                  severityNumber: r.severityNumber ?? 0,
                  severityText: r.severityText ?? '',
                  body: r.body?.stringValue ?? '',
                  attrs: kv(r.attributes),
                });
          }
          res.writeHead(200, { 'content-type': 'application/x-protobuf' }).end();
        } catch (err) {
          this.failures.push(String(err));
          res.writeHead(400).end();
        }
      });
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => resolve());
    });
    this.server = server;
  }

  async stop(): Promise<void> {
    const s = this.server;
    this.server = undefined;
    if (!s) return;
    s.closeAllConnections();
    await new Promise<void>((r) => s.close(() => r()));
  }

  of(sourceId: string): Received[] {
    return this.records.filter((r) => r.attrs.source_id === sourceId);
  }
}

/** Numbers of the lines "<word> N" of one container, in arrival order. */
const numbers = (records: Received[], word: string) => {
  const line = new RegExp(`^${word} (\\d+)$`);
  return records.flatMap((r) => {
    const m = line.exec(r.body);
    return m ? [Number(m[1])] : [];
  });
};

function assertContiguous(seq: number[], what: string): void {
  const sorted = [...seq].sort((a, b) => a - b);
  assert.equal(new Set(seq).size, seq.length, `${what}: no line twice`);
  assert.equal(sorted[0], 0, `${what}: starts at 0`);
  assert.equal(sorted.at(-1), sorted.length - 1, `${what}: no line missing (${sorted.length} lines)`);
  assert.deepEqual(seq, sorted, `${what}: in order`);
}

test('Docker log streams: frames and lines cut anywhere, ns timestamps, TTY streams', () => {
  const frame = (type: number, text: string) => {
    const body = Buffer.from(text);
    const head = Buffer.alloc(8);
    head[0] = type;
    head.writeUInt32BE(body.length, 4);
    return Buffer.concat([head, body]);
  };
  const stream = Buffer.concat([
    frame(1, '2026-11-23T04:33:43.123456789Z héllo\n'),
    frame(2, '2026-11-23T04:33:43.5Z oops\n'),
    frame(1, '2026-11-23T04:33:44Z \n'),
  ]);
  for (const step of [1, 3, 7, stream.length]) {
    const got: unknown[] = [];
    const p = new DockerLogParser(true, (s, t, text) => got.push([s, t, text]));
    for (let at = 0; at < stream.length; at += step) p.push(stream.subarray(at, at + step));
    const s = Date.UTC(2026, 10, 23, 4, 33, 43) / 1000;
    assert.deepEqual(
      got,
      [
        ['stdout', [s, 123456789], 'héllo'],
        ['stderr', [s, 500000000], 'oops'],
        ['stdout', [s + 1, 0], ''],
      ],
      `chunks of ${step} bytes`,
    );
  }
  const tty: unknown[] = [];
  const p = new DockerLogParser(false, (s, t, text) => tty.push([s, t[1], text]));
  p.push(Buffer.from('2026-11-23T04:33:43.1Z a\r\n2026-11-23T04:33:43.2Z b'));
  p.push(Buffer.from('c\n'));
  assert.deepEqual(tty, [
    ['stdout', 100000000, 'a'],
    ['stdout', 200000000, 'bc'],
  ]);
});

test('a container line’s own level becomes its severity', () => {
  const cases: Array<[string, string | undefined]> = [
    ['{"level":30,"msg":"pino"}', 'INFO'],
    ['{"level":50,"msg":"pino error"}', 'ERROR'],
    ['{"ts":1,"level":"warn","msg":"zap"}', 'WARN'],
    ['{"severity":"DEBUG","message":"x"}', 'DEBUG'],
    ['time=2026-11-23T10:00:00Z level=error msg="logfmt"', 'ERROR'],
    ['2026-11-23 10:00:01,123 WARNING some python', 'WARN'],
    ['WARNING:root:python default format', 'WARN'],
    ['[error] nginx-ish', 'ERROR'],
    ['2026/11/23 10:00:01 [notice] 1#1: start', 'INFO'],
    ['I am fine, information is not a level', undefined],
    ['errors: 0 (a word, not a level)', undefined],
    ['plain line', undefined],
  ];
  for (const [line, want] of cases) assert.equal(detectSeverity(line), want, line);
});

/** The pipeline tests' records: line i of one agent. */
const testResource = agentResource({ cluster: 'c', node: 'n', host: 'h', version: 'v' });
const record = (i: number): LogRecord => ({
  hrTime: [i, 0],
  hrTimeObserved: [i, 0],
  severityNumber: 9,
  severityText: 'INFO',
  body: `line ${i}`,
  attributes: {},
  resource: testResource,
  instrumentationScope: SCOPE,
  droppedAttributesCount: 0,
});

test('a record waits at most flushMs; a pipeline with nothing waiting keeps no timer', (t) => {
  t.mock.timers.enable({ apis: ['setTimeout', 'setInterval', 'setImmediate'] });
  const bodies: number[] = [];
  const pipeline = new LogPipeline({
    sink: { enqueue: (_body, items) => bodies.push(items) },
    log: createLogger({ test: 'logs' }, 'silent'),
    flushMs: 1000,
  });
  /** Counts the pipeline's looks at it: a flush (timer or not) reads its length. */
  class Watched extends RecordBuffer {
    looks = 0;
    override get length(): number {
      this.looks++;
      return super.length;
    }
  }
  const source = { buffer: new Watched({ maxRecords: 100, maxBytes: 1 << 20 }) };
  pipeline.add(source);
  // Idle: nothing wakes the pipeline (it flushed every second before).
  t.mock.timers.tick(10_000);
  assert.equal(source.buffer.looks, 0);
  // One record: shipped flushMs after it came, not before.
  source.buffer.push(record(1));
  pipeline.notify(source);
  t.mock.timers.tick(999);
  assert.deepEqual(bodies, []);
  t.mock.timers.tick(1);
  t.mock.timers.runAll();
  assert.deepEqual(bodies, [1]);
  // Idle again: no more looks.
  const looks = source.buffer.looks;
  t.mock.timers.tick(10_000);
  assert.equal(source.buffer.looks, looks);
  // Two records a little apart share the flush the first one started.
  source.buffer.push(record(2));
  pipeline.notify(source);
  t.mock.timers.tick(600);
  source.buffer.push(record(3));
  pipeline.notify(source);
  t.mock.timers.tick(400);
  t.mock.timers.runAll();
  assert.deepEqual(bodies, [1, 2]);
  pipeline.stop();
});

test('a full source buffer drops and counts; the pipeline ships the rest in bounded bodies', () => {
  const bodies: number[] = [];
  const pipeline = new LogPipeline({
    sink: { enqueue: (_body, items) => bodies.push(items) },
    log: createLogger({ test: 'logs' }, 'silent'),
  });
  const source = { buffer: new RecordBuffer({ maxRecords: 10_000, maxBytes: 1 << 30 }) };
  pipeline.add(source);
  for (let i = 0; i < 15_000; i++) source.buffer.push(record(i));
  assert.equal(source.buffer.dropped, 5_000);
  pipeline.stop();
  assert.deepEqual(bodies, Array(10).fill(1000));
  assert.deepEqual(pipeline.stats(), {
    bufferedRecords: 0,
    bufferedBytes: 0,
    sentRecords: 10_000,
    sentBodies: 10,
    droppedRecords: 5_000,
  });
});

describe('logs to an OTLP receiver', { timeout: 300_000 }, () => {
  let c: TestCluster;
  let docker: Docker;
  let image: string;
  const rx = new Receiver();
  const testStart = BigInt(Date.now()) * 1_000_000n;

  const monitoring = (port: number) =>
    `monitoring:\n  metricsIntervalSeconds: 5\n  greptimedb:\n    address: 127.0.0.1\n    httpPort: ${port}\n    db: public\n  grafana:\n    address: 127.0.0.1\n    port: ${port}\n`;
  const putConfig = (text: string) =>
    c.withEtcd((etcd) => storeConfig(etcd, text, c.configFile, 'test', 'latest').then(() => undefined));
  const apply = async (yaml: string) => {
    const r = await runCli(['apply', '-f', '-'], c.env, yaml);
    assert.equal(r.code, 0, `apply failed: ${r.stderr}`);
  };
  const pod = (name: string, script: string, spec?: Record<string, string>) =>
    podManifest(name, image, script, spec);
  /** The pod's container as the engine has it (running or not). */
  const container = async (pod: string) => {
    const [ct] = await docker.listContainers({
      all: true,
      filters: { label: [`nokube.cluster=${c.name}`, `nokube.pod=${pod}`] },
    });
    return ct ? docker.getContainer(ct.Id) : undefined;
  };
  /** The highest `<word> N` the pod's container printed (read from the engine, not from the export). */
  const printed = async (pod: string, word: string) => {
    const out = (await (await container(pod))?.logs({ stdout: true, tail: 5 }))?.toString() ?? '';
    const ns = [...out.matchAll(new RegExp(`${word} (\\d+)`, 'g'))].map((m) => Number(m[1]));
    return ns.length ? Math.max(...ns) : -1;
  };

  before(async () => {
    docker = await requireDocker();
    image = await ensureBusyboxImage();
    await rx.start(await freePort());
    c = await createTestCluster({ nodes: 1, net: 57 });
    await putConfig(c.configYaml(undefined, monitoring(rx.port)));
    await c.startAgent('n1');
  });

  after(async () => {
    await c?.stop();
    await rx.stop();
  });

  test('the agent’s own logs arrive as OTLP protobuf with GreptimeDB’s headers', async () => {
    const started = await eventually(
      () => rx.of('n1').find((r) => r.body === 'agent started'),
      30_000,
      'the "agent started" record',
    );
    assert.deepEqual(rx.failures, [], 'every body decodes with the official definitions');
    const req = rx.requests[0]!;
    assert.equal(req.path, '/v1/otlp/v1/logs');
    assert.equal(req.headers['content-type'], 'application/x-protobuf');
    assert.equal(req.headers['x-greptime-db-name'], 'logs');
    assert.equal(req.headers['x-greptime-log-table-name'], 'nokube_logs');
    assert.equal(req.headers['x-greptime-log-extract-keys'], 'cluster_name,node_name,source,source_id');
    assert.equal(started.resource['service.name'], 'nokube');
    assert.equal(started.resource['host.name'], hostname());
    assert.equal(started.resource.cluster_name, c.name);
    assert.equal(started.resource.node_name, 'n1');
    assert.equal(started.attrs.source, 'agent');
    assert.equal(started.attrs.source_id, 'n1');
    assert.equal(started.attrs.cluster_name, c.name);
    assert.equal(started.attrs.node_name, 'n1');
    assert.equal(started.severityNumber, 9);
    assert.equal(started.severityText, 'INFO');
    assert.ok(started.time >= testStart - 1_000_000_000n && started.time <= BigInt(Date.now()) * 1_000_000n);
    assert.ok(started.observed >= started.time, 'observed after the line was logged');
  });

  test('a burst of 10k container lines arrives whole, in order, with ns timestamps', async () => {
    const before = BigInt(Date.now()) * 1_000_000n - 1_000_000_000n;
    await apply(
      pod(
        'burst',
        'i=0; while [ $i -lt 10000 ]; do echo "burst $i"; i=$((i+1)); done; echo "burst done" >&2; sleep 3600',
      ),
    );
    const id = 'default/burst/main';
    // Docker copies stdout and stderr separately: the stderr line may be stored before the last stdout ones.
    await eventually(
      () => rx.of(id).some((r) => r.body === 'burst done') && numbers(rx.of(id), 'burst').length >= 10_000,
      90_000,
      'the burst to arrive',
    );
    const got = rx.of(id);
    assertContiguous(numbers(got, 'burst'), 'burst');
    assert.equal(numbers(got, 'burst').length, 10_000);
    for (const stream of ['stdout', 'stderr']) {
      const times = got.filter((r) => r.attrs.stream === stream).map((r) => r.time);
      for (let i = 1; i < times.length; i++)
        assert.ok(times[i]! >= times[i - 1]!, `${stream} timestamps never go back (record ${i})`);
    }
    assert.ok(
      got.some((r) => r.time % 1_000_000n !== 0n),
      'nanosecond timestamps (Docker’s), not milliseconds',
    );
    const out = got.find((r) => r.body === 'burst 0')!;
    assert.ok(out.time >= before && out.time <= BigInt(Date.now()) * 1_000_000n);
    assert.deepEqual(
      { ...out.attrs },
      {
        cluster_name: c.name,
        node_name: 'n1',
        source: 'container',
        source_id: id,
        namespace: 'default',
        pod: 'burst',
        container: 'main',
        stream: 'stdout',
      },
    );
    assert.equal(out.severityText, 'INFO');
    const err = got.find((r) => r.body === 'burst done')!;
    assert.equal(err.attrs.stream, 'stderr');
    assert.equal(err.severityText, 'ERROR');
    assert.equal(err.severityNumber, 17);
    assert.equal(out.resource.node_name, 'n1');
    // The agent's /metrics counts them (and no drop).
    const metric = async (name: string, labels: string) => {
      const text = await (await fetch(`${c.agentUrl('n1')}/metrics`)).text();
      const line = text
        .split('\n')
        .find((l) => l.startsWith(`${name}{`) && labels.split(',').every((p) => l.includes(p)));
      return line ? Number(line.slice(line.lastIndexOf(' ') + 1)) : undefined;
    };
    await eventually(
      async () => ((await metric('nokube_export_sent_total', 'pipeline="logs"')) ?? 0) >= 10_001,
      30_000,
      'nokube_export_sent_total{pipeline="logs"} to count the burst',
    );
    assert.equal(await metric('nokube_export_dropped_total', 'pipeline="logs",reason="overflow"'), 0);
  });

  test('receiver down then up: the backlog arrives, nothing twice', async () => {
    await apply(pod('ticker', 'i=0; while true; do echo "tick $i"; i=$((i+1)); sleep 0.05; done'));
    const id = 'default/ticker/main';
    await eventually(() => numbers(rx.of(id), 'tick').length >= 20, 60_000, 'ticks to arrive');
    await rx.stop();
    const seen = Math.max(...numbers(rx.of(id), 'tick'));
    // Lines to be held while the receiver is down: the container prints 80 more first.
    await eventually(async () => (await printed('ticker', 'tick')) > seen + 80, 30_000, '80 ticks printed');
    await rx.start(rx.port);
    await eventually(
      () => Math.max(...numbers(rx.of(id), 'tick')) > seen + 80,
      60_000,
      'ticks logged while the receiver was down',
    );
    assertContiguous(numbers(rx.of(id), 'tick'), 'ticks');
  });

  test('an agent restart resumes from the last line shipped, also of a container that ended meanwhile', async () => {
    const id = 'default/ticker/main';
    const fin = 'default/finisher/main';
    await apply(
      pod('finisher', 'echo "fin 0"; sleep 8; i=1; while [ $i -lt 50 ]; do echo "fin $i"; i=$((i+1)); done', {
        restartPolicy: 'Never',
      }),
    );
    await eventually(() => numbers(rx.of(fin), 'fin').length === 1, 60_000, 'the finisher’s first line');
    const agent = c.agents.get('n1')!;
    assert.equal(await agent.kill('SIGTERM'), 0, 'the agent stops cleanly');
    const seen = Math.max(...numbers(rx.of(id), 'tick'));
    // The finisher prints the rest and exits while no agent runs; the ticker goes on.
    await eventually(
      async () =>
        (await (await container('finisher'))?.inspect())?.State.Status === 'exited' &&
        (await printed('ticker', 'tick')) > seen + 20,
      60_000,
      'the finisher to exit and 20 ticks printed while no agent runs',
    );
    await c.startAgent('n1');
    await eventually(
      () => Math.max(...numbers(rx.of(id), 'tick')) > seen + 200 && numbers(rx.of(fin), 'fin').length >= 50,
      60_000,
      'ticks logged while the agent was down, and the finisher’s last lines',
    );
    assertContiguous(numbers(rx.of(id), 'tick'), 'ticks across the restart');
    assertContiguous(numbers(rx.of(fin), 'fin'), 'finisher');
  });

  test('without monitoring in the config nothing more is exported', async () => {
    // Read from the agent's stdout: what is still queued at the stop waits in the spool, unsent.
    const agent = c.agents.get('n1')!;
    const applied = () => agent.output().split('"msg":"config applied"').length;
    const before = applied();
    await putConfig(c.configYaml());
    await eventually(
      () => applied() > before && agent.output().includes('log export stopped'),
      30_000,
      'the config change',
    );
    // Stopped means stopped (pending sends ended): from here on nothing may arrive, while the ticker
    // prints 60 more lines (3 s at 20 a second: 3 flushes, batches go out every second).
    const count = rx.records.length;
    const from = await printed('ticker', 'tick');
    await eventually(async () => (await printed('ticker', 'tick')) > from + 60, 30_000, '60 more ticks');
    assert.equal(rx.records.length, count, 'no record after the export stopped');
  });

  test('a container already running when the export starts is read from its last 10,000 lines', async () => {
    await apply(pod('old', 'i=0; while [ $i -lt 15000 ]; do echo "old $i"; i=$((i+1)); done; sleep 3600'));
    const id = 'default/old/main';
    await eventually(
      async () => (await printed('old', 'old')) === 14_999,
      60_000,
      'the old container to print its lines',
    );
    await putConfig(c.configYaml(undefined, monitoring(rx.port)));
    // A source's lines arrive in order: once its last line is in, any other would have come before it.
    await eventually(
      () => numbers(rx.of(id), 'old').includes(14_999),
      60_000,
      'the old container’s last line',
    );
    const got = numbers(rx.of(id), 'old');
    assert.equal(got.length, 10_000);
    assert.deepEqual([got[0], got.at(-1)], [5_000, 14_999]);
  });
});
