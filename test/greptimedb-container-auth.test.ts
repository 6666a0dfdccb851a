// The GreptimeDB container a head starts gets the credentials of `monitoring.greptimedb.auth` (real Docker,
// a stand-in image: GreptimeDB itself does not run on this machine): GreptimeDB's static user provider
// flag, a `user=password` file mode 0600 in a 0700 directory mounted read-only, the password in no
// argument, environment variable, label or log line; a changed password restarts the container, an
// unusable one is refused naming the field and changes nothing.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { pino } from 'pino';
import { type ClusterConfig, clusterConfigSchema } from '../agent/config/schema.ts';
import { reconcileServices, serviceSpecs } from '../head/services/service-containers.ts';
import { eventually } from './harness/cluster.ts';
import { type Docker, ensureBusyboxImage, requireDocker } from './harness/docker.ts';

const run = promisify(execFile);
const STANDIN = 'nokube-test/greptimedb-auth-standin:1';
const PASSWORD = 'pw-Quartz-7d1f';
const NEW_PASSWORD = 'pw-Basalt-93c0';

describe('GreptimeDB container with auth', { timeout: 120_000 }, () => {
  let docker: Docker;
  let dir: string;
  let config: ClusterConfig;
  const cluster = `gauth${process.pid}`;
  const container = `nokube_${cluster}_greptimedb`;
  const logLines: string[] = [];
  const log = pino({ level: 'debug' }, { write: (l: string) => logLines.push(l) });
  const reconcile = () => reconcileServices(docker, cluster, serviceSpecs(config, config.nodes[0]!), log);
  const ws = () => join(dir, 'ws');
  /** What the stand-in saw at its start (it writes it to its data directory). */
  const seen = (what: string) => readFile(join(ws(), 'greptimedb', what), 'utf8').catch(() => undefined);

  before(async () => {
    docker = await requireDocker();
    const base = await ensureBusyboxImage();
    const build = await mkdtemp(join(tmpdir(), 'nokube-standin-'));
    // Records its arguments, the users file (as GreptimeDB would read it) and the mode of that file as
    // the container sees it, then waits.
    await writeFile(
      join(build, 'entry.sh'),
      'd=/greptimedb_data\necho "$@" > $d/argv.tmp && mv $d/argv.tmp $d/argv\ncat /greptimedb_auth/users > $d/users.tmp && mv $d/users.tmp $d/users\nstat -c %a /greptimedb_auth/users > $d/mode.tmp && mv $d/mode.tmp $d/mode\ntrap "exit 0" TERM\nsleep 3600 & wait\n',
    );
    await writeFile(
      join(build, 'Dockerfile'),
      `FROM ${base}\nCOPY entry.sh /entry.sh\nENTRYPOINT ["/bin/sh", "/entry.sh"]\n`,
    );
    await run('docker', ['build', '-q', '-t', STANDIN, build], {
      env: { ...process.env, DOCKER_BUILDKIT: '0' },
    });
    await rm(build, { recursive: true, force: true });
    dir = await mkdtemp(join(tmpdir(), 'nokube-gauth-'));
    await writeFile(join(dir, 'greptimedb.password'), `${PASSWORD}\n`, { mode: 0o600 });
    config = clusterConfigSchema.parse({
      cluster,
      etcd: { endpoints: ['http://127.0.0.1:2379'] },
      head: { port: 7480 },
      mesh: { port: 7946 },
      monitoring: {
        metricsIntervalSeconds: 5,
        greptimedb: {
          address: '127.0.0.1',
          httpPort: 4000,
          db: 'public',
          container: { image: STANDIN },
          auth: { user: 'nokube', passwordFile: join(dir, 'greptimedb.password') },
        },
        grafana: { address: '127.0.0.2', port: 3000 },
      },
      nodes: [{ name: 'h1', address: '127.0.0.1', roles: ['head'], workspace: ws() }],
    });
  });
  after(async () => {
    await docker
      ?.getContainer(container)
      .remove({ force: true })
      .catch(() => undefined);
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  test('the static user provider reads a user=password file, 0600, mounted read-only; the password is nowhere else', async () => {
    await reconcile();
    const argv = await eventually(() => seen('argv'), 30_000, 'the stand-in started');
    assert.equal(
      argv.trim(),
      'standalone start --data-home /greptimedb_data --http-addr 127.0.0.1:4000 --mysql-addr 127.0.0.1:4002 --user-provider=static_user_provider:file:/greptimedb_auth/users',
    );
    const users = join(ws(), 'greptimedb-auth', 'users');
    assert.equal(await readFile(users, 'utf8'), `nokube=${PASSWORD}\n`);
    assert.equal((await stat(users)).mode & 0o777, 0o600);
    assert.equal((await stat(join(ws(), 'greptimedb-auth'))).mode & 0o777, 0o700);
    // Inside the container: the same file, the same mode, through a read-only mount.
    assert.equal(await eventually(() => seen('users'), 10_000, 'users seen'), `nokube=${PASSWORD}\n`);
    assert.equal((await eventually(() => seen('mode'), 10_000, 'mode seen')).trim(), '600');
    const info = await docker.getContainer(container).inspect();
    const mount = info.Mounts.find((m) => m.Destination === '/greptimedb_auth');
    assert.equal(mount?.Source, join(ws(), 'greptimedb-auth'));
    assert.equal(mount?.RW, false);
    // Arguments, environment, labels, every field Docker keeps of the container; and the head's log.
    assert.ok(!JSON.stringify(info).includes(PASSWORD), 'no password in the container spec');
    assert.ok(!logLines.join('').includes(PASSWORD), 'no password in the log');
  });

  test('a changed password rewrites the file and restarts the container (same container); unchanged, nothing moves', async () => {
    const before = await docker.getContainer(container).inspect();
    await reconcile();
    assert.equal((await docker.getContainer(container).inspect()).State.StartedAt, before.State.StartedAt);
    await writeFile(join(dir, 'greptimedb.password'), `${NEW_PASSWORD}\n`);
    await reconcile();
    const after = await docker.getContainer(container).inspect();
    assert.equal(after.Id, before.Id);
    assert.notEqual(after.State.StartedAt, before.State.StartedAt);
    assert.equal(
      await eventually(
        async () => ((await seen('users')) === `nokube=${NEW_PASSWORD}\n` ? seen('users') : undefined),
        10_000,
        'the new users file seen by the restarted container',
      ),
      `nokube=${NEW_PASSWORD}\n`,
    );
    assert.ok(!JSON.stringify(after).includes(NEW_PASSWORD));
    assert.ok(!logLines.join('').includes(NEW_PASSWORD), 'no password in the log');
    assert.ok(logLines.some((l) => l.includes('credentials changed: restarting the service container')));
  });

  test('a password the users file cannot hold is refused naming the field, never the password; nothing changes', async () => {
    const users = join(ws(), 'greptimedb-auth', 'users');
    const started = (await docker.getContainer(container).inspect()).State.StartedAt;
    for (const [bad, why] of [
      ['a=b-secret', /has a "="/],
      [' padded-secret', /white space/],
      ['plain:x-secret', /starts with "plain:"/],
    ] as const) {
      await writeFile(join(dir, 'greptimedb.password'), `${bad}\n`);
      await assert.rejects(reconcile(), (err: Error) => {
        assert.match(err.message, /^monitoring\.greptimedb\.auth\.passwordFile /);
        assert.match(err.message, why);
        assert.ok(!err.message.includes(bad.trim()), err.message);
        return true;
      });
      assert.equal(await readFile(users, 'utf8'), `nokube=${NEW_PASSWORD}\n`);
    }
    assert.equal((await docker.getContainer(container).inspect()).State.StartedAt, started);
  });

  test('auth removed from the config: the container runs without the provider and the users file is gone', async () => {
    const before = await docker.getContainer(container).inspect();
    config.monitoring!.greptimedb.auth = undefined;
    await reconcile();
    const info = await docker.getContainer(container).inspect();
    assert.notEqual(info.Id, before.Id, 'a changed spec replaces the container');
    assert.ok(!info.Config.Cmd!.some((a) => a.startsWith('--user-provider')));
    assert.equal(
      info.Mounts.find((m) => m.Destination === '/greptimedb_auth'),
      undefined,
    );
    await assert.rejects(stat(join(ws(), 'greptimedb-auth', 'users')), { code: 'ENOENT' });
  });
});
