// Head services with a real Docker engine and a real head: GreptimeDB and Grafana containers (stand-in
// images built here from busybox: they record how they were started and serve that over HTTP at the
// configured address) with their arguments, environment, data and provisioning mounts; adopted without a
// restart when the head restarts; the dashboards and provisioning served over the head's API; the
// read-only file server with listings, ranges, and no way out of its root; credentials (GreptimeDB's
// password, Grafana's admin password) reach Grafana as read-only files, never as values.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { storeConfig } from '../agent/store/config-store.ts';
import { createTestCluster, eventually, type TestCluster } from './harness/cluster.ts';
import { type Docker, ensureBusyboxImage, requireDocker } from './harness/docker.ts';
import { freePort } from './harness/ports.ts';

const run = promisify(execFile);
const GREPTIME_IMAGE = 'nokube-test/greptimedb-standin:1';
const GRAFANA_IMAGE = 'nokube-test/grafana-standin:1';

/** A stand-in image: busybox with an entrypoint script. */
async function buildStandin(tag: string, base: string, script: string): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'nokube-standin-'));
  await writeFile(join(dir, 'entry.sh'), script, { mode: 0o755 });
  await writeFile(
    join(dir, 'Dockerfile'),
    `FROM ${base}\nCOPY entry.sh /entry.sh\nENTRYPOINT ["/bin/sh", "/entry.sh"]\n`,
  );
  await run('docker', ['build', '-q', '-t', tag, dir], { env: { ...process.env, DOCKER_BUILDKIT: '0' } });
}

describe('head services', { timeout: 180_000 }, () => {
  let docker: Docker;
  let c: TestCluster;
  let ws: string;
  const ports = { http: 0, mysql: 0, grafana: 0, files: 0 };
  const head = () => c.nodes[0]!;
  const get = (url: string, headers: Record<string, string> = {}) => fetch(url, { headers });

  before(async () => {
    docker = await requireDocker();
    const base = await ensureBusyboxImage();
    await buildStandin(
      GREPTIME_IMAGE,
      base,
      `echo "$@" > /greptimedb_data/argv\nwhile [ $# -gt 0 ]; do [ "$1" = --http-addr ] && addr="$2"; shift; done\nexec httpd -f -p "$addr" -h /greptimedb_data\n`,
    );
    await buildStandin(
      GRAFANA_IMAGE,
      base,
      `mkdir -p /var/lib/grafana/seen\nenv | sort > /var/lib/grafana/seen/env\ncp /etc/grafana/provisioning/datasources/nokube.yaml /var/lib/grafana/seen/datasources.yaml\nls /var/lib/grafana/dashboards/nokube > /var/lib/grafana/seen/dashboards\nexec httpd -f -p "$GF_SERVER_HTTP_ADDR:$GF_SERVER_HTTP_PORT" -h /var/lib/grafana/seen\n`,
    );
    for (const k of Object.keys(ports) as Array<keyof typeof ports>) ports[k] = await freePort();
    c = await createTestCluster({ nodes: 1, net: 61 });
    const addr = head().address;
    const monitoring = `monitoring:\n  metricsIntervalSeconds: 5\n  greptimedb:\n    address: ${addr}\n    httpPort: ${ports.http}\n    mysqlPort: ${ports.mysql}\n    db: public\n    container: {image: ${GREPTIME_IMAGE}}\n  grafana:\n    address: ${addr}\n    port: ${ports.grafana}\n    container: {image: ${GRAFANA_IMAGE}}\n`;
    const text = c
      .configYaml(undefined, monitoring)
      .replace(/^head:\n {2}port: (\d+)\n/m, (m) => `${m}  fileServer: {port: ${ports.files}}\n`);
    await c.withEtcd((etcd) => storeConfig(etcd, text, c.configFile, 'test', 'latest').then(() => undefined));
    ws = join(c.configFile, '..', 'ws', 'n1');
    await c.startAgent('n1');
  });
  after(async () => {
    await c?.stop();
    for (const name of ['greptimedb', 'grafana'])
      await docker
        ?.getContainer(`nokube_${c?.name}_${name}`)
        .remove({ force: true })
        .catch(() => undefined);
  });

  test('GreptimeDB runs with its addresses from the config and its data under the workspace', async () => {
    const argv = await eventually(
      async () => {
        const r = await get(`http://${head().address}:${ports.http}/argv`).catch(() => undefined);
        return r?.ok ? r.text() : undefined;
      },
      60_000,
      'the GreptimeDB stand-in answering',
    );
    assert.equal(
      argv.trim(),
      `standalone start --data-home /greptimedb_data --http-addr ${head().address}:${ports.http} --mysql-addr ${head().address}:${ports.mysql}`,
    );
    assert.equal((await readFile(join(ws, 'greptimedb', 'argv'), 'utf8')).trim(), argv.trim());
    const info = await docker.getContainer(`nokube_${c.name}_greptimedb`).inspect();
    assert.equal(info.HostConfig.NetworkMode, 'host');
    assert.equal(info.Config.Labels['nokube.service'], 'greptimedb');
  });

  test('Grafana gets its address, the provisioned datasources and the dashboards', async () => {
    const base = `http://${head().address}:${ports.grafana}`;
    const env = await eventually(
      async () => {
        const r = await get(`${base}/env`).catch(() => undefined);
        return r?.ok ? r.text() : undefined;
      },
      60_000,
      'the Grafana stand-in answering',
    );
    assert.match(env, new RegExp(`^GF_SERVER_HTTP_PORT=${ports.grafana}$`, 'm'));
    assert.match(
      env,
      /^GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH=\/var\/lib\/grafana\/dashboards\/nokube\/home.json$/m,
    );
    const ds = await (await get(`${base}/datasources.yaml`)).text();
    assert.match(
      ds,
      new RegExp(`url: http://${head().address.replaceAll('.', '\\.')}:${ports.http}/v1/prometheus`),
    );
    assert.match(ds, /httpHeaderName1: x-greptime-db-name\n/);
    assert.match(ds, /httpHeaderValue1: public\n/);
    assert.match(ds, new RegExp(`url: ${head().address.replaceAll('.', '\\.')}:${ports.mysql}\\n`));
    assert.equal(
      (await (await get(`${base}/dashboards`)).text()).trim().split('\n').sort().join(','),
      'actors.json,cluster.json,home.json,logs.json',
    );
  });

  test('the head serves the dashboards (Home linked to the configured addresses) and provisioning', async () => {
    const list = (await (await get(`${c.headUrl()}/dashboards/`)).json()) as { items: string[] };
    assert.deepEqual(list.items.sort(), [
      '/dashboards/actors.json',
      '/dashboards/cluster.json',
      '/dashboards/home.json',
      '/dashboards/logs.json',
    ]);
    const home = await (await get(`${c.headUrl()}/dashboards/home.json`)).text();
    assert.ok(home.includes(`http://${head().address}:${ports.http}/dashboard/`), 'GreptimeDB link');
    assert.ok(home.includes(`http://${head().address}:${ports.files}/`), 'file server link');
    assert.doesNotMatch(home, /@@NOKUBE_/);
    const prov = await get(`${c.headUrl()}/provisioning/datasources.yaml`);
    assert.equal(prov.status, 200);
    assert.match(await prov.text(), /uid: nokube-metrics/);
  });

  test('a head restart adopts the running service containers without restarting them', async () => {
    const before = await Promise.all(
      ['greptimedb', 'grafana'].map((n) => docker.getContainer(`nokube_${c.name}_${n}`).inspect()),
    );
    await c.agents.get('n1')!.kill('SIGTERM');
    const agent = await c.startAgent('n1');
    // "agent started" comes once every part has started; the head services' part reconciles the
    // service containers before it returns.
    await eventually(() => agent.output().includes('"msg":"agent started"'), 30_000, 'the agent started');
    const afterRestart = await Promise.all(
      ['greptimedb', 'grafana'].map((n) => docker.getContainer(`nokube_${c.name}_${n}`).inspect()),
    );
    for (let i = 0; i < 2; i++) {
      assert.equal(afterRestart[i]!.Id, before[i]!.Id);
      assert.equal(afterRestart[i]!.State.StartedAt, before[i]!.State.StartedAt);
      assert.equal(afterRestart[i]!.State.Running, true);
    }
  });

  test('the file server lists and serves files, with ranges, and never outside its root', async () => {
    const root = join(ws, 'public_file_server');
    await mkdir(join(root, 'sub'), { recursive: true });
    await writeFile(join(root, 'hello.txt'), 'hello, edge\n');
    await writeFile(join(tmpdir(), `nokube-secret-${process.pid}`), 'secret');
    await symlink(join(tmpdir(), `nokube-secret-${process.pid}`), join(root, 'sub', 'escape')).catch(
      () => undefined,
    );
    const base = `http://${head().address}:${ports.files}`;
    const listing = await (await get(`${base}/`)).text();
    assert.match(listing, /href="hello\.txt">hello\.txt</);
    assert.match(listing, /href="sub\/">sub\/</);
    assert.equal(await (await get(`${base}/hello.txt`)).text(), 'hello, edge\n');
    const part = await get(`${base}/hello.txt`, { range: 'bytes=7-10' });
    assert.equal(part.status, 206);
    assert.equal(await part.text(), 'edge');
    assert.equal(part.headers.get('content-range'), 'bytes 7-10/12');
    assert.equal((await get(`${base}/sub/escape`)).status, 404);
    assert.equal((await get(`${base}/../../etc/passwd`)).status, 404);
    assert.equal((await get(`${base}/%2e%2e/%2e%2e/etc/passwd`)).status, 404);
    assert.equal((await fetch(`${base}/hello.txt`, { method: 'DELETE' })).status, 405);
  });

  test('credentials reach Grafana as files mounted read-only at their paths, never as values', async () => {
    const greptimePassword = join(c.dir, 'greptimedb.password');
    const adminPassword = join(c.dir, 'grafana-admin.password');
    await writeFile(greptimePassword, 'greptime-secret\n', { mode: 0o600 });
    await writeFile(adminPassword, 'admin-secret\n', { mode: 0o600 });
    const before = await docker.getContainer(`nokube_${c.name}_grafana`).inspect();
    const addr = head().address;
    const monitoring = `monitoring:\n  metricsIntervalSeconds: 5\n  greptimedb:\n    address: ${addr}\n    httpPort: ${ports.http}\n    mysqlPort: ${ports.mysql}\n    db: public\n    container: {image: ${GREPTIME_IMAGE}}\n    auth: {user: nokube, passwordFile: ${greptimePassword}}\n  grafana:\n    address: ${addr}\n    port: ${ports.grafana}\n    container: {image: ${GRAFANA_IMAGE}}\n    adminPasswordFile: ${adminPassword}\n`;
    const text = c
      .configYaml(undefined, monitoring)
      .replace(/^head:\n {2}port: (\d+)\n/m, (m) => `${m}  fileServer: {port: ${ports.files}}\n`);
    await c.withEtcd((etcd) => storeConfig(etcd, text, c.configFile, 'test', 'latest').then(() => undefined));
    // The spec changed (environment, mounts): the container is replaced.
    const info = await eventually(
      async () => {
        const i = await docker.getContainer(`nokube_${c.name}_grafana`).inspect();
        return i.Id !== before.Id && i.State.Running ? i : undefined;
      },
      60_000,
      'the Grafana container replaced',
    );
    assert.ok(info.Config.Env.includes(`GF_SECURITY_ADMIN_PASSWORD__FILE=${adminPassword}`));
    for (const f of [greptimePassword, adminPassword])
      assert.ok(info.HostConfig.Binds?.includes(`${f}:${f}:ro`), `${f} mounted read-only`);
    const ds = await readFile(join(ws, 'grafana', 'provisioning', 'datasources', 'nokube.yaml'), 'utf8');
    assert.match(ds, new RegExp(`basicAuthPassword: "\\$__file\\{${greptimePassword}\\}"`));
    const served = await (await get(`${c.headUrl()}/provisioning/datasources.yaml`)).text();
    for (const where of [JSON.stringify(info), ds, served, c.agents.get('n1')!.output()]) {
      assert.ok(!where.includes('greptime-secret'), 'GreptimeDB password shown');
      assert.ok(!where.includes('admin-secret'), 'admin password shown');
    }
  });
});
