// GreptimeDB credentials (issue 15, item 8) against a stand-in GreptimeDB on loopback that requires HTTP
// basic auth as GreptimeDB does (401 before any handler, body naming the user, never the password): with the
// right password file the data arrives (and the database is created with the same credentials); with a
// wrong one it is refused, kept in the spool and retried, and once the file is fixed everything arrives;
// a missing file keeps the data too and names the field. The password is in no log line, no stats, and not
// in what the head provisions for Grafana (which reads it from the file itself); a real agent sends its
// metrics and logs with it, and `config get` shows the file, not the password.
import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import pino from 'pino';
import { parse } from 'yaml';
import type { ClusterConfig, NodeConfig } from '../agent/config/schema.ts';
import { validateConfigText } from '../agent/config/validate.ts';
import { storeConfig } from '../agent/store/config-store.ts';
import { BasicAuth } from '../agent/telemetry/export/basic-auth.ts';
import { Shipper } from '../agent/telemetry/export/shipper.ts';
import { datasourcesYaml } from '../head/dashboards/serve.ts';
import { serviceSpecs } from '../head/services/service-containers.ts';
import { createTestCluster, eventually, runCli, type TestCluster } from './harness/cluster.ts';

const USER = 'nokube';
const PASSWORD = 'pa55-word-under-test';
const withoutAuth = `  metricsIntervalSeconds: 5
  greptimedb:
    address: 10.0.0.1
    httpPort: 4000
    db: public
  grafana:
    address: 10.0.0.1
    port: 3000
`;

/** GreptimeDB's HTTP API as far as auth goes: every path needs `Basic base64(USER:PASSWORD)`. */
function authenticatedGreptime(
  host = '127.0.0.1',
): Promise<{ server: Server; base: string; port: number; got: string[]; paths: Set<string>; sql: string[] }> {
  const got: string[] = [];
  const paths = new Set<string>();
  const sql: string[] = [];
  const want = `Basic ${Buffer.from(`${USER}:${PASSWORD}`).toString('base64')}`;
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (req.headers.authorization !== want) {
        // What GreptimeDB answers (src/servers/src/http/authorize.rs: UserPasswordMismatch -> 401).
        res
          .writeHead(401, { 'content-type': 'application/json' })
          .end(
            JSON.stringify({ code: 7002, error: `Username and password does not match, username: ${USER}` }),
          );
        return;
      }
      const body = Buffer.concat(chunks).toString();
      if (req.url === '/v1/sql') {
        sql.push(new URLSearchParams(body).get('sql') ?? '');
        res.writeHead(200, { 'content-type': 'application/json' }).end('{"output":[{"affectedrows":1}]}');
        return;
      }
      got.push(body);
      paths.add(req.url ?? '');
      res.writeHead(204).end();
    });
  });
  return new Promise((resolve) =>
    server.listen(0, host, () => {
      const { port } = server.address() as AddressInfo;
      resolve({ server, base: `http://${host}:${port}`, port, got, paths, sql });
    }),
  );
}

describe('GreptimeDB basic auth', () => {
  let dir: string;
  let rx: Awaited<ReturnType<typeof authenticatedGreptime>>;
  let logged = '';
  const log = pino(
    { level: 'debug' },
    new Writable({
      write(chunk, _enc, done) {
        logged += chunk;
        done();
      },
    }),
  );
  const shippers: Shipper[] = [];
  const ship = (passwordFile: string, spool: string) => {
    const s = new Shipper({
      pipeline: 'metrics',
      url: `${rx.base}/v1/prometheus/write?db=public`,
      database: { sqlUrl: `${rx.base}/v1/sql`, name: 'public' },
      auth: new BasicAuth({ user: USER, passwordFile }),
      headers: {},
      contentType: 'application/x-protobuf',
      maxBytes: 1 << 20,
      spoolDir: join(dir, spool),
      log,
      backoff: { initialMs: 20, maxMs: 80 },
    });
    shippers.push(s);
    return s;
  };
  const body = (s: string) => new TextEncoder().encode(s);

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'nokube-telemetry-auth-'));
    rx = await authenticatedGreptime();
  });
  after(async () => {
    for (const s of shippers) await s.stop();
    rx.server.close();
    await rm(dir, { recursive: true, force: true });
  });

  test('with the right password file the data arrives, and the database is created with it', async () => {
    const file = join(dir, 'right.password');
    await writeFile(file, `${PASSWORD}\n`, { mode: 0o600 });
    const s = ship(file, 'spool-right');
    s.enqueue(body('a'), 1);
    s.enqueue(body('b'), 1);
    await eventually(() => s.stats().sentItems === 2, 5000, 'both bodies delivered');
    assert.deepEqual(rx.got, ['a', 'b']);
    await eventually(() => rx.sql.length > 0, 5000, 'the database ensured');
    assert.match(rx.sql[0]!, /^CREATE DATABASE IF NOT EXISTS `public`$/);
  });

  test('a wrong password is refused (401), the data waits in the spool, the fixed file delivers it all', async () => {
    rx.got.length = 0;
    const file = join(dir, 'wrong.password');
    await writeFile(file, 'not-the-password\n', { mode: 0o600 });
    const s = ship(file, 'spool-wrong');
    for (const b of ['x0', 'x1', 'x2']) s.enqueue(body(b), 1);
    await eventually(() => s.stats().failures >= 2, 5000, 'refusals counted');
    await eventually(
      async () => (await readdir(join(dir, 'spool-wrong'))).length === 3,
      5000,
      'the bodies in the spool',
    );
    assert.equal(rx.got.length, 0);
    assert.match(s.stats().lastError ?? '', /HTTP 401/);
    assert.match(logged, /refuses the request \(authentication or permission\); keeping the data on disk/);

    await writeFile(file, PASSWORD, { mode: 0o600 });
    await eventually(() => s.stats().sentItems === 3, 5000, 'everything delivered once the file is fixed');
    assert.deepEqual(rx.got, ['x0', 'x1', 'x2']);
    assert.equal(s.stats().droppedItems, 0);
    await eventually(
      async () => (await readdir(join(dir, 'spool-wrong'))).length === 0,
      5000,
      'the spool emptied',
    );
  });

  test('a missing password file keeps the data and names the field and the file', async () => {
    rx.got.length = 0;
    const file = join(dir, 'missing.password');
    const s = ship(file, 'spool-missing');
    s.enqueue(body('m'), 1);
    await eventually(() => s.stats().failures >= 1, 5000, 'the failure counted');
    assert.equal(s.stats().lastError, `monitoring.greptimedb.auth.passwordFile ${file}: ENOENT`);
    await writeFile(file, PASSWORD);
    await eventually(() => s.stats().sentItems === 1, 5000, 'delivered once the file is there');
    assert.deepEqual(rx.got, ['m']);
  });

  test('the password is in no log line and no stats', () => {
    assert.ok(logged.length > 0);
    const b64 = Buffer.from(`${USER}:${PASSWORD}`).toString('base64');
    for (const s of shippers) {
      const stats = JSON.stringify(s.stats());
      assert.ok(!stats.includes(PASSWORD) && !stats.includes(b64));
    }
    assert.ok(!logged.includes(PASSWORD), 'password in the log');
    assert.ok(!logged.includes(b64), 'basic auth header in the log');
  });
});

describe('GreptimeDB and Grafana credentials in the provisioning', () => {
  const config = (monitoring: string): ClusterConfig =>
    validateConfigText(
      `cluster: demo
etcd: { endpoints: [http://10.0.0.1:2379] }
head: { port: 7480 }
mesh: { port: 7946 }
monitoring:
${monitoring}nodes:
  - { name: a, address: 10.0.0.1, roles: [head, worker], workspace: /var/lib/nokube }
`,
      'cluster.yaml',
    ).config;
  const withAuth = config(`  metricsIntervalSeconds: 5
  greptimedb:
    address: 10.0.0.1
    httpPort: 4000
    db: public
    auth: { user: ${USER}, passwordFile: /etc/nokube/greptimedb.password }
  grafana:
    address: 10.0.0.1
    port: 3000
    container: { image: grafana/grafana-oss:12.2.0 }
    adminPasswordFile: /etc/nokube/grafana-admin.password
`);

  test('both datasources log in as the user and let Grafana read the password from the file', () => {
    const yaml = datasourcesYaml(withAuth)!;
    const doc = parse(yaml) as { datasources: Array<Record<string, unknown>> };
    const [metrics, logs] = doc.datasources as [Record<string, unknown>, Record<string, unknown>];
    assert.equal(metrics.basicAuth, true);
    assert.equal(metrics.basicAuthUser, USER);
    assert.deepEqual(metrics.secureJsonData, {
      httpHeaderValue1: 'public',
      basicAuthPassword: '$__file{/etc/nokube/greptimedb.password}',
    });
    assert.equal(logs.user, USER);
    assert.deepEqual(logs.secureJsonData, { password: '$__file{/etc/nokube/greptimedb.password}' });
    const none = parse(datasourcesYaml(config(withoutAuth))!) as typeof doc;
    for (const d of none.datasources) {
      assert.equal(d.basicAuth, undefined);
      assert.equal(d.user, undefined);
    }
  });

  test('the Grafana container gets both files read-only and its admin password through __FILE', () => {
    const self = withAuth.nodes[0] as NodeConfig;
    const grafana = serviceSpecs(withAuth, self).find((s) => s.name === 'grafana')!;
    assert.ok(grafana.env?.includes('GF_SECURITY_ADMIN_PASSWORD__FILE=/etc/nokube/grafana-admin.password'));
    assert.ok(grafana.binds.includes('/etc/nokube/greptimedb.password:/etc/nokube/greptimedb.password:ro'));
    assert.ok(
      grafana.binds.includes('/etc/nokube/grafana-admin.password:/etc/nokube/grafana-admin.password:ro'),
    );
  });

  test('adminPasswordFile without the Grafana container is refused; a user name with ":" too', () => {
    const bad = (monitoring: string) => {
      try {
        config(monitoring);
      } catch (err) {
        return (err as Error).message;
      }
      return '';
    };
    assert.match(
      bad(withoutAuth.replace('    port: 3000\n', '    port: 3000\n    adminPasswordFile: /etc/p\n')),
      /monitoring\.grafana\.adminPasswordFile.*needs monitoring\.grafana\.container/,
    );
    assert.match(
      bad(
        withoutAuth.replace(
          '    db: public\n',
          '    db: public\n    auth: { user: "a:b", passwordFile: /p }\n',
        ),
      ),
      /monitoring\.greptimedb\.auth\.user.*without ":"/,
    );
  });
});

describe('an agent sends its metrics and logs with the credentials', { timeout: 90_000 }, () => {
  let c: TestCluster;
  let rx: Awaited<ReturnType<typeof authenticatedGreptime>>;
  let dir: string;

  before(async () => {
    rx = await authenticatedGreptime();
    dir = await mkdtemp(join(tmpdir(), 'nokube-telemetry-auth-agent-'));
    const passwordFile = join(dir, 'greptimedb.password');
    await writeFile(passwordFile, `${PASSWORD}\n`, { mode: 0o600 });
    c = await createTestCluster({ nodes: 1, net: 94 });
    const monitoring = `monitoring:\n  metricsIntervalSeconds: 1\n  greptimedb:\n    address: 127.0.0.1\n    httpPort: ${rx.port}\n    db: public\n    auth: { user: ${USER}, passwordFile: ${passwordFile} }\n  grafana:\n    address: 127.0.0.1\n    port: 3000\n`;
    await c.withEtcd((etcd) =>
      storeConfig(etcd, c.configYaml(c.nodes, monitoring), c.configFile, 'test', 'latest').then(
        () => undefined,
      ),
    );
    await c.startAgent('n1');
  });
  after(async () => {
    await c?.stop();
    rx?.server.close();
    await rm(dir, { recursive: true, force: true });
  });

  test('remote write and OTLP logs arrive authenticated; the config shows the file, not the password', async () => {
    await eventually(
      () => rx.paths.has('/v1/prometheus/write?db=public') && rx.paths.has('/v1/otlp/v1/logs'),
      30_000,
      'metrics and logs accepted by the authenticated GreptimeDB',
    );
    const shown = await runCli(['config', 'get'], c.env);
    assert.equal(shown.code, 0, shown.stderr);
    assert.match(shown.stdout, /passwordFile: .*greptimedb\.password/);
    assert.ok(!shown.stdout.includes(PASSWORD));
    assert.ok(!c.agents.get('n1')!.output().includes(PASSWORD), 'password in the agent log');
  });
});
