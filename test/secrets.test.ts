// Secrets at rest, end to end on one cluster (real etcd, two agent processes, the real Docker engine):
// after Secrets are applied, no Secret value (plain or base64) is anywhere in etcd nor in any file of any
// agent workspace; pods read them through env and a volume (on tmpfs, outside the workspace); `nokube
// secrets rotate-key` moves every Secret to a new key id while pods keep reading them (and a new one does);
// an agent restarted with etcd down starts its pods from its sealed local cache; an agent without the key
// leaves the pod waiting, naming the key id; describe shows sizes only.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { parse } from 'yaml';
import { getObject, objectKey } from '../agent/objects/store.ts';
import type { Pod } from '../agent/objects/types.ts';
import { secretVolumesDir } from '../agent/pods/secret-volumes.ts';
import { ensureKeyringFile, readKeyringFile } from '../agent/secrets/keyring.ts';
import {
  createTestCluster,
  eventually,
  runCli,
  startAgentsReady,
  type TestCluster,
} from './harness/cluster.ts';
import { type Docker, ensureBusyboxImage, execIn, requireDocker } from './harness/docker.ts';

const PASSWORD = `pw-${randomUUID()}`;
const TOKEN = `tok-${randomUUID()}`;
const LEGACY = `legacy-${randomUUID()}`;
const b64 = (s: string) => Buffer.from(s).toString('base64');

describe('secrets at rest', { timeout: 600_000 }, () => {
  let c: TestCluster;
  let docker: Docker;
  let image: string;

  const cli = async (args: string[], input?: string) => {
    const r = await runCli(args, c.env, input);
    assert.equal(r.code, 0, `nokube ${args.join(' ')}: ${r.stderr}`);
    return r.stdout;
  };
  const reader = (name: string, node: string, volume = true) => `apiVersion: v1
kind: Pod
metadata: {name: ${name}}
spec:
  nodeName: ${node}
  terminationGracePeriodSeconds: 1
  containers:
    - name: main
      image: ${image}
      command: [sh, -c, 'trap "exit 0" TERM; while true; do sleep 1; done']
      env:
        - name: PASSWORD
          valueFrom: {secretKeyRef: {name: db, key: password}}
${
  volume
    ? `      volumeMounts:
        - {name: sec, mountPath: /sec, readOnly: true}
  volumes:
    - name: sec
      secret: {secretName: db}
`
    : ''
}`;
  const podOf = (name: string) =>
    c.withEtcd(
      async (etcd) =>
        (await getObject(etcd, c.name, { kind: 'Pod', namespace: 'default', name }))?.object as Pod,
    );
  const running = (name: string) =>
    eventually(async () => (await podOf(name))?.status?.phase === 'Running', 60_000, `${name} Running`);
  const containerOf = async (pod: string) =>
    (
      await docker.listContainers({
        all: true,
        filters: { label: [`nokube.cluster=${c.name}`, `nokube.pod=${pod}`] },
      })
    )[0];
  /** What the container sees: its env's PASSWORD and the volume's files. */
  const seen = async (pod: string) => {
    const ct = await containerOf(pod);
    assert.ok(ct, `${pod}'s container`);
    return execIn(docker, ct.Id, ['sh', '-c', 'echo "$PASSWORD"; cat /sec/password; echo; cat /sec/token']);
  };
  const storedSecret = (name: string) =>
    c.withEtcd(async (etcd) => {
      const text = await etcd.get(objectKey(c.name, { kind: 'Secret', namespace: 'default', name })).string();
      return JSON.parse(text!) as { data?: unknown; sealed?: { kid: string } };
    });
  /** Every value a leak would show: plain and base64. */
  const needles = (values: string[]) => values.flatMap((v) => [v, b64(v)]);
  const etcdLeaks = (values: string[]) =>
    c.withEtcd(async (etcd) => {
      const all = await etcd.getAll().prefix('/nokube/').strings();
      return Object.entries(all).flatMap(([k, v]) =>
        needles(values)
          .filter((n) => v.includes(n) || k.includes(n))
          .map((n) => `${k} holds ${n}`),
      );
    });
  const filesUnder = async (dir: string): Promise<string[]> => {
    const out: string[] = [];
    for (const e of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
      const at = join(dir, e.name);
      if (e.isDirectory()) out.push(...(await filesUnder(at)));
      else if (e.isFile()) out.push(at);
    }
    return out;
  };
  const workspaceLeaks = async (values: string[]) => {
    const leaks: string[] = [];
    for (const f of await filesUnder(join(c.dir, 'ws'))) {
      const text = (await readFile(f).catch(() => Buffer.alloc(0))).toString('latin1');
      for (const n of needles(values)) if (text.includes(n)) leaks.push(`${f} holds ${n}`);
    }
    return leaks;
  };
  const cacheHas = (node: string, secret: string) =>
    readFile(join(c.dir, 'ws', node, 'agent', 'pods-cache.json'), 'utf8').then(
      (t) =>
        (JSON.parse(t) as { secrets: Array<{ metadata: { name: string } }> }).secrets.some(
          (s) => s.metadata.name === secret,
        ),
      () => false,
    );

  before(async () => {
    docker = await requireDocker();
    image = await ensureBusyboxImage();
    c = await createTestCluster({ nodes: 2, net: 91 });
    await startAgentsReady(c);
  });
  after(async () => {
    await c?.stop();
    await rm(join('/dev/shm/nokube', c?.name ?? 'none'), { recursive: true, force: true });
  });

  test('applied Secrets are sealed in etcd and in every workspace; pods read them through env and a volume', async () => {
    await cli(
      ['apply', '-f', '-'],
      `apiVersion: v1\nkind: Secret\nmetadata: {name: db}\nstringData: {password: ${PASSWORD}}\ndata: {token: ${b64(TOKEN)}}\n`,
    );
    await cli(['apply', '-f', '-'], `${reader('reader-1', 'n1')}---\n${reader('reader-2', 'n2')}`);
    await running('reader-1');
    await running('reader-2');
    for (const p of ['reader-1', 'reader-2'])
      assert.equal(await seen(p), `${PASSWORD}\n${PASSWORD}\n${TOKEN}`);

    const keyring = await readKeyringFile(c.secretsKeyFile);
    const stored = await storedSecret('db');
    assert.equal(stored.data, undefined);
    assert.equal(stored.sealed?.kid, keyring.active);
    // Both agents cached the Secret for autonomy (sealed): the workspaces are searched after that.
    await eventually(
      async () => (await cacheHas('n1', 'db')) && (await cacheHas('n2', 'db')),
      15_000,
      'caches',
    );
    assert.deepEqual(await etcdLeaks([PASSWORD, TOKEN]), []);
    assert.deepEqual(await workspaceLeaks([PASSWORD, TOKEN]), []);
    // Not vacuous: the search read the caches that hold the Secret (sealed), and finds a name in them.
    const files = await filesUnder(join(c.dir, 'ws'));
    for (const node of ['n1', 'n2'])
      assert.ok(files.includes(join(c.dir, 'ws', node, 'agent', 'pods-cache.json')));
    // (and the head's audit log, which names the objects a request wrote: names, never values)
    assert.deepEqual((await workspaceLeaks(['reader-1'])).sort(), [
      `${join(c.dir, 'ws', 'n1', 'agent', 'pods-cache.json')} holds reader-1`,
      `${join(c.dir, 'ws', 'n1', 'head', 'audit.jsonl')} holds reader-1`,
    ]);

    // The volume's files are on tmpfs, outside the workspace, and that is what the container mounts.
    const dir = secretVolumesDir(c.name, 'n1', 'default', 'pod-reader-1');
    assert.equal(await readFile(join(dir, 'sec', 'password'), 'utf8'), PASSWORD);
    const info = await docker.getContainer((await containerOf('reader-1'))!.Id).inspect();
    assert.equal(info.Mounts.find((m) => m.Destination === '/sec')?.Source, join(dir, 'sec'));

    // describe shows sizes; get without -o shows no value; -o yaml (asked for) does.
    const described = await cli(['describe', 'secret', 'db']);
    assert.match(described, new RegExp(`password:\\s+${PASSWORD.length} bytes`));
    assert.match(described, new RegExp(`token:\\s+${TOKEN.length} bytes`));
    const listed = await cli(['get', 'secrets']);
    for (const out of [described, listed])
      for (const n of needles([PASSWORD, TOKEN])) assert.ok(!out.includes(n), out);
    const yaml = parse(await cli(['get', 'secret', 'db', '-o', 'yaml'])) as { data: Record<string, string> };
    assert.deepEqual(yaml.data, { password: b64(PASSWORD), token: b64(TOKEN) });
    assert.equal(
      await cli(
        ['apply', '-f', '-'],
        `apiVersion: v1\nkind: Secret\nmetadata: {name: db}\nstringData: {password: ${PASSWORD}}\ndata: {token: ${b64(TOKEN)}}\n`,
      ),
      'secret/db unchanged\n',
    );
  });

  test('rotate-key moves every Secret (a plain one from before too) to a new key id; pods keep reading them', async () => {
    // A Secret stored before encryption existed: read as it is, sealed by the rotation.
    await c.withEtcd((etcd) =>
      etcd
        .put(objectKey(c.name, { kind: 'Secret', namespace: 'default', name: 'legacy' }))
        .value(
          JSON.stringify({
            apiVersion: 'v1',
            kind: 'Secret',
            metadata: {
              name: 'legacy',
              namespace: 'default',
              uid: randomUUID(),
              generation: 1,
              creationTimestamp: '2026-01-01T00:00:00Z',
            },
            type: 'Opaque',
            data: { v: b64(LEGACY) },
          }),
        )
        .exec(),
    );
    const legacyYaml = parse(await cli(['get', 'secret', 'legacy', '-o', 'yaml'])) as { data: { v: string } };
    assert.equal(legacyYaml.data.v, b64(LEGACY));

    const before = (await readKeyringFile(c.secretsKeyFile)).active;
    const out = await cli(['secrets', 'rotate-key']);
    const after = await readKeyringFile(c.secretsKeyFile);
    assert.notEqual(after.active, before);
    assert.ok(after.keys.has(before), 'the old key is kept until dropped');
    assert.match(out, new RegExp(`added key ${after.active} to ${c.secretsKeyFile}`));
    assert.match(out, new RegExp(`re-encrypted 2 Secrets under key ${after.active} \\(0 already were\\)`));
    for (const name of ['db', 'legacy']) {
      const s = await storedSecret(name);
      assert.equal(s.sealed?.kid, after.active, name);
      assert.equal(s.data, undefined, name);
    }
    assert.deepEqual(await etcdLeaks([PASSWORD, TOKEN, LEGACY]), []);
    // Run again: nothing left to move.
    assert.match(
      await cli(['secrets', 'rotate-key', '--reencrypt-only']),
      /re-encrypted 0 Secrets .*\(2 already were\)/,
    );

    // Running pods keep their env and files; a new pod reads the Secret under the new key.
    for (const p of ['reader-1', 'reader-2'])
      assert.equal(await seen(p), `${PASSWORD}\n${PASSWORD}\n${TOKEN}`);
    await cli(['apply', '-f', '-'], reader('reader-3', 'n2'));
    await running('reader-3');
    assert.equal(await seen('reader-3'), `${PASSWORD}\n${PASSWORD}\n${TOKEN}`);

    // The old key can be dropped once nothing uses it (and not the active one).
    assert.match(await cli(['secrets', 'drop-key', before]), new RegExp(`dropped key ${before}`));
    const refused = await runCli(['secrets', 'drop-key', after.active], c.env);
    assert.notEqual(refused.code, 0);
    assert.match(refused.stderr, /still encrypted under key/);
    await eventually(
      async () => (await workspaceLeaks([PASSWORD, TOKEN, LEGACY])).length === 0,
      5_000,
      'no leak',
    );
  });

  test('an agent restarted while etcd is down starts its pods from its sealed local cache', async () => {
    await eventually(() => cacheHas('n2', 'db'), 10_000, 'db in n2’s cache');
    await c.agents.get('n2')!.kill('SIGKILL');
    // As after a reboot: the container and the tmpfs are gone.
    const ct = await containerOf('reader-2');
    await docker.getContainer(ct!.Id).remove({ force: true });
    await rm(secretVolumesDir(c.name, 'n2', 'default', 'pod-reader-2'), { recursive: true, force: true });
    await c.etcd.pause();
    try {
      await c.startAgent('n2');
      await eventually(
        async () => (await containerOf('reader-2'))?.State === 'running',
        60_000,
        'reader-2 from the cache',
      );
      assert.equal(await seen('reader-2'), `${PASSWORD}\n${PASSWORD}\n${TOKEN}`);
    } finally {
      await c.etcd.resume();
    }
    assert.deepEqual(await workspaceLeaks([PASSWORD, TOKEN, LEGACY]), []);
  });

  test('an agent without the key leaves a pod waiting, naming the key id; never a value', async () => {
    const kid = (await readKeyringFile(c.secretsKeyFile)).active;
    await c.agents.get('n2')!.kill('SIGTERM');
    const other = join(c.dir, 'other-keyring.json');
    await ensureKeyringFile(other);
    // The last --secrets-key wins: n2 now holds an unrelated keyring.
    await c.startAgent('n2', ['--secrets-key', other]);
    // Env only: a secret volume it could not write would wait in ContainerCreating (FailedMount) first.
    await eventually(
      async () => (await runCli(['apply', '-f', '-'], c.env, reader('reader-4', 'n2', false))).code === 0,
      30_000,
      'reader-4 applied (the head back on etcd)',
    );
    const waiting = await eventually(
      async () => (await podOf('reader-4'))?.status?.containerStatuses?.[0]?.state.waiting,
      60_000,
      'reader-4 waiting',
    );
    assert.equal(waiting.reason, 'CreateContainerConfigError');
    assert.match(waiting.message ?? '', new RegExp(`secret "db" cannot be read on this node: .*"${kid}"`));
    assert.deepEqual(await etcdLeaks([PASSWORD, TOKEN, LEGACY]), []);
    assert.deepEqual(await workspaceLeaks([PASSWORD, TOKEN, LEGACY]), []);
  });
});
